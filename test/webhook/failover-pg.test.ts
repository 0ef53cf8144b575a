import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createApp } from '../../src/main.js';
import { createLogger } from '../../src/logger.js';
import { startFakeConnector, type FakeConnector } from '../fakes/teams-connector.js';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from '../fakes/webhook-receiver.js';
import { activityBuilders } from '../teams/harness.js';
import { ensureBuilt, freePort, serveProcess } from '../slack/process.js';
import { createTestDatabase, postgresUnavailable, sayPostgresSkipped, type TestPostgres } from '../support/postgres.js';

// The failover test (issue 14 item 7): two replicas (the built server, `node dist/src/bin.js
// serve`, as child processes) on one PostgreSQL database, and one update published to 1,000
// webhook subscribers: 500 on receivers that answer at once, 500 on receivers that hold every
// request. A replica sends at most its per-upstream share (64) to one host, and each holding
// receiver has 100 subscribers, so both replicas hold some of them when all 500 are held. One
// replica is then SIGKILLed. The survivor finishes what it holds, and re-claims the dead one's rows
// once their leases run out (2 × SITREP_DELIVERY_TIMEOUT_SECONDS + 1 s: 13 s here), re-sending each under
// the webhook-id the receiver saw before the kill. Every subscriber has the update; the only
// repeats are those in-flight rows, with their webhook-id; nothing delivered before was re-sent.
// Before the fan-out, a change made through one replica (a Teams command to its /api/messages, in
// local mode from loopback) is on the other replica's status page within 2 s.

const HOLDING = 5;
const ANSWERING = 5;
const PER_RECEIVER = 100;
const SUBSCRIBERS = (HOLDING + ANSWERING) * PER_RECEIVER;

const skip = postgresUnavailable();
if (skip) sayPostgresSkipped();

beforeAll(() => {
  if (!skip) ensureBuilt();
}, 180_000);

const children: ChildProcess[] = [];
const receivers: WebhookReceiver[] = [];
let database: TestPostgres | null = null;
let connector: FakeConnector | null = null;
afterEach(async () => {
  await connector?.close();
  connector = null;
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.length = 0;
  await Promise.all(receivers.splice(0).map((r) => r.close()));
  await database?.drop().catch(() => undefined);
  database = null;
});

async function serve(url: string): Promise<{ child: ChildProcess; url: string }> {
  const s = await serveProcess(await freePort(), { SITREP_DATABASE_URL: url, SITREP_APPROVAL: 'off', SITREP_DELIVERY_TIMEOUT_SECONDS: '6' });
  children.push(s.child);
  return { child: s.child, url: s.url };
}

const kill9 = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });

async function waitFor(what: string, pred: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(skip)('failover on PostgreSQL', () => {
  it('SIGKILL of one of two replicas mid-fan-out to 1,000 subscribers: every subscriber gets the update, the only repeats are in-flight rows under the same webhook-id', async () => {
    database = await createTestDatabase();
    const url = database.url;
    const holding: WebhookReceiver[] = [];
    const answering: WebhookReceiver[] = [];
    for (let i = 0; i < HOLDING; i++) holding.push(await startWebhookReceiver('hang'));
    for (let i = 0; i < ANSWERING; i++) answering.push(await startWebhookReceiver({ status: 200 }));
    receivers.push(...holding, ...answering);

    // An operator's app on the database (its worker never started): subscribers and the update.
    const ops = createApp(loadConfig({ SITREP_DATABASE_URL: url, LOG_LEVEL: 'silent', USER: 'ops', SITREP_APPROVAL: 'off' }), { log: createLogger('silent') });
    const run = async (text: string) => {
      const r = await ops.run(text, 'cli:ops', { platform: 'cli' });
      if (!r.ok) throw new Error(`${text}: ${r.error.message}`);
    };
    await run('component add Web App');
    // The answering ones first: they are claimed first, and delivered before the kill.
    for (const [i, r] of [...answering, ...holding].entries())
      for (let k = 0; k < PER_RECEIVER; k++) await run(`subscribe webhook:http://127.0.0.1:${r.port}/hooks/${i}-${k}`);
    await run('declare "Database down" components:web-app=major');

    const sql = new pg.Client({ connectionString: url });
    await sql.connect();
    const count = async (state: string) =>
      Number((await sql.query<{ n: string }>("select count(*) as n from outbox where state = $1 and target like 'webhook:%'", [state])).rows[0]!.n);
    const held = () => holding.reduce((n, r) => n + r.open(), 0);
    const all = () => [...holding, ...answering].flatMap((r) => r.requests);
    try {
      const a = await serve(url);
      const b = await serve(url);
      // A change through replica A, read on replica B (the one that survives).
      connector = await startFakeConnector();
      const teams = activityBuilders(connector.serviceUrl);
      const sent = await fetch(`${a.url}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(teams.mention('component add Billing API')),
      });
      expect(sent.status).toBe(200);
      const components = async () =>
        ((await (await fetch(`${b.url}/api/v2/summary.json`)).json()) as { components: Array<{ name: string }> }).components.map((c) => c.name);
      await expect.poll(components, { timeout: 2_000, interval: 50 }).toContain('Billing API');
      await run('draft INC-1 "We are rerouting traffic away from the failing database."');
      // More held than one replica may hold (5 hosts × 64): both hold some.
      await waitFor(
        'more than 320 deliveries held in flight and the answered ones delivered',
        async () => held() > HOLDING * 64 && (await count('delivered')) === ANSWERING * PER_RECEIVER,
        60_000,
      );
      await kill9(a.child);

      for (const r of holding) {
        r.setDefault({ status: 200 });
        r.release({ status: 200 });
      }
      await waitFor('every row delivered', async () => (await count('delivered')) === SUBSCRIBERS, 60_000);
      await new Promise((r) => setTimeout(r, 300));

      // The webhook-id each subscriber's row has: the first request to it.
      const before = new Map<string, string>();
      for (const q of all()) if (!before.has(q.path)) before.set(q.path, q.id);
      const byPath = new Map<string, ReceivedWebhook[]>();
      for (const q of all()) byPath.set(q.path, [...(byPath.get(q.path) ?? []), q]);
      expect(byPath.size).toBe(SUBSCRIBERS);
      const repeated: string[] = [];
      for (const [path, qs] of byPath) {
        // One row per subscriber: every request to it carries that row's webhook-id.
        expect(new Set(qs.map((q) => q.id))).toEqual(new Set([before.get(path)]));
        expect(qs.some((q) => q.answeredAt !== undefined && typeof q.answer === 'object' && q.answer.status === 200)).toBe(true);
        if (qs.length > 1) repeated.push(path);
      }
      // The killed replica held some of them: those, and only those, went twice; nothing that had
      // been delivered went again.
      expect(repeated.length).toBeGreaterThan(0);
      const answeringPaths = new Set(answering.flatMap((r) => r.requests.map((q) => q.path)));
      expect(repeated.filter((p) => answeringPaths.has(p))).toEqual([]);
      // Those first ids are the rows' own: one row per subscriber, each seen under its delivery id.
      const ids = (await sql.query<{ id: string }>("select delivery_id as id from outbox where target like 'webhook:%'")).rows.map((r) => r.id);
      expect(new Set(before.values())).toEqual(new Set(ids));
      expect(await count('in_flight')).toBe(0);
      expect(await count('pending')).toBe(0);
    } finally {
      await sql.end();
      await ops.close();
    }
  }, 120_000);
});
