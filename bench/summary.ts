import { createServer, type OutgoingHttpHeaders, type Server } from 'node:http';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { createApp, startServer, type App } from '../src/main.js';
import type { BenchResult } from './result.js';
import type { LoadResult, LoadSpec } from './summary-load.js';

// The refresh storm: GET /api/v2/summary.json from 100 keep-alive connections on a status page
// with 1,000 past incidents behind it, while updates are being drafted and approved, against a
// bare node:http server answering the same bytes, measured in the same run on the same machine
// (so the ratio means something on any hardware). Both servers and the commands run in this
// process, so the commands' CPU weighs on both alike; the load generator runs in its own child
// process (bench/summary-client.ts) and measures latency there. Loopback only; bounded in time and
// requests.
//
// The history is written through the real commands on a clock that walks through the past year
// (declare, two published updates, resolve with a published resolution, for each incident), with
// approval off so that it takes seconds; the measured server then runs with approval required,
// and every update published during the measurement is a draft followed by its approval.
//
//   npm run bench                 (builds, then runs every benchmark)
//   node dist/bench/summary.js

const CONNECTIONS = 100;
const PAST_INCIDENTS = 1_000;
const ROUNDS = 4;
const PHASE_MS = 2_000;
const WARMUP_MS = 1_000;
const MAX_REQUESTS_PER_PHASE = 400_000;
const COMMAND_EVERY_MS = 100;
/** Offered load for the latency measurement: steady, below saturation, as a busy status page sees. */
const PACED_RATE = 2_000;
const TARGET_RATIO = 0.8;
const TARGET_P99_MS = 20;
const DAY_MS = 86_400_000;

const self = fileURLToPath(import.meta.url);

const COMPONENTS = [
  'Web App',
  'Mobile Apps',
  'Desktop App',
  'Phone Call Routing',
  'SMS Routing',
  'Fax',
  'API',
  'Webhooks',
  'Notifications',
  'Video Calls',
  'Search',
  'Billing',
];
const SLUGS = COMPONENTS.map((n) => n.toLowerCase().replace(/\s+/g, '-'));

async function must(app: App, text: string, actor = 'cli:bench'): Promise<Record<string, unknown>> {
  const r = await app.run(text, actor, { platform: 'cli' });
  if (!r.ok) throw new Error(`${text}: ${r.error.message}`);
  return r.reply.data;
}

/** A year of history: PAST_INCIDENTS incidents, each with its updates published at the time. */
async function seedHistory(file: string): Promise<void> {
  const end = Date.now() - DAY_MS;
  const start = end - 365 * DAY_MS;
  const step = (365 * DAY_MS) / PAST_INCIDENTS;
  let t = start;
  const config = loadConfig({ SITREP_DB: file, SITREP_APPROVAL: 'off', SITREP_ORG_NAME: 'Bench', LOG_LEVEL: 'silent', USER: 'bench' });
  const app = createApp(config, { log: createLogger('silent'), now: () => t });
  try {
    const groups = ['Apps', 'Telephony', 'Platform'];
    for (const [i, n] of COMPONENTS.entries()) await must(app, `component add "${n}" group:${groups[i % 3]}`);
    for (let i = 0; i < PAST_INCIDENTS; i++) {
      t = start + i * step;
      const name = COMPONENTS[i % COMPONENTS.length]!;
      const a = SLUGS[i % SLUGS.length]!;
      const b = SLUGS[(i * 7 + 3) % SLUGS.length]!;
      const affected = a === b ? `${a}=major` : `${a}=major,${b}=degraded`;
      const id = String((await must(app, `declare "Past incident ${i + 1}: ${name} errors" sev:${1 + (i % 4)} components:${affected}`)).id);
      t += 12 * 60_000;
      await must(app, `draft ${id} status:identified We found the cause of the errors on ${name} and are rolling out a fix.`);
      t += 25 * 60_000;
      await must(app, `draft ${id} status:monitoring A fix has been rolled out and we are watching the error rates recover.`);
      t += 30 * 60_000;
      await must(app, `resolve ${id} This incident has been resolved; the error rates are back to normal.`);
    }
  } finally {
    await app.close();
  }
}

