import { afterEach, describe, expect, it } from 'vitest';
import { runOk as run } from '../helpers.js';
import { engines } from '../support/engines.js';
import type { App } from '../../src/main.js';
import { nudgeStaleDrafts } from '../../src/commands/nudge.js';
import { sendReminders } from '../../src/commands/remind.js';
import { runDueMaintenance } from '../../src/commands/maintenance.js';
import { dueMaintenanceIds } from '../../db/queries/maintenances.js';
import { PgOutboxWorker } from '../../src/mirror/worker.pg.js';

// Sitrep's periodic work on two replicas of one PostgreSQL database: both run their scheduler
// (src/main.ts: nudges, cadence reminders, maintenance starts and completions), and on top both
// call the same work functions at the same moments, so the two see the same due items at once.
// Each due item is applied once: one timeline event, and the same outbox rows as one replica
// makes on a database of its own.

const postgres = engines.find((e) => e.name === 'PostgreSQL')!;
const T0 = Date.parse('2026-12-07T12:00:00Z');
const MIN = 60_000;
const scope = { platform: 'cli' as const };
const POLICY = { cadenceMinutes: { 1: 30, 2: 60 }, monitoringMs: 4 * 3_600_000 };

const apps: App[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) for (const s of a.background) await s.stop();
});

const ENV = {
  SITREP_ADMINS: 'cli:admin',
  // Slack's thread outlet turns every timeline event into outbox rows (nothing is delivered here:
  // the workers are stopped).
  SLACK_SIGNING_SECRET: 'test-signing-secret-0123456789abcdef',
  SLACK_BOT_TOKEN: 'xoxb-test-token',
  SLACK_API_URL: 'http://127.0.0.1:9/api/',
  SLACK_INCIDENTS_CHANNEL: 'C0INCIDENTS',
  SITREP_UPDATE_CADENCE: 'sev1=30,sev2=60',
  SITREP_NUDGE_MINUTES: '10',
};

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * The scenario on `replicas` apps sharing one database and one clock: a maintenance window, an
 * incident left without a customer update past its cadence, and a draft left unapproved. Returns
 * what was written.
 */
async function scenario(replicas: number, key: string) {
  const clock = { t: T0 };
  const all: App[] = [];
  for (let i = 0; i < replicas; i++) all.push(await postgres.app({ ...ENV, SITREP_DB: key }, () => clock.t));
  apps.push(...all);
  const a = all[0]!;
  await run(a, 'component add API', 'cli:admin');
  await run(a, 'approver add @carol', 'cli:admin');
  await run(a, 'subscribe webhook:http://127.0.0.1:9/hook', 'cli:admin');
  await run(a, 'maintenance schedule "DB upgrade" starts:2026-12-07T14:00 ends:2026-12-07T15:00 components:api Upgrading the database.');
  await run(a, 'approve D-1', 'cli:carol');
  await run(a, 'declare "Payments down" sev:2');
  await run(a, 'draft INC-1 We are looking into failed payments.');

  const status = async () => (await postgres.rows(a, 'select status from maintenances where id = 1'))[0].status as string;
  // Every replica's own scheduler, plus every replica calling the same work at the same moment.
  // What is written is compared, not what is sent: the outbox workers stay off, so no attempt to
  // deliver (whose timing differs from run to run) changes what an outlet decides to write.
  for (const app of all) for (const s of app.background) if (!(s instanceof PgOutboxWorker)) s.start();
  const together = async () => {
    const ctxs = all.map((app) => app.contextFor('system:sitrep', scope));
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        ctxs.flatMap((ctx, i) => [
          sendReminders(ctx, POLICY),
          nudgeStaleDrafts(ctx, 10 * MIN),
          all[i]!.store.read((db) => dueMaintenanceIds(db, clock.t)).then((ids) => (ids.length ? runDueMaintenance(ctx, ids) : 0)),
        ]),
      );
    }
  };

  clock.t = T0 + 61 * MIN; // the cadence gap and the draft's wait have run out
  await together();
  clock.t = Date.parse('2026-12-07T14:00:30Z'); // the maintenance is due to start
  await together();
  await until(async () => (await status()) === 'in_progress', 'the automatic start');
  clock.t = Date.parse('2026-12-07T15:00:30Z'); // … and to complete
  await together();
  await until(async () => (await status()) === 'completed', 'the automatic completion');
  // The schedulers may still be in a tick: stop them before counting.
  for (const app of all) for (const s of app.background) await s.stop();

  const count = async (text: string) => Number((await postgres.rows(a, text))[0].n);
  return {
    reminders: await count("select count(*) as n from timeline_events where kind = 'reminder'"),
    nudges: await count("select count(*) as n from timeline_events where kind = 'draft_nudged'"),
    maintenanceMoves: await count("select count(*) as n from maintenance_events where kind = 'status_changed'"),
    notices: await count("select count(*) as n from customer_updates where maintenance_id = 1 and state = 'published'"),
    outbox: (await postgres.rows(a, 'select target, kind, count(*) as n from outbox group by target, kind order by target, kind')).map(
      (r) => `${r.target} ${r.kind} ×${Number(r.n)}`,
    ),
  };
}

describe.skipIf(postgres.skip)('periodic work on two replicas of one PostgreSQL database', () => {
  it('each due nudge, reminder and maintenance change is applied once, with the outbox rows of one replica', async () => {
    const two = await scenario(2, 'two-replicas');
    expect(two.reminders).toBe(1);
    expect(two.nudges).toBe(1);
    expect(two.maintenanceMoves).toBe(2); // started, completed
    expect(two.notices).toBe(3); // the announcement, the start, the completion
    const one = await scenario(1, 'one-replica');
    expect(one).toMatchObject({ reminders: 1, nudges: 1, maintenanceMoves: 2, notices: 3 });
    expect(two.outbox).toEqual(one.outbox);
    expect(two.outbox.length).toBeGreaterThan(0);
  });
});
