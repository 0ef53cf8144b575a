import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { App as BoltApp } from '@slack/bolt';
import { SitrepReceiver } from '../adapters/slack/receiver.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { createApp, startServer } from '../src/main.js';
import { CHANNEL, CONNECTIONS, SECRET, type RoundResult, type RoundSpec } from './slack-ack-client.js';
import type { BenchFigure, BenchResult } from './result.js';
import { startSlackSink } from './slack-sink.js';
import { notMeasured, stop } from './ipc.js';
import { benchPostgres, firstLine } from './postgres.js';

// How much does Sitrep cost on the Slack ack path? Signed `/incident note` slash commands go through
// the real receiver (bounded body read, signature check, the request committed to the inbox, Bolt,
// parse, ack, then the command with its inbox row claimed in the same transaction, the outbox rows
// and the response_url reply) at 50 concurrent keep-alive connections, against a no-op Bolt app with the
// same receiver and signing, in the same run. Each server runs in its own child process, and so does
// the fake Slack (like the real one, it is not the load generator's business: answering Sitrep's
// replies and deliveries must not slow down the requests sent to Sitrep), and so does the load
// generator (bench/slack-ack-client.ts, which measures the client-side latency); this process only
// orchestrates. Everything is on loopback and bounded in requests and time.
//
// With a PostgreSQL server (bench/postgres.ts), a third server, Sitrep on a new, empty database
// there (SITREP_DATABASE_URL), takes its turn in every round, with half the requests per saturated
// round; its figures are marked (PostgreSQL) and measured against the same no-op app.
//
//   npm run bench            (builds, then runs dist/bench/slack-ack.js among the benchmarks)
//   node dist/bench/slack-ack.js [requests-per-round]
//   SITREP_BENCH_CPU_PROF=/tmp/prof node dist/bench/slack-ack.js   (also profiles both servers)

const TOKEN = 'xoxb-bench';
const ROUNDS = 2;
/** The steady rate (requests per second, over the same connections) for the latency below saturation. */
const PACED_RATE = 500;
const PACED_SECONDS = 3;

/** The no-op Bolt app, Sitrep on SQLite, Sitrep on PostgreSQL. */
type Kind = 'noop' | 'sitrep' | 'pg';

/** The PostgreSQL database of the 'pg' server, passed in its environment (not on its command line). */
const DATABASE_ENV = 'SITREP_BENCH_ACK_DATABASE_URL';

// --- child: one server ------------------------------------------------------------------------

