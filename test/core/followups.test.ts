import { describe, expect, it } from 'vitest';
import { runOk as run, runRefused as fail } from '../helpers.js';
import { engines } from '../support/engines.js';

// Follow-ups: add, edit, done and list (`--json` in CONTRACT.md's shape), each change recorded in
// the incident's timeline (and so its thread), bad input refused in one line writing nothing.

const _scope = { platform: 'cli' as const };
describe.each(engines)('follow-ups on $name', (engine) => {
  if (engine.skip) it.skip(engine.skip, () => {});
  else {
    it('adds, edits, finishes and lists them, each change in the timeline', async () => {
      const app = await engine.app();
      await run(app, 'declare "DB down"');
      await run(app, 'declare "Queue stuck"');
      await run(app, 'followup add INC-1 Alert on replica lag owner:@bob');
      await run(app, 'followup add INC-2 Add a dead-letter dashboard');
      expect((await run(app, 'followup edit F-1 Alert on replica lag over 30 s')).text).toBe('F-1 edited.');
      await run(app, 'followup edit F-2 owner:@carol');
      await run(app, 'followup done F-2');

      expect((await run(app, 'followup list')).data).toEqual({
        followups: [
          { id: 'F-1', incident: 'INC-1', text: 'Alert on replica lag over 30 s', owner: 'cli:bob', done: false },
          { id: 'F-2', incident: 'INC-2', text: 'Add a dead-letter dashboard', owner: 'cli:carol', done: true },
        ],
      });
      expect((await run(app, 'followup list INC-2')).data.followups).toHaveLength(1);
      expect((await run(app, 'followup list INC-1')).text).toBe('F-1   INC-1   open  Alert on replica lag over 30 s (owner @bob)');

      const kinds = ((await run(app, 'timeline INC-1')).data as any).events.map((e: any) => [e.kind, e.text]);
      expect(kinds).toContainEqual(['followup_edited', 'Follow-up F-1 edited (now: Alert on replica lag over 30 s; was: Alert on replica lag)']);
      const inc2 = ((await run(app, 'timeline INC-2')).data as any).events.map((e: any) => e.kind);
      expect(inc2).toEqual(['declared', 'followup_added', 'followup_edited', 'followup_done']);
    });

    it('refuses bad input in one line and writes nothing', async () => {
      const app = await engine.app();
      await run(app, 'declare "DB down"');
      await run(app, 'followup add Check the alerts');
      const before = await engine.rowCounts(app);
      for (const [cmd, msg] of [
        ['followup edit F-9 New words', /^there is no F-9$/],
        ['followup edit F-1', /^followup edit F-1 needs the new text or owner:@user/],
        ['followup edit F-1 Check the alerts', /^F-1 already says that; nothing changed$/],
        ['followup list INC-7', /INC-7/],
        ['followup list INC-1 extra words', /^unexpected "extra words"/],
        ['followup rename F-1 x', /^followup needs add, done, edit or list/],
      ] as const) {
        const e = await fail(app, cmd);
        expect(e.message, cmd).toMatch(msg);
        expect(e.message).not.toContain('\n');
      }
      expect(await engine.rowCounts(app)).toEqual(before);
    });
  }
});
