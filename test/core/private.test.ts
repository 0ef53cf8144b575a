import { describe, expect, it } from 'vitest';
import { recentOutboxRows } from '../../db/queries/outbox.js';
import { runOk as run, runRefused as fail } from '../helpers.js';
import { engines, type Engine } from '../support/engines.js';

// Private incidents in the command layer: need to know (the same not-found line as an id never
// used), customer-facing commands refused in one line with nothing written, and no outbox row to
// any public target.

const _scope = { platform: 'cli' as const };

/** An app with an admin, a webhook subscriber and an approver, and INC-1 (public) and INC-2 (private, declared by alice). */
async function withTwo(engine: Engine, env: Record<string, string> = {}) {
  const app = await engine.app({ SITREP_ADMINS: 'cli:root', ...env });
  await run(app, 'component add "Web App"', 'cli:root');
  await run(app, 'approver add @approver', 'cli:root');
  await run(app, 'subscribe webhook:http://127.0.0.1:9/hook', 'cli:root');
  await run(app, 'declare "Checkout errors" sev:2');
  const d = await run(app, 'declare "DB credentials leak" sev:1 components:web-app=major lead:@lena visibility:private');
  expect(d.data).toMatchObject({ id: 'INC-2', visibility: 'private' });
  return app;
}

describe.each(engines)('need to know on $name', (engine) => {
  if (engine.skip) it.skip(engine.skip, () => {});
  else {
    it('a non-member gets the not-found line of an id never used; declarer, lead, other role holders and admins see it', async () => {
      const app = await withTwo(engine);
      const never = await fail(app, 'show INC-99', 'cli:mallory');
      expect(never).toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/^INC-99 not found/) });
      for (const verb of ['show', 'timeline', 'postmortem', 'note', 'update', 'severity', 'resolve', 'reopen', 'components', 'draft', 'deliveries']) {
        const args = verb === 'severity' ? ' 2' : verb === 'components' ? ' web-app=ok' : ['note', 'update', 'draft'].includes(verb) ? ' some text' : '';
        const hidden = await fail(app, `${verb} INC-2${args}`, 'cli:mallory');
        const unknown = await fail(app, `${verb} INC-99${args}`, 'cli:mallory');
        expect({ verb, code: hidden.code, message: hidden.message }).toEqual({ verb, code: unknown.code, message: unknown.message.replace('INC-99', 'INC-2') });
      }
      expect(await fail(app, 'assign INC-2 comms @mallory', 'cli:mallory')).toMatchObject({
        message: (await fail(app, 'assign INC-99 comms @mallory', 'cli:mallory')).message.replace('INC-99', 'INC-2'),
      });

      const ids = async (actor: string) => ((await run(app, 'list all', actor)).data.incidents as Array<{ id: string }>).map((i) => i.id);
      expect(await ids('cli:mallory')).toEqual(['INC-1']);
      expect(await ids('cli:alice')).toEqual(['INC-2', 'INC-1']); // the declarer
      expect(await ids('cli:lena')).toEqual(['INC-2', 'INC-1']); // the lead
      expect(await ids('cli:root')).toEqual(['INC-2', 'INC-1']); // an admin
      expect((await run(app, 'stats', 'cli:mallory')).data).toMatchObject({ total: 1 });
      expect((await run(app, 'stats', 'cli:root')).data).toMatchObject({ total: 2 });
      expect((await run(app, 'show INC-2', 'cli:lena')).data).toMatchObject({ id: 'INC-2', title: 'DB credentials leak' });

      // A role given later lets its holder see it.
      await run(app, 'assign INC-2 scribe @sam');
      expect((await run(app, 'timeline INC-2', 'cli:sam')).data).toMatchObject({ id: 'INC-2' });

      // "The only open incident" never picks one the person may not see, nor names it.
      await run(app, 'resolve INC-1');
      expect((await fail(app, 'note hello', 'cli:mallory')).message).toBe('no incident is open; name one (`note INC-n …`) or `declare` a new one');
      expect((await run(app, 'note still rotating keys', 'cli:alice')).text).toContain('INC-2');
      expect((await run(app, 'show', 'cli:mallory')).data).toMatchObject({ id: 'INC-1' }); // the latest they may see
      const deliveries = (await run(app, 'deliveries', 'cli:mallory')).data.deliveries as Array<{ incident: string | null }>;
      expect(deliveries.some((d) => d.incident === 'INC-2')).toBe(false);
    });

    it('with SITREP_ADMINS empty, everyone manages but nobody else sees a private incident', async () => {
      const app = await engine.app();
      await run(app, 'declare "Leak" visibility:private');
      expect((await fail(app, 'show INC-1', 'cli:bob')).message).toMatch(/^INC-1 not found/);
      expect((await run(app, 'show INC-1', 'cli:alice')).data).toMatchObject({ id: 'INC-1' });
    });
  }
});

describe.each(engines)('nothing public on $name', (engine) => {
  if (engine.skip) it.skip(engine.skip, () => {});
  else {
    it('refuses customer-facing commands in one line and writes nothing', async () => {
      const app = await withTwo(engine, { SITREP_APPROVAL: 'off' });
      const before = await engine.rowCounts(app);
      for (const text of ['draft INC-2 We are looking into it', 'draft INC-2 template:investigating', 'resolve INC-2 All fixed now']) {
        const e = await fail(app, text, 'cli:alice');
        expect(e.code).toBe('CONFLICT');
        expect(e.message).toMatch(/^INC-2 is private: nothing about it reaches customers/);
        expect(e.message).not.toContain('\n');
      }
      expect(await engine.rowCounts(app)).toEqual(before);
      await run(app, 'resolve INC-2', 'cli:alice');
      const e = await fail(app, 'postmortem publish INC-2', 'cli:alice');
      expect(e.message).toMatch(/^INC-2 is private/);
    });

    it('writes no outbox row to Statuspage, webhooks or customer channels for it, while the public one gets them', async () => {
      const app = await withTwo(engine, { SITREP_APPROVAL: 'off', STATUSPAGE_API_KEY: 'k', STATUSPAGE_PAGE_ID: 'p' });
      await run(app, 'update INC-2 status:identified rotated the keys', 'cli:alice');
      await run(app, 'note INC-2 told legal', 'cli:alice');
      await run(app, 'resolve INC-2', 'cli:alice');
      await run(app, 'draft INC-1 Checkout is failing for some', 'cli:alice');
      const rows = await app.store.read((db) => recentOutboxRows(db, undefined, 100_000));
      expect(rows.filter((r) => r.incidentId === 1).map((r) => r.target)).toEqual(expect.arrayContaining(['statuspage', 'webhook:S-1']));
      expect(rows.filter((r) => r.incidentId === 2 && !r.target.startsWith('slack:thread:') && !r.target.startsWith('teams:thread:'))).toEqual([]);
      expect(JSON.stringify(rows.filter((r) => r.incidentId !== 2))).not.toContain('DB credentials leak');
    });

    it('cannot be made public: there is no visibility option anywhere but declare', async () => {
      const app = await withTwo(engine);
      for (const text of ['update INC-2 visibility:public hello', 'note INC-2 visibility:public', 'assign INC-2 lead @x visibility:public']) {
        const e = await fail(app, text, 'cli:alice');
        expect(e.code).toBe('INVALID');
      }
      expect((await fail(app, 'show INC-2', 'cli:bob')).code).toBe('NOT_FOUND');
    });
  }
});
