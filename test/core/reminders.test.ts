import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { sendReminders } from '../../src/commands/remind.js';
import type { App } from '../../src/main.js';
import { tempDbFile, runOk as run } from '../helpers.js';
import { engines, type Engine } from '../support/engines.js';

// Cadence and monitoring reminders with an injected clock: once per gap, a new gap after a
// published update, backfilled history counted, nothing twice across a restart, and the server's
// own background work sending them at start.

const scope = { platform: 'cli' as const };
const T0 = Date.parse('2026-12-07T12:00:00Z');
const MIN = 60_000;
const POLICY = { cadenceMinutes: { 1: 30, 2: 60 }, monitoringMs: 4 * 60 * MIN };

const reminders = async (app: App, id = 'INC-1') =>
  ((await run(app, `timeline ${id}`)).data as any).events.filter((e: any) => e.kind === 'reminder').map((e: any) => e.text as string);

const apps: App[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) {
    for (const s of a.background) await s.stop();
    await a.close();
  }
});
async function open(engine: Engine, clock: { t: number }, env: Record<string, string> = {}): Promise<App> {
  const app = await engine.app({ SITREP_APPROVAL: 'off', ...env }, () => clock.t);
  apps.push(app);
  return app;
}

describe.each(engines)('reminders on $name', (engine) => {
  if (engine.skip) it.skip(engine.skip, () => {});
  else {
    it('reminds once per gap naming the lead and comms, and again only after a new gap', async () => {
      const clock = { t: T0 };
      const app = await open(engine, clock);
      // Declared 50 minutes ago (backfilled): the sev1 cadence of 30 minutes has already run out.
      await run(app, 'declare "Checkout down" sev:1 at:11:10');
      await run(app, 'assign comms @carol');
      const ctx = app.contextFor('system:sitrep', scope);
      expect(await sendReminders(ctx, POLICY)).toBe(1);
      expect(await sendReminders(ctx, POLICY)).toBe(0);
      expect(await reminders(app)).toEqual([
        'INC-1 has had no customer update for 50m (its cadence: every 30m) — @alice (lead), @carol (comms): `draft INC-1 <text>`',
      ]);

      // A published update starts a new gap; 29 minutes later nothing, 30 minutes later one more.
      await run(app, 'draft INC-1 We are looking into failed checkouts.');
      clock.t += 29 * MIN;
      expect(await sendReminders(ctx, POLICY)).toBe(0);
      clock.t += MIN;
      expect(await sendReminders(ctx, POLICY)).toBe(1);
      expect(await sendReminders(ctx, POLICY)).toBe(0);
      expect(await reminders(app)).toHaveLength(2);
    });

    it('gives sev3 no cadence reminder, nudges a long monitoring once, and stops when resolved', async () => {
      const clock = { t: T0 };
      const app = await open(engine, clock);
      await run(app, 'declare "Slow search" sev:3');
      await run(app, 'update status:identified Index rebuild');
      await run(app, 'update status:monitoring Rebuilt');
      const ctx = app.contextFor('system:sitrep', scope);
      clock.t += 3 * 60 * MIN;
      expect(await sendReminders(ctx, POLICY)).toBe(0);
      clock.t += 60 * MIN;
      expect(await sendReminders(ctx, POLICY)).toBe(1);
      expect(await reminders(app)).toEqual([
        'INC-1 has been monitoring for 4h 0m (SITREP_MONITORING_NUDGE_HOURS: 4h 0m) — @alice (lead): `resolve INC-1` if the fix holds',
      ]);
      clock.t += 60 * MIN;
      expect(await sendReminders(ctx, POLICY)).toBe(0);
      await run(app, 'resolve');
      clock.t += 24 * 60 * MIN;
      expect(await sendReminders(ctx, POLICY)).toBe(0);
    });

    it('fires nothing twice across a restart, and the server sends due reminders at start', async () => {
      const file = tempDbFile();
      const clock = { t: T0 };
      let app = await open(engine, clock, { SITREP_DB: file });
      await run(app, 'declare "Payments down" sev:2');
      clock.t += 61 * MIN;
      // The server's background work (at start) sends it.
      for (const s of app.background) s.start();
      for (let i = 0; i < 100 && (await reminders(app)).length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await reminders(app)).toHaveLength(1);
      for (const s of app.background) await s.stop();
      await app.close();
      apps.splice(apps.indexOf(app), 1);

      app = await open(engine, clock, { SITREP_DB: file });
      expect(await sendReminders(app.contextFor('system:sitrep', scope), POLICY)).toBe(0);
      expect(await reminders(app)).toHaveLength(1);
    });

    it('stops start-up with one line naming the variable for a bad value', () => {
      expect(() => loadConfig({ SITREP_UPDATE_CADENCE: 'sev1=soon' })).toThrow(/^invalid configuration: SITREP_UPDATE_CADENCE must be minutes per severity/);
      expect(() => loadConfig({ SITREP_UPDATE_CADENCE: 'sev9=30' })).toThrow(/SITREP_UPDATE_CADENCE/);
      expect(() => loadConfig({ SITREP_MONITORING_NUDGE_HOURS: 'x' })).toThrow(/^invalid configuration: SITREP_MONITORING_NUDGE_HOURS must be a whole number/);
      expect(loadConfig({}).updateCadenceMinutes).toEqual({ 1: 30, 2: 60 });
      expect(loadConfig({ SITREP_UPDATE_CADENCE: 'sev1=15,sev2=45,sev3=120' }).updateCadenceMinutes).toEqual({ 1: 15, 2: 45, 3: 120 });
    });
  }
});