async function serve(kind: Kind, apiUrl: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sitrep-bench-'));
  let url: string;
  let stop: () => Promise<void>;
  let httpServer: Server;
  if (kind === 'sitrep' || kind === 'pg') {
    const databaseUrl = process.env[DATABASE_ENV];
    if (kind === 'pg' && !databaseUrl) throw new Error(`${DATABASE_ENV} is not set`);
    const config = loadConfig({
      SITREP_DB: join(dir, 'bench.db'),
      ...(kind === 'pg' ? { SITREP_DATABASE_URL: databaseUrl! } : {}),
      LOG_LEVEL: 'silent',
      USER: 'bench',
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_API_URL: apiUrl,
      SLACK_INCIDENTS_CHANNEL: CHANNEL,
    });
    const app = createApp(config, { log: createLogger('silent') });
    const declared = await app.run('declare Benchmark incident sev:3', 'slack:U0BENCH', { platform: 'slack', channel: CHANNEL });
    if (!declared.ok) throw new Error(declared.error.message);
    const running = await startServer(app, 0, '127.0.0.1');
    url = running.url;
    httpServer = running.server;
    stop = async () => {
      await running.close();
      await app.close();
    };
  } else {
    const receiver = new SitrepReceiver({ signingSecret: SECRET, now: () => Date.now(), log: createLogger('silent') });
    const bolt = new BoltApp({ receiver, authorize: async () => ({ botToken: TOKEN }), clientOptions: { slackApiUrl: apiUrl } });
    bolt.command('/incident', async ({ ack }) => {
      await ack();
    });
    const server = createServer((req, res) => {
      if (req.method === 'POST' && req.url === '/slack/events') {
        void receiver.handle(req, res);
        return;
      }
      res.writeHead(404).end();
    });
    server.keepAliveTimeout = 5_000;
    httpServer = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    stop = () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
  }
  // How long the server's event loop was held up (what an ack waits for besides its own work), and
  // each ack's time inside the server: from the parsed request to the response written. The
  // client-side figures add what happens outside the server (the load generator's own turns, and on
  // a small machine the OS scheduling three busy processes: client, server and, for Sitrep, the
  // fake Slack answering its replies and deliveries).
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  let inServer: number[] = [];
  // The server's own CPU time (user + system) since the last stats: per request, the figure a busy
  // shared machine disturbs least.
  let cpu = process.cpuUsage();
  httpServer.prependListener('request', (_req, res) => {
    const t0 = performance.now();
    res.once('finish', () => inServer.push(performance.now() - t0));
  });
  process.send?.({ url });
  process.on('message', (m) => {
    if (m === 'stats') {
      const used = process.cpuUsage(cpu);
      cpu = process.cpuUsage();
      process.send?.({ loopP99: loop.percentile(99) / 1e6, loopMax: loop.max / 1e6, inServer, cpuMs: (used.user + used.system) / 1000 });
      loop.reset();
      inServer = [];
    }
    if (m === 'stop')
      void stop().finally(() => {
        rmSync(dir, { recursive: true, force: true });
        process.exit(0);
      });
  });
}

// --- child: the fake Slack Web API and response_url ------------------------------------------------

async function runSink(): Promise<void> {
  const sink = await startSlackSink();
  process.send?.({ url: sink.apiUrl, origin: sink.origin });
  process.on('message', (m) => {
    if (m === 'count') process.send?.({ count: sink.count() });
    if (m === 'stop') void sink.close().finally(() => process.exit(0));
  });
}

interface SinkChild {
  child: ChildProcess;
  apiUrl: string;
  origin: string;
  count(): Promise<number>;
}

