import { describe, expect, it } from 'vitest';
import { engines } from '../support/engines.js';
import type { App } from '../../src/main.js';

const scope = { platform: 'cli' as const };

async function run(app: App, text: string, actor = 'cli:alice') {
  const r = await app.run(text, actor, scope);
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.reply;
}
async function fail(app: App, text: string, actor = 'cli:alice') {
  const r = await app.run(text, actor, scope);
  if (r.ok) throw new Error(`expected "${text}" to fail`);
  return r.error;
}
const componentStatus = async (app: App, slug: string) =>
  ((await run(app, 'component list')).data.components as Array<{ slug: string; status: string }>).find((c) => c.slug === slug)!.status;

async function catalogue(app: App) {
  for (const name of ['Web App', 'Mobile Apps', 'Phone Call Routing', 'SMS Routing']) await run(app, `component add "${name}"`);
}

describe.each(engines)('incident commands on $name', (engine) => {
  if (engine.skip) it.skip(engine.skip, () => {});
  else {
    it('declares, updates through the lifecycle and records the timeline', async () => {
      const app = await engine.app();
      await catalogue(app);
      const d = await run(app, 'declare "DB down" sev:2 components:web-app=major');
      expect(d.data).toMatchObject({ id: 'INC-1', status: 'investigating', severity: 2, lead: 'cli:alice' });
      await run(app, 'update status:identified Replica lag');
      await run(app, 'update INC-1 status:monitoring Failover done');
      await run(app, 'note INC-1 Watching graphs');
      await run(app, 'severity 1');
      await run(app, 'assign comms @bob');
      const show = (await run(app, 'show INC-1')).data as any;
      expect(show).toMatchObject({ id: 'INC-1', status: 'monitoring', severity: 1, lead: 'cli:alice' });
      expect(show.roles.comms).toBe('cli:bob');
      const tl = (await run(app, 'timeline')).data as any;
      expect(tl.events.map((e: any) => e.kind)).toEqual(['declared', 'status_changed', 'status_changed', 'note', 'severity_changed', 'role_assigned']);
      await run(app, 'resolve');
      expect((await run(app, 'show INC-1')).data).toMatchObject({ status: 'resolved', components: [{ slug: 'web-app', status: 'operational' }] });
      expect(await componentStatus(app, 'web-app')).toBe('operational');
    });

    it('refuses illegal steps with what to do instead', async () => {
      const app = await engine.app();
      await run(app, 'declare x');
      expect(await fail(app, 'update status:monitoring too soon')).toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('status:identified') });
      await run(app, 'resolve INC-1');
      expect(await fail(app, 'resolve INC-1')).toMatchObject({ code: 'CONFLICT', message: 'INC-1 is already resolved; use `reopen INC-1`' });
      expect(await fail(app, 'reopen')).toMatchObject({ code: 'INVALID' });
      await run(app, 'reopen INC-1');
      expect((await run(app, 'show INC-1')).data).toMatchObject({ status: 'investigating', resolved_at: null });
      expect((await fail(app, 'reopen INC-1')).message).toMatch(/still open/);
    });

    it('rolls components up across open incidents and restores only what one incident set', async () => {
      const app = await engine.app();
      await catalogue(app);
      await run(app, 'declare "A" components:sms-routing=partial,web-app=degraded');
      await run(app, 'declare "B" components:sms-routing=major');
      expect(await componentStatus(app, 'sms-routing')).toBe('major_outage');
      expect(await componentStatus(app, 'web-app')).toBe('degraded_performance');
      await run(app, 'resolve INC-2');
      expect(await componentStatus(app, 'sms-routing')).toBe('partial_outage');
      expect(await componentStatus(app, 'web-app')).toBe('degraded_performance');
      await run(app, 'components INC-1 web-app=ok');
      expect(await componentStatus(app, 'web-app')).toBe('operational');
      await run(app, 'resolve INC-1');
      expect(await componentStatus(app, 'sms-routing')).toBe('operational');
    });

    it('needs an incident id when several are open', async () => {
      const app = await engine.app();
      await run(app, 'declare A');
      await run(app, 'declare B');
      expect((await fail(app, 'note hello')).message).toBe('which incident? 2 are open (INC-1, INC-2); write `note INC-1 …`');
      expect(await fail(app, 'note INC-9 hello')).toMatchObject({ code: 'NOT_FOUND' });
    });

    it('gives approval power through the approvers list alone, never through a role', async () => {
      const app = await engine.app({ SITREP_APPROVAL: 'self', SITREP_ADMINS: 'cli:admin' });
      await run(app, 'declare "Outage" lead:@alice', 'cli:alice');
      const first = await run(app, 'draft We are investigating.', 'cli:bob');
      // Nobody can approve yet, and the reply says what to type so the draft is not left waiting on nobody.
      expect(first.text).toMatch(/no approvers are listed; an admin adds one with `approver add @user`/);
      expect(await fail(app, 'approve D-1', 'cli:alice')).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('approver add @user') });
      // A self-made lead, by `assign` or by `declare … lead:`, still may not approve or grant the power.
      await run(app, 'assign lead @mallory', 'cli:mallory');
      expect(await fail(app, 'approve D-1 mallory was here', 'cli:mallory')).toMatchObject({ code: 'FORBIDDEN' });
      expect(await fail(app, 'approver add @mallory', 'cli:mallory')).toMatchObject({ code: 'FORBIDDEN' });
      await run(app, 'declare "Second" lead:@mallory', 'cli:mallory');
      await run(app, 'draft INC-2 Mallory speaks.', 'cli:mallory');
      expect(await fail(app, 'approve D-2', 'cli:mallory')).toMatchObject({ code: 'FORBIDDEN' });
      expect((await run(app, 'show INC-1')).data).toMatchObject({ public_status: null });
      await run(app, 'approver add @lee', 'cli:admin');
      expect((await run(app, 'draft INC-1 Another.', 'cli:bob')).text).toMatch(/an approver must `approve D-3`/);
      await run(app, 'approve D-1', 'cli:lee');
      expect((await run(app, 'show INC-1')).data).toMatchObject({ public_status: 'investigating' });
    });

    it('keeps internal updates internal until a draft is approved by someone else', async () => {
      const app = await engine.app({ SITREP_APPROVAL: 'required' });
      await catalogue(app);
      await run(app, 'approver add @lee');
      await run(app, 'declare "Outage" components:sms-routing=major', 'cli:alice');
      const d = (await run(app, 'draft We are investigating SMS delays.', 'cli:bob')).data;
      expect(d).toMatchObject({ id: 'D-1', state: 'draft' });
      expect(await fail(app, 'approve D-1', 'cli:bob')).toMatchObject({ code: 'FORBIDDEN' }); // author, not approver
      expect(await fail(app, 'approve D-1', 'cli:eve')).toMatchObject({ code: 'FORBIDDEN' });
      expect((await run(app, 'show')).data).toMatchObject({ public_status: null });
      await run(app, 'approve D-1', 'cli:lee');
      expect((await run(app, 'show')).data).toMatchObject({
        public_status: 'investigating',
        last_customer_update: { id: 'D-1', body: 'We are investigating SMS delays.' },
      });
      expect((await fail(app, 'approve D-1', 'cli:lee')).message).toMatch(/immutable/);
      await run(app, 'draft status:identified Found it', 'cli:alice');
      await run(app, 'reject D-2 too vague', 'cli:lee');
      expect((await fail(app, 'approve D-2', 'cli:lee')).message).toMatch(/rejected/);
      const kinds = ((await run(app, 'timeline')).data as any).events.map((e: any) => e.kind);
      expect(kinds).toEqual(['declared', 'draft_created', 'published', 'draft_created', 'draft_rejected']);
    });

    it('lets only admins manage the catalogue and approvers when SITREP_ADMINS is set', async () => {
      const app = await engine.app({ SITREP_ADMINS: 'cli:root' });
      const before = await engine.rowCounts(app);
      expect(await fail(app, 'component add Web App', 'cli:alice')).toMatchObject({ code: 'FORBIDDEN' });
      expect(await fail(app, 'approver add @bob', 'cli:alice')).toMatchObject({ code: 'FORBIDDEN' });
      expect(await engine.rowCounts(app)).toEqual(before);
      await run(app, 'component add Web App group:Apps', 'cli:root');
      expect(await fail(app, 'component add "web app"', 'cli:root')).toMatchObject({ code: 'CONFLICT' });
    });

    const badInputs = [
      '',
      'declare',
      'declare ' + 'a'.repeat(10 * 1024),
      'declare bad\u0000title',
      'declare x components:nope=major',
      'declare x lead:nobody',
      'update INC-1 status:monitoring skip ahead',
      'update INC-77 hello',
      'components INC-1 ghost=major',
      'severity INC-1 7',
      'assign INC-1 chef @bob',
      'note INC-1 at:2999-01-01T00:00 from the future',
      'approve D-99',
      'reject D-1',
      'resolve INC-1 at:2000-01-01T00:00',
      'frobnicate',
    ];
    it.each(badInputs)('writes nothing for bad input %j', async (input) => {
      const app = await engine.app();
      await run(app, 'component add Web App');
      await run(app, 'declare Existing components:web-app=degraded');
      const before = await engine.rowCounts(app);
      const err = await fail(app, input);
      expect(err.message.length).toBeGreaterThan(5);
      expect(err.message).not.toContain('\n');
      expect(await engine.rowCounts(app)).toEqual(before);
    });
  }
});

