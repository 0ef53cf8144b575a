import type { ChildProcess } from 'node:child_process';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../adapters/console/cli.js';
import { loadConfig } from '../../src/config.js';
import { createApp } from '../../src/main.js';
import { createLogger } from '../../src/logger.js';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from '../fakes/webhook-receiver.js';
import { tempDb } from '../mirror/helpers.js';
import { ensureBuilt, freePort, serveProcess } from '../slack/process.js';

// kill -9 with 1,000 webhook deliveries in flight. The real server runs as a child process
// (`node dist/src/bin.js serve`) on a SQLite file; one update is published (SITREP_APPROVAL=off)
// to 1,200 subscribers: 200 on receivers that answer at once, 1,000 on receivers that hold every
// request. Once those 1,000 are all held (in flight at once) and the 200 are recorded delivered,
// the server is SIGKILLed. The restarted server (its leases on the dead one's rows run out after
// 2 × SITREP_DELIVERY_TIMEOUT_SECONDS + 1 s) re-sends exactly the rows that were in flight, each
// under the webhook-id the receiver saw before the kill, and none that was delivered.

const SLOW_RECEIVERS = 20;
const SLOW_PER_RECEIVER = 50;
const FAST_RECEIVERS = 4;
const FAST_PER_RECEIVER = 50;
const IN_FLIGHT = SLOW_RECEIVERS * SLOW_PER_RECEIVER;
const SUBSCRIBERS = IN_FLIGHT + FAST_RECEIVERS * FAST_PER_RECEIVER;

beforeAll(() => ensureBuilt(), 180_000);

const children: ChildProcess[] = [];
const receivers: WebhookReceiver[] = [];
afterEach(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.length = 0;
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

async function serve(db: string): Promise<ChildProcess> {
  const s = await serveProcess(await freePort(), { SITREP_DB: db, SITREP_APPROVAL: 'off', SITREP_DELIVERY_TIMEOUT_SECONDS: '6' });
  children.push(s.child);
  return s.child;
}

const kill9 = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });

/** Commands on the database file, as an operator's CLI runs would (one app, never a worker). */
function operator(db: string) {
  const config = loadConfig({ SITREP_DB: db, LOG_LEVEL: 'silent', USER: 'ops', SITREP_APPROVAL: 'off' });
  const app = createApp(config, { log: createLogger('silent') });
  return {
    async run(text: string) {
      const r = await app.run(text, 'cli:ops', { platform: 'cli' });
      if (!r.ok) throw new Error(`${text}: ${r.error.message}`);
      return r.reply;
    },
    close: () => app.close(),
  };
}

async function cli(db: string, ...argv: string[]) {
  let out = '';
  const config = loadConfig({ SITREP_DB: db, LOG_LEVEL: 'silent', USER: 'ops', SITREP_APPROVAL: 'off' });
  const code = await runCli([...argv, '--json'], {
    config,
    createApp: (c) => createApp(c, { log: createLogger('silent') }),
    out: (s) => (out += s),
    err: (s) => (out += s),
  });
  if (code !== 0) throw new Error(`sitrep ${argv.join(' ')} exited ${code}: ${out}`);
  return JSON.parse(out);
}

async function waitFor(what: string, pred: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('crash safety at fan-out width', () => {
  it('kill -9 with 1,000 deliveries in flight: after a restart every subscriber has the update, and only the in-flight ones were sent twice, under the same webhook-id', async () => {
    const db = tempDb();
    const slow: WebhookReceiver[] = [];
    const fast: WebhookReceiver[] = [];
    for (let i = 0; i < SLOW_RECEIVERS; i++) slow.push(await startWebhookReceiver('hang'));
    for (let i = 0; i < FAST_RECEIVERS; i++) fast.push(await startWebhookReceiver({ status: 200 }));
    receivers.push(...slow, ...fast);

    // Each subscriber is its own path on a receiver; the fast ones are subscribed first, so they
    // are claimed first and recorded before the kill.
    const ops = operator(db);
    await ops.run('component add Web App');
    const urls: string[] = [];
    for (const [i, r] of fast.entries()) for (let k = 0; k < FAST_PER_RECEIVER; k++) urls.push(`http://127.0.0.1:${r.port}/hooks/fast-${i}-${k}`);
    for (const [i, r] of slow.entries()) for (let k = 0; k < SLOW_PER_RECEIVER; k++) urls.push(`http://127.0.0.1:${r.port}/hooks/slow-${i}-${k}`);
    for (const url of urls) await ops.run(`subscribe webhook:${url}`);
    await ops.run('declare "Database down" components:web-app=major');
    await ops.close();

    const file = new Database(db, { readonly: true });
    const count = (state: string) => (file.prepare('select count(*) as n from outbox where state = ?').get(state) as { n: number }).n;
    const held = () => slow.reduce((n, r) => n + r.open(), 0);
    const all = () => [...slow, ...fast].flatMap((r) => r.requests);

    try {
      const first = await serve(db);
      await cli(db, 'draft', 'INC-1', 'We are rerouting traffic away from the failing database.');
      await waitFor(
        '1,000 deliveries held in flight and the others recorded delivered',
        () => held() === IN_FLIGHT && count('delivered') === SUBSCRIBERS - IN_FLIGHT,
        60_000,
      );
      expect(count('in_flight')).toBe(IN_FLIGHT);
      const before = new Map(all().map((q) => [q.path, q.id]));
      expect(before.size).toBe(SUBSCRIBERS);
      await kill9(first);

      // Slow from now on, but answering.
      for (const r of slow) r.setDefault({ status: 200, delayMs: 50 });
      const second = await serve(db);
      await waitFor('every row delivered', () => count('delivered') === SUBSCRIBERS, 60_000);
      await kill9(second);

      const requests = all();
      const byPath = new Map<string, ReceivedWebhook[]>();
      for (const q of requests) byPath.set(q.path, [...(byPath.get(q.path) ?? []), q]);
      expect(byPath.size).toBe(SUBSCRIBERS);
      const repeated = [...byPath].filter(([, qs]) => qs.length > 1).map(([path]) => path);
      // The only repeats are the 1,000 that were in flight …
      expect(repeated.sort()).toEqual(
        urls
          .filter((u) => u.includes('/slow-'))
          .map((u) => new URL(u).pathname)
          .sort(),
      );
      for (const [path, qs] of byPath) {
        // … each sent twice (held, then answered), both times under the id it had before the kill.
        expect(qs.map((q) => q.id)).toEqual(Array(path.includes('/slow-') ? 2 : 1).fill(before.get(path)));
        // Every subscriber got the update, exactly once answered.
        expect(qs.filter((q) => q.answeredAt !== undefined && typeof q.answer === 'object' && q.answer.status === 200)).toHaveLength(1);
        expect(qs.at(-1)!.json.incident.incident_updates.map((u: { body: string }) => u.body)).toEqual([
          'We are rerouting traffic away from the failing database.',
        ]);
      }
      // And what the database says matches what the receivers saw.
      const ids = file.prepare("select delivery_id as id from outbox where state = 'delivered'").all() as Array<{ id: string }>;
      expect(new Set(ids.map((r) => r.id))).toEqual(new Set(before.values()));
    } finally {
      file.close();
    }
  }, 150_000);
});
