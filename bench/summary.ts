import { createServer, type OutgoingHttpHeaders, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { createApp, startServer, type App } from '../src/main.js';
import type { LoadResult, LoadSpec } from './summary-load.js';

// The refresh storm: GET /api/v2/summary.json from 100 keep-alive connections while updates are
// being published, against a bare node:http server answering the same bytes, measured in the
// same run on the same machine (so the ratio means something on any hardware). Both servers and
// the publishing commands run in this process; the load generator runs in its own child process
// (bench/summary-client.ts) and measures latency there. Loopback only; bounded in time and
// requests. Run with `npm run bench`.

const CONNECTIONS = 100;
const ROUNDS = 5;
const PHASE_MS = 2_000;
const WARMUP_MS = 1_000;
const MAX_REQUESTS_PER_PHASE = 400_000;
const PUBLISH_EVERY_MS = 100;
/** Offered load for the latency measurement: steady, below saturation, as a busy status page sees. */
const PACED_RATE = 2_000;
const TARGET_RATIO = 0.8;
const TARGET_P99_MS = 20;

function seed(app: App): void {
  const run = (text: string, actor = 'cli:bench') => {
    const r = app.run(text, actor, { platform: 'cli' });
    if (!r.ok) throw new Error(`${text}: ${r.error.message}`);
  };
  const groups = ['Apps', 'Telephony', 'Platform'];
  const names = ['Web App', 'Mobile Apps', 'Desktop App', 'Phone Call Routing', 'SMS Routing', 'Fax', 'API', 'Webhooks', 'Notifications', 'Video Calls', 'Search', 'Billing'];
  names.forEach((n, i) => run(`component add "${n}" group:${groups[i % 3]}`));
  for (let i = 0; i < 6; i++) {
    run(`declare "Past incident ${i + 1}" components:api=partial,sms-routing=major`);
    for (let u = 0; u < 5; u++) run(`draft status:${['investigating', 'identified', 'monitoring', 'monitoring', 'monitoring'][u]} Update ${u + 1} of past incident ${i + 1}: the details customers were told at the time, with a sentence or two of text.`);
    run('resolve This incident has been resolved.');
  }
  run('declare "Notifications delayed" components:notifications=degraded,mobile-apps=degraded');
  run('draft status:investigating We are investigating delayed notifications.');
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

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'sitrep-bench-'));
  const config = loadConfig({ SITREP_DB: join(dir, 'bench.db'), SITREP_APPROVAL: 'off', SITREP_ORG_NAME: 'Bench', LOG_LEVEL: 'silent', USER: 'bench' });
  const app = createApp(config, { log: createLogger('silent') });
  seed(app);
  const sitrep = await startServer(app, 0, '127.0.0.1');
  const sitrepUrl = `${sitrep.url}/api/v2/summary.json`;

  // The same bytes and headers, served with no routing, no snapshot and no ETag check.
  const first = await fetch(sitrepUrl);
  const body = Buffer.from(await first.arrayBuffer());
  const headers: OutgoingHttpHeaders = {};
  first.headers.forEach((v, k) => {
    if (!['date', 'connection', 'keep-alive', 'transfer-encoding'].includes(k)) headers[k] = v;
  });
  const bare = await bareServer(body, headers);

  // Publishing runs during every phase, so both servers share the same background CPU load. It
  // cycles through short incidents (declare, two updates, resolve) so that summary.json keeps a
  // realistic size instead of growing one incident to hundreds of updates.
  let published = 0;
  let tick = 0;
  let rolling = '';
  const steps = [
    () => `declare "Rolling incident ${tick}" components:api=partial,webhooks=degraded`,
    () => `draft ${rolling} status:investigating We are investigating elevated API error rates; some webhooks are delayed.`,
    () => `draft ${rolling} status:identified components:api=degraded,webhooks=degraded We found the cause and are rolling out a fix.`,
    () => `resolve ${rolling} The fix is out and error rates are back to normal.`,
  ];
  const commandMs: number[] = [];
  const publisher = setInterval(() => {
    const step = tick % steps.length;
    const t0 = performance.now();
    const r = app.run(steps[step]!(), 'cli:bench', { platform: 'cli' });
    commandMs.push(performance.now() - t0);
    if (r.ok && step === 0) rolling = String(r.reply.data.id);
    if (r.ok && step > 0) published++;
    tick++;
  }, PUBLISH_EVERY_MS);

  const client = startClient();
  const load = client.load;
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
  client.child.disconnect();
  const publishedDuring = published - publishedBefore;
  const metrics = await (await fetch(`${sitrep.url}/metrics`)).text();
  const metric = (name: string) => Number(new RegExp(`${name} ([0-9.e+-]+)`).exec(metrics)?.[1] ?? NaN);
  const rebuilds = metric('sitrep_statuspage_snapshot_rebuilds_total');
  const rebuildAvgMs = (metric('sitrep_statuspage_snapshot_rebuild_seconds_total') * 1000) / rebuilds;
  const rebuildMaxMs = metric('sitrep_statuspage_snapshot_rebuild_seconds_max') * 1000;

  const rps = (t: Totals) => (t.requests / t.ms) * 1000;
  const line = (name: string, t: Totals) => {
    t.latencies.sort((a, b) => a - b);
    return `  ${name.padEnd(16)} ${rps(t).toFixed(0).padStart(7)} req/s   p50 ${pct(t.latencies, 50).toFixed(2)} ms   p99 ${pct(t.latencies, 99).toFixed(2)} ms   (${t.requests} requests, ${t.errors} errors, ${t.non200} non-200)`;
  };
  const ratio = rps(totals.sitrep) / rps(totals.bare);
  const out = [
    `GET /api/v2/summary.json (${body.length} bytes), ${CONNECTIONS} keep-alive connections, ${ROUNDS} × ${PHASE_MS / 1000} s per server and mode, loopback,`,
    `while running a command every ${PUBLISH_EVERY_MS} ms (${publishedDuring} updates published during the measurement; snapshot rebuilt ${rebuilds} times in all)`,
    'throughput (each connection sends again as soon as it has an answer):',
    line('bare node:http', totals.bare),
    line('sitrep', totals.sitrep),
    `latency at a steady ${PACED_RATE} req/s (counted from each request's scheduled time):`,
    line('bare node:http', steady.bare),
    line('sitrep', steady.sitrep),
  ];
  const p99 = pct(steady.sitrep.latencies, 99);
  commandMs.sort((a, b) => a - b);
  out.push(`snapshot rebuilds took ${rebuildAvgMs.toFixed(1)} ms on average, ${rebuildMaxMs.toFixed(1)} ms at most`);
  out.push(`the commands themselves held the shared event loop for p50 ${pct(commandMs, 50).toFixed(1)} ms, p99 ${pct(commandMs, 99).toFixed(1)} ms, max ${(commandMs.at(-1) ?? 0).toFixed(1)} ms`);
  out.push(`  ratio ${ratio.toFixed(2)} of bare (target ≥ ${TARGET_RATIO}): ${ratio >= TARGET_RATIO ? 'met' : 'MISSED'}`);
  out.push(`  sitrep p99 ${p99.toFixed(2)} ms (target < ${TARGET_P99_MS} ms): ${p99 < TARGET_P99_MS ? 'met' : 'MISSED'}`);
  process.stdout.write(out.join('\n') + '\n');

  await new Promise<void>((r) => {
    bare.server.closeAllConnections();
    bare.server.close(() => r());
  });
  await sitrep.close();
  app.close();
  rmSync(dir, { recursive: true, force: true });
  // Errors mean the measurement is void; missing a target is reported, not fatal (shared CI CPUs).
  const errors = [totals.bare, totals.sitrep, steady.bare, steady.sitrep].reduce((n, t) => n + t.errors + t.non200, 0);
  return errors > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