describe.each(engines)('templates and nudges on $name', (engine) => {
  if (engine.skip) it.skip(engine.skip, () => {});
  else {
    it('drafts from built-in and team templates with placeholders filled', async () => {
      const app = await engine.app({ SITREP_ORG_NAME: 'Spruce Health' });
      await catalogue(app);
      await run(app, 'declare "SMS delays" components:sms-routing=major,web-app=degraded');
      const d = (await run(app, 'draft template:identified Twilio is also affected.', 'cli:bob')).data;
      expect(d.body).toBe('The issue affecting Web App and SMS Routing has been identified and a fix is being implemented.\n\nTwilio is also affected.');
      expect(((await run(app, 'show')).data as any).pending_drafts[0]).toMatchObject({ id: 'D-1', status: 'identified' });
      await run(app, 'template add calm status:monitoring {{org}}: {{title}} is calming down.');
      expect((await run(app, 'draft template:calm', 'cli:bob')).data.body).toBe('Spruce Health: SMS delays is calming down.');
      expect(await fail(app, 'draft template:idnetified')).toMatchObject({
        code: 'NOT_FOUND',
        message: expect.stringContaining('did you mean template:identified'),
      });
      expect((await fail(app, 'template add bad {{nope}}')).message).toMatch(/unknown placeholder/);
      expect((await fail(app, 'template remove resolved')).message).toMatch(/built-in/);
      await run(app, 'template remove calm');
      expect(((await run(app, 'template list')).data as any).templates.map((t: any) => t.name)).toEqual([
        'investigating',
        'identified',
        'monitoring',
        'resolved',
      ]);
    });

    it('nudges approvers once about a draft left waiting', async () => {
      let t = Date.parse('2026-01-01T10:00:00Z');
      const app = await engine.app({}, () => t);
      await run(app, 'approver add @lee');
      await run(app, 'declare "X"');
      await run(app, 'draft We are looking into it.', 'cli:bob');
      const { nudgeStaleDrafts } = await import('../../src/commands/nudge.js');
      const ctx = app.contextFor('system:sitrep', { platform: 'cli' });
      t += 9 * 60_000;
      expect(await nudgeStaleDrafts(ctx, 10 * 60_000)).toBe(0);
      t += 2 * 60_000;
      expect(await nudgeStaleDrafts(ctx, 10 * 60_000)).toBe(1);
      expect(await nudgeStaleDrafts(ctx, 10 * 60_000)).toBe(0);
      const last = ((await run(app, 'timeline')).data as any).events.at(-1);
      expect(last).toMatchObject({ kind: 'draft_nudged', text: expect.stringContaining('D-1 has waited 11 min for approval: @lee —') });
    });
  }
});