/** The load generator's own process (bench/summary-client.ts): one phase at a time. */
function startClient(): { child: ChildProcess; load(spec: LoadSpec): Promise<LoadResult> } {
  const child = fork(fileURLToPath(new URL('./summary-client.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return {
    child,
    load: (spec) =>
      new Promise((resolve, reject) => {
        // A phase is bounded by durationMs; a stuck client is a failed measurement, not a hang.
        const timer = setTimeout(() => reject(new Error('load client did not answer')), spec.durationMs + 30_000);
        const onExit = (code: number | null) => reject(new Error(`load client exited with ${code}`));
        child.once('exit', onExit);
        child.once('message', (m: LoadResult | { error: string }) => {
          clearTimeout(timer);
          child.off('exit', onExit);
          if ('error' in m) reject(new Error(m.error));
          else resolve(m);
        });
        child.send(spec);
      }),
  };
}

function bareServer(body: Buffer, headers: OutgoingHttpHeaders): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, headers).end(body);
  });
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve({ server, url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/api/v2/summary.json` });
    }),
  );
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
const round2 = (n: number) => Math.round(n * 100) / 100;

interface Totals {
  requests: number;
  errors: number;
  non200: number;
  ms: number;
  latencies: number[];
}
const empty = (): Totals => ({ requests: 0, errors: 0, non200: 0, ms: 0, latencies: [] });
function add(t: Totals, r: LoadResult): void {
  t.requests += r.requests;
  t.errors += r.errors;
  t.non200 += r.non200;
  t.ms += r.elapsedMs;
  for (const l of r.latencies) t.latencies.push(l);
}

export async function run(): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sitrep-bench-'));
  let client: ChildProcess | null = null;
  let publisher: NodeJS.Timeout | undefined;
  const closers: Array<() => Promise<void> | void> = [];
  try {
    const file = join(dir, 'bench.db');
    const seedStarted = performance.now();
    await seedHistory(file);
    const seedMs = performance.now() - seedStarted;
    const config = loadConfig({ SITREP_DB: file, SITREP_APPROVAL: 'required', SITREP_ORG_NAME: 'Bench', LOG_LEVEL: 'silent', USER: 'bench' });
    const app = createApp(config, { log: createLogger('silent') });
    closers.push(() => app.close());
    await must(app, 'approver add cli:approver');
    // The outage customers are refreshing for, with its first update out.
    const current = String((await must(app, 'declare "Notifications delayed" components:notifications=degraded,mobile-apps=degraded')).id);
    const firstDraft = String((await must(app, `draft ${current} status:investigating We are investigating delayed notifications.`)).id);
    await must(app, `approve ${firstDraft}`, 'cli:approver');

    const sitrep = await startServer(app, 0, '127.0.0.1');
    closers.unshift(() => sitrep.close());
    const sitrepUrl = `${sitrep.url}/api/v2/summary.json`;

    // The same bytes and headers, served with no routing, no snapshot and no ETag check.
    const first = await fetch(sitrepUrl);
    const body = Buffer.from(await first.arrayBuffer());
    const headers: OutgoingHttpHeaders = {};
    first.headers.forEach((v, k) => {
      if (!['date', 'connection', 'keep-alive', 'transfer-encoding'].includes(k)) headers[k] = v;
    });
    const bare = await bareServer(body, headers);
    closers.unshift(
      () =>
        new Promise<void>((r) => {
          bare.server.closeAllConnections();
          bare.server.close(() => r());
        }),
    );

    // Commands run during every phase, so both servers share the same background CPU load. They
    // cycle through short incidents (declare, then drafts approved one by one: investigating,
    // identified, the resolution), so that summary.json keeps a realistic size and every other
    // command publishes.
    let published = 0;
    let tick = 0;
    let rolling = '';
    let draft = '';
    const steps: Array<() => [string, string]> = [
      () => [`declare "Rolling incident ${tick}" components:api=partial,webhooks=degraded`, 'cli:bench'],
      () => [`draft ${rolling} status:investigating We are investigating elevated API error rates; some webhooks are delayed.`, 'cli:bench'],
      () => [`approve ${draft}`, 'cli:approver'],
      () => [`draft ${rolling} status:identified components:api=degraded,webhooks=degraded We found the cause and are rolling out a fix.`, 'cli:bench'],
      () => [`approve ${draft}`, 'cli:approver'],
      () => [`resolve ${rolling} The fix is out and error rates are back to normal.`, 'cli:bench'],
      () => [`approve ${draft}`, 'cli:approver'],
    ];
    const commandMs: number[] = [];
    let refused = 0;
    // One command at a time, as when they were synchronous: a tick that finds the last command
    // still running is skipped (each step needs the previous one's incident or draft). A command's
    // time is from its start to its result; here (one process, no outbox rows) the store's awaits
    // inside it are microtasks with no I/O, so that is still the time it holds the event loop.
    let inFlight: Promise<void> | null = null;
    let commandFailure: unknown = null;
    const command = async (): Promise<void> => {
      const step = tick % steps.length;
      const [text, actor] = steps[step]!();
      const t0 = performance.now();
      const r = await app.run(text, actor, { platform: 'cli' });
      commandMs.push(performance.now() - t0);
      tick++;
      if (!r.ok) {
        refused++;
        return;
      }
      if (step === 0) rolling = String(r.reply.data.id);
      else if (text.startsWith('approve ')) published++;
      else draft = String(r.reply.data.draft ?? r.reply.data.id);
    };
    publisher = setInterval(() => {
      if (inFlight !== null) return;
      inFlight = command()
        .catch((err: unknown) => {
          commandFailure ??= err;
        })
        .finally(() => {
          inFlight = null;
        });
    }, COMMAND_EVERY_MS);
    closers.unshift(async () => {
      clearInterval(publisher);
      await inFlight;
    });

    const c = startClient();
    client = c.child;
    const load = c.load;
    const spec = (url: string, durationMs: number, ratePerSec?: number): LoadSpec => ({
      url,
      connections: CONNECTIONS,
      durationMs,
      maxRequests: MAX_REQUESTS_PER_PHASE,
      ...(ratePerSec ? { ratePerSec } : {}),
    });
    await load(spec(bare.url, WARMUP_MS));
    await load(spec(sitrepUrl, WARMUP_MS));
    const totals = { bare: empty(), sitrep: empty() };
    const steady = { bare: empty(), sitrep: empty() };
    const publishedBefore = published;
    // Alternating rounds spread any drift in machine load evenly over both servers.
    for (let round = 0; round < ROUNDS; round++) {
      add(totals.bare, await load(spec(bare.url, PHASE_MS)));
      add(totals.sitrep, await load(spec(sitrepUrl, PHASE_MS)));
    }
    for (let round = 0; round < ROUNDS; round++) {
      add(steady.bare, await load(spec(bare.url, PHASE_MS, PACED_RATE)));
      add(steady.sitrep, await load(spec(sitrepUrl, PHASE_MS, PACED_RATE)));
    }
    clearInterval(publisher);
    await inFlight;
    // A command that threw (not one refused with an error result) voids the measurement.
    if (commandFailure) throw commandFailure;
    const publishedDuring = published - publishedBefore;
    const metrics = await (await fetch(`${sitrep.url}/metrics`)).text();
    const metric = (name: string) => Number(new RegExp(`${name} ([0-9.e+-]+)`).exec(metrics)?.[1] ?? NaN);
    const rebuilds = metric('sitrep_statuspage_snapshot_rebuilds_total');
    const rebuildAvgMs = (metric('sitrep_statuspage_snapshot_rebuild_seconds_total') * 1000) / rebuilds;
    const rebuildMaxMs = metric('sitrep_statuspage_snapshot_rebuild_seconds_max') * 1000;

    const rps = (t: Totals) => (t.requests / t.ms) * 1000;
    const line = (name: string, t: Totals) => {
      t.latencies.sort((a, b) => a - b);
      return `${name} ${rps(t).toFixed(0)} req/s, p50 ${pct(t.latencies, 50).toFixed(2)} ms, p99 ${pct(t.latencies, 99).toFixed(2)} ms (${t.requests} requests, ${t.errors} errors, ${t.non200} non-200)`;
    };
    const summary = [
      `saturation (each connection sends again as soon as it has an answer): ${line('bare node:http', totals.bare)}; ${line('Sitrep', totals.sitrep)}`,
      `steady ${PACED_RATE} req/s (latency from each request's scheduled time): ${line('bare node:http', steady.bare)}; ${line('Sitrep', steady.sitrep)}`,
    ];
    const errors = [totals.bare, totals.sitrep, steady.bare, steady.sitrep].reduce((n, t) => n + t.errors + t.non200, 0);
    // Errors mean the measurement is void; a missed target is reported, not fatal.
    if (errors > 0) throw new Error(`${errors} requests failed or were not answered 200: ${summary.join(' / ')}`);
    const ratio = rps(totals.sitrep) / rps(totals.bare);
    const p99 = pct(steady.sitrep.latencies, 99);
    const bareP99 = pct(steady.bare.latencies, 99);
    commandMs.sort((a, b) => a - b);
    return {
      name: 'status-page storm',
      setup: `GET /api/v2/summary.json (${body.length.toLocaleString('en-US')} bytes) on a page with ${PAST_INCIDENTS.toLocaleString('en-US')} past incidents, ${CONNECTIONS} keep-alive connections, ${ROUNDS} × ${PHASE_MS / 1000} s per server and mode, while updates are drafted and approved, vs bare node:http serving the same bytes`,
      figures: [
        {
          label: 'summary.json throughput at saturation',
          value: Math.round(rps(totals.sitrep)),
          unit: 'req/s',
          baseline: Math.round(rps(totals.bare)),
          ratio: round2(ratio),
          target: `≥ ${TARGET_RATIO}× bare node:http`,
          met: ratio >= TARGET_RATIO,
        },
        {
          label: `summary.json p99 latency at a steady ${PACED_RATE} req/s`,
          value: round2(p99),
          unit: 'ms',
          baseline: round2(bareP99),
          ratio: round2(bareP99 / p99),
          target: `< ${TARGET_P99_MS} ms`,
          met: p99 < TARGET_P99_MS,
        },
      ],
      notes: [
        ...summary,
        `${publishedDuring} updates approved and published during the measurement, a command every ${COMMAND_EVERY_MS} ms${refused ? ` (${refused} refused)` : ''}; the snapshot was rebuilt ${rebuilds} times in all, ${rebuildAvgMs.toFixed(1)} ms on average, ${rebuildMaxMs.toFixed(1)} ms at most`,
        `the commands held the shared event loop for p50 ${pct(commandMs, 50).toFixed(1)} ms, p99 ${pct(commandMs, 99).toFixed(1)} ms, max ${(commandMs.at(-1) ?? 0).toFixed(1)} ms`,
        `the history was written through the commands in ${(seedMs / 1000).toFixed(1)} s (${PAST_INCIDENTS.toLocaleString('en-US')} incidents, ${(PAST_INCIDENTS * 3).toLocaleString('en-US')} published updates)`,
      ],
    };
  } finally {
    clearInterval(publisher);
    client?.disconnect();
    for (const close of closers) await close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function isMain(): boolean {
  return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(self);
}

if (isMain()) {
  run().then(
    (r) => process.stdout.write(JSON.stringify(r, null, 2) + '\n'),
    (e: unknown) => {
      process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(1);
    },
  );
}