function startSinkChild(): Promise<SinkChild> {
  const child = fork(fileURLToPath(import.meta.url), ['--sink'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('Slack sink did not start')), 20_000);
    child.once('message', (m: unknown) => {
      clearTimeout(timer);
      const { url, origin } = m as { url: string; origin: string };
      resolve({
        child,
        apiUrl: url,
        origin,
        count: () =>
          new Promise((done) => {
            const on = (r: unknown) => {
              if (r && typeof r === 'object' && 'count' in r) {
                child.off('message', on);
                done((r as { count: number }).count);
              }
            };
            child.on('message', on);
            child.send('count');
          }),
      });
    });
    child.once('exit', (code) => reject(new Error(`Slack sink exited with ${code}`)));
  });
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function startChild(kind: Kind, apiUrl: string, env: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string }> {
  // SITREP_BENCH_CPU_PROF=<dir> writes a V8 CPU profile of each server there (sitrep.cpuprofile,
  // noop.cpuprofile), for finding hot spots and comparing the two per request.
  const profDir = process.env.SITREP_BENCH_CPU_PROF;
  const execArgv = profDir ? [...process.execArgv, '--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-name', `${kind}.cpuprofile`] : process.execArgv;
  const child = fork(fileURLToPath(import.meta.url), ['--serve', kind, apiUrl], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv,
    env: { ...process.env, ...env },
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} server did not start`)), 20_000);
    child.once('message', (m: unknown) => {
      clearTimeout(timer);
      resolve({ child, url: (m as { url: string }).url });
    });
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
}

const stopChild = (child: ChildProcess): Promise<void> => stop(child);

interface LoopStats {
  loopP99: number;
  loopMax: number;
  /** Milliseconds each request spent inside the server (parsed request to response written). */
  inServer: number[];
  /** CPU time the server used (user + system), ms. */
  cpuMs: number;
}

/** The server's event-loop delay since the last call (and resets it). */
function loopStats(child: ChildProcess): Promise<LoopStats> {
  return new Promise((resolve) => {
    const on = (m: unknown) => {
      if (m && typeof m === 'object' && 'loopMax' in m) {
        child.off('message', on);
        resolve(m as LoopStats);
      }
    };
    child.on('message', on);
    child.send('stats');
  });
}

// --- child: the load generator ----------------------------------------------------------------------

interface ClientChild {
  child: ChildProcess;
  round(spec: RoundSpec): Promise<RoundResult>;
}

function startClientChild(): ClientChild {
  const child = fork(fileURLToPath(new URL('./slack-ack-client.js', import.meta.url)), ['--client'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return {
    child,
    round: (spec) =>
      new Promise((resolve, reject) => {
        // A round is capped at ROUND_CAP_MS plus one request timeout; a stuck client fails the run.
        const timer = setTimeout(() => reject(new Error('load client did not answer')), 90_000);
        const onExit = (code: number | null) => reject(new Error(`load client exited with ${code}`));
        child.once('exit', onExit);
        child.once('message', (m: RoundResult | { error: string }) => {
          clearTimeout(timer);
          child.off('exit', onExit);
          if ('error' in m) reject(new Error(m.error));
          else resolve(m);
        });
        child.send(spec);
      }),
  };
}

export async function run(requestsPerRound = 3_000): Promise<BenchResult> {
  const perRound = Math.max(200, Math.min(50_000, requestsPerRound));
  // PostgreSQL's saturated rounds are half as long (same connections, same requests): it acks
  // several times slower, and the suite has 5 minutes in all.
  const pgPerRound = Math.max(200, Math.round(perRound / 2));
  const postgres = await benchPostgres();
  // Sitrep on PostgreSQL: a third server on a new, empty database, in the same rounds against the
  // same no-op app. Why it was not measured (skipped, or failed at some point) otherwise; the
  // SQLite figures stand either way.
  let pgWhy: string | null = 'skip' in postgres ? postgres.skip : null;
  let pgDb: { url: string; drop(): Promise<void> } | null = null;
  const sink = await startSinkChild();
  let sinkCalls = 0;
  const servers: Partial<Record<Kind, { child: ChildProcess; url: string }>> = {};
  const responseUrl = `${sink.origin}/response/bench`;
  const results: Record<Kind, RoundResult[]> = { noop: [], sitrep: [], pg: [] };
  const loops: Record<Kind, LoopStats[]> = { noop: [], sitrep: [], pg: [] };
  const paced: Record<Kind, RoundResult[]> = { noop: [], sitrep: [], pg: [] };
  let client: ClientChild | null = null;
  try {
    servers.noop = await startChild('noop', sink.apiUrl);
    servers.sitrep = await startChild('sitrep', sink.apiUrl);
    if (!('skip' in postgres)) {
      try {
        pgDb = await postgres.database('slack_ack');
        servers.pg = await startChild('pg', sink.apiUrl, { [DATABASE_ENV]: pgDb.url });
      } catch (err) {
        pgWhy = `failed: ${firstLine(err)}`;
      }
    }
    const kinds = (): Kind[] => ['noop', 'sitrep', ...(servers.pg && !pgWhy ? ['pg' as const] : [])];
    const c = (client = startClientChild());
    const round = (kind: Kind, total: number, ratePerSec?: number) =>
      c.round({ url: servers[kind]!.url, total, responseUrl, ...(ratePerSec ? { ratePerSec } : {}) });
    // Warm each (JIT, database pages, keep-alive sockets), then alternate so drift hits all alike.
    for (const kind of kinds()) await round(kind, 500);
    for (let r = 0; r < ROUNDS; r++) {
      for (const kind of kinds()) {
        await loopStats(servers[kind]!.child);
        results[kind].push(await round(kind, kind === 'pg' ? pgPerRound : perRound));
        loops[kind].push(await loopStats(servers[kind]!.child));
      }
    }
    // Latency below saturation: the same requests at a steady rate, far above what a workspace
    // sends even during a large incident.
    for (let r = 0; r < ROUNDS; r++) {
      for (const kind of kinds()) paced[kind].push(await round(kind, PACED_RATE * PACED_SECONDS, PACED_RATE));
    }
  } finally {
    client?.child.disconnect();
    for (const kind of ['noop', 'sitrep', 'pg'] as const) if (servers[kind]) await stopChild(servers[kind].child);
    sinkCalls = await sink.count();
    await stopChild(sink.child);
    await pgDb?.drop().catch(() => undefined);
    if (!('skip' in postgres)) postgres.close();
  }
  const sum = (kind: Kind) => {
    const rs = results[kind];
    const requests = rs.reduce((a, r) => a + r.requests, 0);
    const seconds = rs.reduce((a, r) => a + r.seconds, 0);
    const lat = rs.flatMap((r) => r.latencies).sort((a, b) => a - b);
    return {
      connections: rs.reduce((a, r) => a + r.connections, 0),
      rps: requests / seconds,
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      slow: rs.reduce((a, r) => a + r.slow, 0),
      errors: rs.reduce((a, r) => a + r.errors, 0),
      requests,
    };
  };
  const pacedP = (kind: Kind, p: number) =>
    percentile(
      paced[kind].flatMap((r) => r.latencies).sort((a, b) => a - b),
      p,
    );
  const pacedSlow = (kind: Kind) => paced[kind].reduce((a, r) => a + r.slow + r.errors, 0);
  const cpuPerRequest = (kind: Kind) => loops[kind].reduce((a, l) => a + l.cpuMs, 0) / results[kind].reduce((a, r) => a + r.requests, 0);
  const inside = (kind: Kind, p: number) =>
    percentile(
      loops[kind].flatMap((l) => l.inServer).sort((a, b) => a - b),
      p,
    );
  const noop = sum('noop');
  const sitrep = sum('sitrep');
  const pg = sum('pg');
  const f = (n: number) => n.toFixed(1);
  const r2 = (n: number) => Math.round(n * 100) / 100;
  if (sitrep.errors + noop.errors > 0) throw new Error(`non-200 answers: Sitrep ${sitrep.errors}, no-op ${noop.errors}`);
  if (!pgWhy && pg.errors > 0) pgWhy = `failed: ${pg.errors} non-200 answers`;
  if (!pgWhy && results.pg.length < ROUNDS) pgWhy = 'failed: fewer rounds than asked';
  const LABELS = {
    rps: 'acks per second',
    p99: 'ack p99 latency (client side)',
    paced: `ack p99 latency at a steady ${PACED_RATE} req/s`,
    slow: 'acks taking 3 s or more',
  };
  const figures = (kind: 'sitrep' | 'pg', engine: 'SQLite' | 'PostgreSQL'): BenchFigure[] => {
    const s = kind === 'pg' ? pg : sitrep;
    const ratio = s.rps / noop.rps;
    return [
      {
        label: LABELS.rps,
        engine,
        value: Math.round(s.rps),
        unit: 'req/s',
        baseline: Math.round(noop.rps),
        ratio: r2(ratio),
        target: '≥ 0.6× the no-op Bolt app',
        met: ratio >= 0.6,
      },
      {
        label: LABELS.p99,
        engine,
        value: r2(s.p99),
        unit: 'ms',
        baseline: r2(noop.p99),
        ratio: r2(noop.p99 / s.p99),
        target: '< 50 ms',
        met: s.p99 < 50,
      },
      {
        // No target of its own: how an ack fares when the server is not saturated.
        label: LABELS.paced,
        engine,
        value: r2(pacedP(kind, 99)),
        unit: 'ms',
        baseline: r2(pacedP('noop', 99)),
        ratio: r2(pacedP('noop', 99) / pacedP(kind, 99)),
      },
      {
        label: LABELS.slow,
        engine,
        value: s.slow,
        unit: 'requests',
        baseline: noop.slow,
        target: '0',
        met: s.slow === 0,
      },
    ];
  };
  const pgFigures = pgWhy
    ? [
        notMeasured(LABELS.rps, 'req/s', pgWhy, '≥ 0.6× the no-op Bolt app'),
        notMeasured(LABELS.p99, 'ms', pgWhy, '< 50 ms'),
        notMeasured(LABELS.paced, 'ms', pgWhy),
        notMeasured(LABELS.slow, 'requests', pgWhy, '0'),
      ]
    : figures('pg', 'PostgreSQL');
  const measured: Kind[] = pgWhy ? ['noop', 'sitrep'] : ['noop', 'sitrep', 'pg'];
  const NAMES: Record<Kind, string> = { noop: 'no-op', sitrep: 'Sitrep on SQLite', pg: 'Sitrep on PostgreSQL' };
  const each = (line: (kind: Kind) => string) => measured.map((k) => `${NAMES[k]} ${line(k)}`).join('; ');
  const all = { noop, sitrep, pg };
  return {
    name: 'Slack command ack',
    setup: `signed /incident note through the real receiver (inbox commit before the ack), ${CONNECTIONS} keep-alive connections, ${ROUNDS} × ${perRound} requests per app${pgWhy ? '' : ` (${ROUNDS} × ${pgPerRound} on PostgreSQL)`}, load generator in its own process, Sitrep on SQLite${pgWhy ? '' : ' and on PostgreSQL'}, vs a no-op Bolt app on the same receiver`,
    figures: [...figures('sitrep', 'SQLite'), ...pgFigures],
    notes: [
      each((k) => `${f(all[k].rps)} req/s, p50 ${f(all[k].p50)} ms, p99 ${f(all[k].p99)} ms`),
      `at a steady ${PACED_RATE} req/s (${ROUNDS} × ${PACED_SECONDS} s each, latency from each request's scheduled start): ${each((k) => `p50 ${f(pacedP(k, 50))} ms, p99 ${f(pacedP(k, 99))} ms`)}${
        measured.some((k) => pacedSlow(k)) ? `; slow or failed: ${each((k) => String(pacedSlow(k)))}` : ''
      }`,
      `server CPU per request (user + system): ${each((k) => `${cpuPerRequest(k).toFixed(3)} ms${k === 'noop' ? '' : ` (${(cpuPerRequest(k) / cpuPerRequest('noop')).toFixed(2)}×)`}`)}; the fake Slack's CPU for Sitrep's replies is not counted${pgWhy ? '' : ", nor PostgreSQL's"}`,
      `time inside the server (request parsed → ack written): ${each((k) => `p50 ${f(inside(k, 50))} ms, p99 ${f(inside(k, 99))} ms`)}`,
      `server event-loop delay during the rounds: ${each((k) => `p99 ${f(Math.max(...loops[k].map((l) => l.loopP99)))} ms, max ${f(Math.max(...loops[k].map((l) => l.loopMax)))} ms`)}`,
      `connections opened: ${each((k) => String(all[k].connections))} (${CONNECTIONS * ROUNDS} means none was re-opened); Slack and response_url calls answered by the loopback sink: ${sinkCalls}`,
      'skip' in postgres
        ? `PostgreSQL: ${postgres.skip} (set SITREP_BENCH_DATABASE_URL to a server whose user may CREATE DATABASE, or install the postgresql package for a throwaway cluster)`
        : `PostgreSQL: ${postgres.where}, a new empty database for this run${pgWhy ? `; ${pgWhy}` : ''}`,
    ],
  };
}

function isMain(): boolean {
  return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
}

if (process.argv[2] === '--serve') {
  void serve(process.argv[3] as Kind, process.argv[4]!);
} else if (process.argv[2] === '--sink') {
  void runSink();
} else if (isMain()) {
  run(Number(process.argv[2]) || undefined).then(
    (r) => process.stdout.write(JSON.stringify(r, null, 2) + '\n'),
    (err: unknown) => {
      process.stderr.write(`slack-ack failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
