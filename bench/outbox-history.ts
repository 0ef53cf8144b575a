import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './result.js';
import type { Target } from '../src/mirror/target.js';
import { has, reply as replyWithin, runDirectly, stop as stopWithin, runAndExit } from './ipc.js';

// Outbox history: the worker's per-delivery cost and a /metrics scrape must not grow with the
// delivered rows an outbox keeps (SITREP_OUTBOX_RETENTION_DAYS is 30 days of them). Two Sitrep
// servers run side by side, identical (the same 1,000 past incidents, the same 100 webhook
// subscriptions to one loopback receiver) except that one has 1,000,000 delivered outbox rows, in
// the very lanes it then delivers to, and the other none. Rounds alternate between them:
//   - webhooks: one published update to 100 subscribers, through the real path (draft → outlet →
//     worker → signed POST to the receiver), until the last row is recorded delivered;
//   - scheduling: 2,000 rows for the live incident, in 500 lanes, enqueued at once for an
//     in-process target that answers at once, so nothing but the enqueue and the worker's own
//     claiming, recording and lane lookups is measured;
//   - /metrics: sequential scrapes over one keep-alive connection, timed by this process.
// Per delivery, the server's CPU time is the figure (wall time is shown too: it includes timers
// and the receiver); the empty server is the baseline. Target: within 10% (ratio ≥ 0.91).
// Every party has its own process: the receiver, each server, and this orchestrator (the scrape
// client). Loopback only.
//
//   npm run bench   ·   node dist/bench/outbox-history.js

const HISTORY_ROWS = 1_000_000;
const INCIDENTS = 1_000;
const SUBSCRIBERS = 100;
const SCHEDULED_ROWS = 2_000;
const SCHEDULED_LANES = 500;
const ROUNDS = 12;
const SCRAPES_PER_ROUND = 100;
const TARGET = 1 / 1.1;
/** A round that takes longer than this is a failed measurement, not a hang. */
const ROUND_CAP_MS = 30_000;

const self = fileURLToPath(import.meta.url);
const DAY = 24 * 3_600_000;

// --- child: the receiver ------------------------------------------------------------------------

async function receiver(): Promise<void> {
  let requests = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests += 1;
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  process.send?.({ url: `http://127.0.0.1:${port}/hooks` });
  process.on('message', (m) => {
    if (m === 'count') process.send?.({ requests });
    if (m === 'stop') {
      server.closeAllConnections();
      process.exit(0);
    }
  });
}

// --- child: a Sitrep server -----------------------------------------------------------------------

interface RoundResult {
  ms: number;
  cpuMs: number;
  delivered: number;
  expected: number;
}

