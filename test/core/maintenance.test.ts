import { afterEach, describe, expect, it } from 'vitest';
import { tempDbFile, runOk as run, runRefused as fail } from '../helpers.js';
import { engines, type Engine } from '../support/engines.js';
import type { App } from '../../src/main.js';

// Scheduled maintenance through the command language, with an injected clock: scheduling and its
// refusals, the approval of every typed text, the automatic start and completion (also after a
// restart, and when the whole window passed while nothing ran), and the component roll-up.

const _scope = { platform: 'cli' as const };
const T0 = Date.parse('2026-12-07T12:00:00Z');

const status = async (app: App, id = 'M-1') => ((await run(app, 'maintenance list')).data.maintenances as any[]).find((m) => m.id === id)?.status;
const component = async (app: App, slug: string) => ((await run(app, 'component list')).data.components as any[]).find((c) => c.slug === slug);

/** Polls until `check` holds (the scheduler ticks every second on real time; the clock is the test's). */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const apps: App[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) {
    for (const s of a.background) await s.stop();
    await a.close();
  }
});

async function open(engine: Engine, env: Record<string, string>, clock: { t: number }): Promise<App> {
  const app = await engine.app({ SITREP_ADMINS: 'cli:admin', ...env }, () => clock.t);
  apps.push(app);
  return app;
}
async function setUp(app: App) {
  await run(app, 'component add API', 'cli:admin');
  await run(app, 'component add "Web App"', 'cli:admin');
  await run(app, 'approver add @carol', 'cli:admin');
}