async function sitrep(withHistory: boolean, receiverUrl: string): Promise<void> {
  const [{ loadConfig }, { createApp, startServer }, { createLogger }, { enqueue }] = await Promise.all([
    import('../src/config.js'),
    import('../src/main.js'),
    import('../src/logger.js'),
    import('../src/mirror/enqueue.js'),
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'sitrep-outbox-history-'));
  const config = loadConfig({ SITREP_DB: join(dir, 'bench.db'), SITREP_APPROVAL: 'off', LOG_LEVEL: 'silent', USER: 'bench' });
  // An in-process target that accepts at once: the scheduling rounds measure the worker alone.
  // Each lane is its own upstream, so no per-upstream share holds rows back.
  const sink: Target = {
    handles: (t) => t.startsWith('bench:'),
    breakerKey: (t) => t,
    deliver: async () => ({ kind: 'delivered', remoteRef: 'ok' }),
  };
  const app = createApp(config, { log: createLogger('silent'), targets: () => [sink] });
  const run = async (text: string) => {
    const r = await app.run(text, 'cli:bench', { platform: 'cli' });
    if (!r.ok) throw new Error(`${text}: ${r.error.message}`);
    return r.reply;
  };
  const client = app.db.$client;

  // Set-up, not measured: the same for both servers.
  await run('component add Web App');
  for (let i = 1; i <= SUBSCRIBERS; i++) await run(`subscribe webhook:${receiverUrl}/${i}`);
  await run('declare "Database down" components:web-app=major');
  const now = Date.now();
  const pastIncident = client.prepare(
    `insert into incidents (title, status, severity, created_by, started_at, declared_at, resolved_at, recorded_at, public_status, published_at, updated_at)
     values (?, 'resolved', 2, 'cli:bench', ?, ?, ?, ?, 'resolved', ?, ?)`,
  );
  client.transaction(() => {
    for (let i = 0; i < INCIDENTS; i++) {
      const at = now - ((i % 28) + 1) * DAY;
      pastIncident.run(`Past incident ${i + 1}`, at, at, at + 3_600_000, at, at, at + 3_600_000);
    }
  })();

  let insertMs = 0;
  if (withHistory) {
    // A month of history (inside the retention period, so start-up pruning keeps it), spread over
    // every incident and over the very lanes the rounds deliver to, as raw prepared inserts in one
    // transaction.
    const t0 = performance.now();
    const insert = client.prepare(
      `insert into outbox (delivery_id, incident_id, target, kind, payload, customer_facing, state, attempts, next_attempt_at, remote_ref, approved_at, created_at, delivered_at)
       values (?, ?, ?, ?, ?, 1, 'delivered', 1, ?, ?, ?, ?, ?)`,
    );
    const payload = JSON.stringify({
      updateId: 'D-1',
      body: { incident: { id: 'INC-1', name: 'Past incident', incident_updates: [{ body: 'We are investigating.' }] } },
    });
    client.transaction(() => {
      for (let i = 0; i < HISTORY_ROWS; i++) {
        const incident = 1 + (i % (INCIDENTS + 1));
        const at = now - 29 * DAY + Math.floor((i / HISTORY_ROWS) * 28 * DAY);
        const [target, kind, ref] =
          i % 10 < 6
            ? [`webhook:S-${1 + (i % SUBSCRIBERS)}`, 'webhook.incident_update', 'HTTP 200']
            : i % 10 < 8
              ? [`bench:lane-${i % SCHEDULED_LANES}`, 'bench', 'ok']
              : i % 10 === 8
                ? ['statuspage', 'statuspage.update', `sp_${incident}`]
                : ['slack:C0CUSTOMERS', 'slack.customer_update', `17000000${incident}.000100`];
        insert.run(`msg_history_${String(i).padStart(7, '0')}`, incident, target, kind, payload, at, ref, at, at, at + 200);
      }
    })();
    insertMs = performance.now() - t0;
  }
  const server = await startServer(app, 0, '127.0.0.1');

  const unfinished = client.prepare<[], { n: number }>("select count(*) as n from outbox where state in ('pending', 'in_flight')");
  const deliveredSince = client.prepare<[number], { n: number }>("select count(*) as n from outbox where id > ? and state = 'delivered'");
  const lastId = client.prepare<[], { id: number }>('select coalesce(max(id), 0) as id from outbox');

  const measure = async (expected: number, start: () => Promise<unknown>): Promise<RoundResult> => {
    const before = lastId.get()!.id;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await start();
    return new Promise<RoundResult>((resolve) => {
      const done = () => {
        if (unfinished.get()!.n > 0 && performance.now() - t0 < ROUND_CAP_MS) return void setTimeout(done, 1);
        const ms = performance.now() - t0;
        const cpu = process.cpuUsage(cpu0);
        resolve({ ms, cpuMs: (cpu.user + cpu.system) / 1000, delivered: deliveredSince.get(before)!.n, expected });
      };
      setTimeout(done, 1);
    });
  };

  let round = 0;
  const handle = async (m: 'webhooks' | 'scheduling' | 'stop'): Promise<void> => {
    if (m === 'stop') {
      await server.close();
      await app.close();
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    }
    round += 1;
    if (m === 'webhooks') {
      process.send?.(await measure(SUBSCRIBERS, () => run(`draft INC-1 "Update ${round}: we are rerouting traffic away from the failing database cluster."`)));
      return;
    }
    const r = await measure(SCHEDULED_ROWS, async () => {
      await app.store.transaction(async (tx) => {
        for (let i = 0; i < SCHEDULED_ROWS; i++) {
          await enqueue(tx, app.now(), { incidentId: 1, target: `bench:lane-${i % SCHEDULED_LANES}`, kind: 'bench', payload: { round, i } });
        }
      });
      app.changes.notify();
    });
    process.send?.(r);
  };
  // The orchestrator sends one message at a time and waits for its answer. A failure ends this
  // process, which the orchestrator reports (the process exited).
  process.on('message', (m: 'webhooks' | 'scheduling' | 'stop') => {
    handle(m).catch((err: unknown) => {
      process.stderr.write(`outbox-history server failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
  });
  const rows = client.prepare<[], { n: number }>('select count(*) as n from outbox').get()!.n;
  process.send?.({ ready: true, url: server.url, insertMs, rows });
}

// --- the orchestrator ---------------------------------------------------------------------------------

function child(args: string[]): ChildProcess {
  return fork(self, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))] ?? NaN;
};

/** Sequential GETs of /metrics over one keep-alive connection; latency per scrape in ms. */
async function scrape(url: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(`${url}/metrics`);
    const text = await res.text();
    if (res.status !== 200 || !text.includes('sitrep_deliveries_pending')) throw new Error(`/metrics answered ${res.status}`);
    out.push(performance.now() - t0);
  }
  return out;
}

export async function run(): Promise<BenchResult> {
  const started = performance.now();
  const rx = child(['--receiver']);
  const children: ChildProcess[] = [rx];
  try {
    const { url: receiverUrl } = (await reply(rx, has('url'), 'receiver')) as { url: string };
    // One at a time: the history server's million inserts must not overlap the other's set-up.
    const empty = child(['--sitrep', 'empty', receiverUrl]);
    children.push(empty);
    const e = (await reply(empty, has('ready'), 'empty server')) as unknown as { url: string; rows: number };
    const history = child(['--sitrep', 'history', receiverUrl]);
    children.push(history);
    const h = (await reply(history, has('ready'), 'history server', 180_000)) as unknown as { url: string; insertMs: number; rows: number };

    type Side = { name: 'empty' | 'history'; proc: ChildProcess; url: string };
    const sides: Side[] = [
      { name: 'empty', proc: empty, url: e.url },
      { name: 'history', proc: history, url: h.url },
    ];
    const results = {
      empty: { webhooks: [] as RoundResult[], scheduling: [] as RoundResult[], scrapes: [] as number[] },
      history: { webhooks: [] as RoundResult[], scheduling: [] as RoundResult[], scrapes: [] as number[] },
    };
    // Warm-up for both (first claims, prepared statements, JIT), not counted.
    for (const s of sides) {
      s.proc.send('webhooks');
      await reply(s.proc, has('cpuMs'), `${s.name} warm-up`);
      s.proc.send('scheduling');
      await reply(s.proc, has('cpuMs'), `${s.name} warm-up`);
      await scrape(s.url, 20);
    }
    // Alternating, and alternating which goes first, so drift on a shared machine hits both alike.
    for (let r = 0; r < ROUNDS; r++) {
      for (const s of r % 2 ? [...sides].reverse() : sides) {
        s.proc.send('webhooks');
        results[s.name].webhooks.push((await reply(s.proc, has('cpuMs'), `${s.name} webhooks`)) as unknown as RoundResult);
        s.proc.send('scheduling');
        results[s.name].scheduling.push((await reply(s.proc, has('cpuMs'), `${s.name} scheduling`)) as unknown as RoundResult);
        results[s.name].scrapes.push(...(await scrape(s.url, SCRAPES_PER_ROUND)));
      }
    }
    rx.send('count');
    const { requests } = (await reply(rx, has('requests'), 'receiver count')) as { requests: number };

    const perDelivery = (rs: RoundResult[], key: 'cpuMs' | 'ms') => median(rs.map((x) => x[key] / x.expected));
    const complete = (['empty', 'history'] as const).every((k) => [...results[k].webhooks, ...results[k].scheduling].every((x) => x.delivered === x.expected));
    const fig = (label: string, value: number, baseline: number, unit: string, digits: number) => {
      const ratio = baseline / value; // lower is better: baseline / value, "higher is better" as every ratio
      return {
        label,
        value: Number(value.toFixed(digits)),
        unit,
        baseline: Number(baseline.toFixed(digits)),
        ratio: Number(ratio.toFixed(2)),
        target: 'within 10% of an empty database (ratio ≥ 0.91)',
        met: ratio >= TARGET && complete,
      };
    };
    const us = (ms: number) => ms * 1000;
    const figures = [
      fig(
        'webhook delivery, server CPU per delivery, 1M delivered rows vs none',
        us(perDelivery(results.history.webhooks, 'cpuMs')),
        us(perDelivery(results.empty.webhooks, 'cpuMs')),
        'µs',
        1,
      ),
      fig(
        'worker scheduling, server CPU per row, 1M delivered rows vs none',
        us(perDelivery(results.history.scheduling, 'cpuMs')),
        us(perDelivery(results.empty.scheduling, 'cpuMs')),
        'µs',
        1,
      ),
      fig('/metrics scrape latency (median), 1M delivered rows vs none', median(results.history.scrapes), median(results.empty.scrapes), 'ms', 3),
    ];
    const wall = (k: 'empty' | 'history', kind: 'webhooks' | 'scheduling') => `${us(perDelivery(results[k][kind], 'ms')).toFixed(0)} µs`;
    return {
      name: 'outbox-history',
      setup: `two Sitrep servers, each with ${INCIDENTS.toLocaleString('en')} past incidents and ${SUBSCRIBERS} webhook subscriptions to one loopback receiver, one with ${HISTORY_ROWS.toLocaleString('en')} delivered outbox rows in the lanes it delivers to, one with none; ${ROUNDS} alternating rounds of ${SUBSCRIBERS} webhook deliveries, ${SCHEDULED_ROWS.toLocaleString('en')} rows of the live incident in ${SCHEDULED_LANES} lanes to an instant in-process target and ${SCRAPES_PER_ROUND} /metrics scrapes`,
      figures,
      notes: [
        `history inserted in ${(h.insertMs / 1000).toFixed(1)} s (${h.rows.toLocaleString('en')} outbox rows in the history server at start, ${e.rows.toLocaleString('en')} in the empty one)`,
        `wall time per delivery (includes timers and the receiver): webhooks ${wall('empty', 'webhooks')} empty vs ${wall('history', 'webhooks')} with history; scheduling ${wall('empty', 'scheduling')} vs ${wall('history', 'scheduling')}`,
        `/metrics p99: ${pct(results.empty.scrapes, 99).toFixed(3)} ms empty vs ${pct(results.history.scrapes, 99).toFixed(3)} ms with history`,
        `receiver got ${requests.toLocaleString('en')} webhook requests; whole run ${((performance.now() - started) / 1000).toFixed(0)} s`,
        ...(complete ? [] : ['INCOMPLETE: a round did not deliver every row it enqueued']),
      ],
    };
  } finally {
    await Promise.all(children.map(stop));
  }
}

const reply = <T>(c: ChildProcess, pick: (m: unknown) => m is T, what: string, timeoutMs = ROUND_CAP_MS + 60_000) => replyWithin(c, pick, what, timeoutMs);
const stop = (c: ChildProcess) => stopWithin(c, 10_000);
const direct = runDirectly(self);
const role = process.argv[2];
if (direct && role === '--receiver') void receiver();
else if (direct && role === '--sitrep') void sitrep(process.argv[3] === 'history', process.argv[4]!);
else if (direct) runAndExit('outbox-history', run);