describe.each(engines)('maintenance on $name', (engine) => {
  if (engine.skip) it.skip(engine.skip, () => {});
  else {
    it('schedules with an announcement that waits for approval, like a draft', async () => {
      const clock = { t: T0 };
      const app = await open(engine, {}, clock);
      await setUp(app);
      const r = await run(
        app,
        'maintenance schedule "Database upgrade" starts:2026-12-07T22:00 ends:2026-12-07T23:30 components:api We are upgrading our database.',
      );
      expect(r.data).toMatchObject({ id: 'M-1', status: 'scheduled', draft: 'D-1', state: 'draft' });
      expect(r.text).toMatch(/^M-1 scheduled for .* D-1 drafted; an approver other than you must `approve D-1` before it goes out\.$/);
      // Not an approver: refused; the approver's approval publishes it.
      expect(await fail(app, 'approve D-1', 'cli:alice')).toMatchObject({ code: 'FORBIDDEN' });
      expect((await run(app, 'approve D-1', 'cli:carol')).text).toBe('D-1 approved and published for M-1.');
      expect(await fail(app, 'approve D-1', 'cli:carol')).toMatchObject({ code: 'CONFLICT' });
      const list = (await run(app, 'maintenance list')).data;
      expect(list).toEqual({
        maintenances: [
          { id: 'M-1', title: 'Database upgrade', status: 'scheduled', starts_at: expect.any(String), ends_at: expect.any(String), components: ['api'] },
        ],
      });
    });

    it('refuses bad input in one line and writes nothing', async () => {
      const clock = { t: T0 };
      const app = await open(engine, {}, clock);
      await setUp(app);
      const before = await engine.rowCounts(app);
      const cases: Array<[string, RegExp]> = [
        ['maintenance schedule Upgrade starts:2026-12-07T23:00 ends:2026-12-07T22:00 Down.', /^ends: is before starts:/],
        ['maintenance schedule Upgrade starts:2026-12-06T23:00 ends:2026-12-07T23:30 Down.', /^starts: is in the past/],
        ['maintenance schedule Upgrade starts:2026-12-07T23:00 ends:2026-12-07T23:30 components:nope Down.', /^unknown component nope/],
        ['maintenance schedule Upgrade ends:2026-12-07T23:30 Down.', /needs starts:<time>/],
        ['maintenance schedule Upgrade starts:2026-12-07T23:00 Down.', /needs ends:<time>/],
        ['maintenance start M-9', /^there is no M-9/],
      ];
      for (const [cmd, msg] of cases) {
        const e = await fail(app, cmd);
        expect(e.message, cmd).toMatch(msg);
        expect(e.message).not.toContain('\n');
      }
      expect(await engine.rowCounts(app)).toEqual(before);
      await run(app, 'maintenance schedule Upgrade starts:2026-12-07T23:00 ends:2026-12-07T23:30 Down.');
      const mid = await engine.rowCounts(app);
      expect((await fail(app, 'maintenance complete M-1')).message).toMatch(
        /^M-1 has not started yet; it cannot complete from there \(next: `maintenance start M-1`/,
      );
      expect((await fail(app, 'maintenance update M-1 status:verifying Checking.')).message).toMatch(/^M-1 has not started yet/);
      await run(app, 'maintenance cancel M-1');
      expect((await fail(app, 'maintenance start M-1')).message).toMatch(/^M-1 was cancelled/);
      expect((await engine.rowCounts(app)).customer_updates).toBe(mid.customer_updates);
    });

    it('starts and completes by itself, its components under maintenance meanwhile, also across a restart', async () => {
      const file = tempDbFile();
      const clock = { t: T0 };
      let app = await open(engine, { SITREP_DB: file }, clock);
      await setUp(app);
      await run(app, 'maintenance schedule "DB upgrade" starts:2026-12-07T22:00 ends:2026-12-07T23:30 components:api Upgrading.');
      await run(app, 'approve D-1', 'cli:carol');
      for (const s of app.background) s.start();
      clock.t = Date.parse('2026-12-07T22:00:30Z');
      await until(async () => (await status(app)) === 'in_progress', 'the automatic start');
      expect(await component(app, 'api')).toMatchObject({ status: 'under_maintenance' });
      // An outage outranks maintenance, and maintenance stays once the outage is over.
      await run(app, 'declare "API down" components:api=major');
      expect(await component(app, 'api')).toMatchObject({ status: 'major_outage' });
      await run(app, 'resolve INC-1');
      expect(await component(app, 'api')).toMatchObject({ status: 'under_maintenance' });

      // Down over the scheduled end: the next server completes it, dated at its end.
      for (const s of app.background) await s.stop();
      await app.close();
      apps.splice(apps.indexOf(app), 1);
      clock.t = Date.parse('2026-12-08T02:00:00Z');
      app = await open(engine, { SITREP_DB: file }, clock);
      for (const s of app.background) s.start();
      await until(async () => (await status(app)) === 'completed', 'the automatic completion after a restart');
      expect(await component(app, 'api')).toMatchObject({ status: 'operational' });
      const texts = (await engine.rows(
        app,
        "select maintenance_status as s, body, display_at as at from customer_updates where maintenance_id = 1 and state = 'published' order by id",
      )) as any[];
      expect(texts.map((t) => t.s)).toEqual(['scheduled', 'in_progress', 'completed']);
      expect(texts[2].at).toBe(Date.parse('2026-12-07T23:30:00Z'));
      // Each change happened once, however many ticks saw it.
      const changes = (await engine.rows(app, "select count(*) as n from maintenance_events where kind = 'status_changed'"))[0] as any;
      expect(changes.n).toBe(2);
    });

    it('announced late, tells customers what they missed; never announced, tells them nothing', async () => {
      const clock = { t: T0 };
      const app = await open(engine, {}, clock);
      await setUp(app);
      await run(app, 'maintenance schedule "Quiet work" starts:2026-12-07T13:00 ends:2026-12-07T14:00 Quiet.');
      await run(app, 'maintenance schedule "Late news" starts:2026-12-07T13:00 ends:2026-12-07T18:00 Late.');
      for (const s of app.background) s.start();
      clock.t = Date.parse('2026-12-07T15:00:00Z');
      await until(async () => (await status(app, 'M-1')) === 'completed' && (await status(app, 'M-2')) === 'in_progress', 'both to move');
      const published = () =>
        engine.rows(app, "select maintenance_id as m, maintenance_status as s from customer_updates where state = 'published' order by id");
      expect(await published()).toEqual([]);
      await run(app, 'approve D-2', 'cli:carol');
      expect(await published()).toEqual([
        { m: 2, s: 'scheduled' },
        { m: 2, s: 'in_progress' },
      ]);
    });

    it('publishes a typed update only once approved, and moves to verifying with it', async () => {
      const clock = { t: T0 };
      const app = await open(engine, {}, clock);
      await setUp(app);
      await run(app, 'maintenance schedule Upgrade starts:2026-12-07T12:30 ends:2026-12-07T16:00 components:web-app Soon.');
      await run(app, 'approve D-1', 'cli:carol');
      await run(app, 'maintenance start M-1', 'cli:carol');
      expect(await status(app)).toBe('in_progress');
      const u = await run(app, 'maintenance update M-1 status:verifying Checking the results.');
      expect(u.data).toMatchObject({ id: 'D-3', maintenance: 'M-1', state: 'draft', status: 'verifying' });
      expect(await status(app)).toBe('in_progress');
      await run(app, 'approve D-3', 'cli:carol');
      expect(await status(app)).toBe('verifying');
      await run(app, 'maintenance complete M-1', 'cli:carol');
      expect(await status(app)).toBe('completed');
      expect(await component(app, 'web-app')).toMatchObject({ status: 'operational', public_status: 'operational' });
    });

    it('nudges the approvers once about a maintenance text left waiting', async () => {
      const clock = { t: T0 };
      const app = await open(engine, {}, clock);
      await setUp(app);
      await run(app, 'maintenance schedule Upgrade starts:2026-12-07T23:00 ends:2026-12-07T23:30 Down for a bit.');
      const { nudgeStaleDrafts } = await import('../../src/commands/nudge.js');
      const ctx = app.contextFor('system:sitrep', { platform: 'cli' });
      clock.t += 11 * 60_000;
      expect(await nudgeStaleDrafts(ctx, 10 * 60_000)).toBe(1);
      expect(await nudgeStaleDrafts(ctx, 10 * 60_000)).toBe(0);
      const nudges = (await engine.rows(app, "select text from maintenance_events where kind = 'draft_nudged'")) as any[];
      expect(nudges).toEqual([{ text: expect.stringMatching(/^D-1 has waited 11 min for approval: @carol — `approve D-1`/) }]);
    });

    it('lets only an approver start, complete or cancel by hand once customers would be told', async () => {
      const clock = { t: T0 };
      const app = await open(engine, {}, clock);
      await setUp(app);
      await run(app, 'maintenance schedule Quiet starts:2026-12-07T23:00 ends:2026-12-07T23:30 Soon.');
      await run(app, 'maintenance schedule Loud starts:2026-12-07T23:00 ends:2026-12-07T23:30 Soon.');
      await run(app, 'approve D-2', 'cli:carol');
      // Not announced: nothing reaches customers, so any responder may move it.
      await run(app, 'maintenance cancel M-1', 'cli:bob');
      const before = await engine.rowCounts(app);
      const e = await fail(app, 'maintenance cancel M-2', 'cli:bob');
      expect(e).toMatchObject({ code: 'FORBIDDEN' });
      expect(e.message).toBe(
        'M-2 is announced, so this tells customers, which only approvers may do; draft it instead: `maintenance update M-2 status:cancelled <text>`',
      );
      expect(await engine.rowCounts(app)).toEqual(before);
      // The draft goes through approval; the approver may cancel directly.
      await run(app, 'maintenance update M-2 status:cancelled Postponed to next week.', 'cli:bob');
      expect(await status(app, 'M-2')).toBe('scheduled');
      await run(app, 'approve D-3', 'cli:carol');
      expect(await status(app, 'M-2')).toBe('cancelled');
    });
  }
});
