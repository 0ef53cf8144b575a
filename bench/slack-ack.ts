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
import type { BenchResult } from './result.js';
import { startSlackSink } from './slack-sink.js';
import { stop } from './ipc.js';

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
//   npm run bench            (builds, then runs dist/bench/slack-ack.js among the benchmarks)
//   node dist/bench/slack-ack.js [requests-per-round]
//   SITREP_BENCH_CPU_PROF=/tmp/prof node dist/bench/slack-ack.js   (also profiles both servers)

const TOKEN = 'xoxb-bench';
const ROUNDS = 2;
/** The steady rate (requests per second, over the same connections) for the latency below saturation. */
const PACED_RATE = 500;
const PACED_SECONDS = 3;

type Kind = 'sitrep' | 'noop';

// --- child: one server ------------------------------------------------------------------------

async function serve(kind: Kind, apiUrl: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sitrep-bench-'));
  let url: string;
  let stop: () => Promise<void>;
  let httpServer: Server;
  if (kind === 'sitrep') {
    const config = loadConfig({
      SITREP_DB: join(dir, 'bench.db'),
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

function startChild(kind: Kind, apiUrl: string): Promise<{ child: ChildProcess; url: string }> {
  // SITREP_BENCH_CPU_PROF=<dir> writes a V8 CPU profile of each server there (sitrep.cpuprofile,
  // noop.cpuprofile), for finding hot spots and comparing the two per request.
  const profDir = process.env.SITREP_BENCH_CPU_PROF;
  const execArgv = profDir ? [...process.execArgv, '--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-name', `${kind}.cpuprofile`] : process.execArgv;
  const child = fork(fileURLToPath(import.meta.url), ['--serve', kind, apiUrl], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
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
  const sink = await startSinkChild();
  let sinkCalls = 0;
  const servers = {
    noop: await startChild('noop', sink.apiUrl),
    sitrep: await startChild('sitrep', sink.apiUrl),
  };
  const responseUrl = `${sink.origin}/response/bench`;
  const results: Record<Kind, RoundResult[]> = { noop: [], sitrep: [] };
  const loops: Record<Kind, LoopStats[]> = { noop: [], sitrep: [] };
  const client = startClientChild();
  const round = (url: string, total: number, responseUrl: string, ratePerSec?: number) =>
    client.round({ url, total, responseUrl, ...(ratePerSec ? { ratePerSec } : {}) });
  const paced: Record<Kind, RoundResult[]> = { noop: [], sitrep: [] };
  try {
    // Warm both (JIT, SQLite pages, keep-alive sockets), then alternate so drift hits both alike.
    for (const kind of ['noop', 'sitrep'] as const) await round(servers[kind].url, 500, responseUrl);
    for (let r = 0; r < ROUNDS; r++) {
      for (const kind of ['noop', 'sitrep'] as const) {
        await loopStats(servers[kind].child);
        results[kind].push(await round(servers[kind].url, perRound, responseUrl));
        loops[kind].push(await loopStats(servers[kind].child));
      }
    }
    // Latency below saturation: the same requests at a steady rate, far above what a workspace
    // sends even during a large incident.
    for (let r = 0; r < ROUNDS; r++) {
      for (const kind of ['noop', 'sitrep'] as const) paced[kind].push(await round(servers[kind].url, PACED_RATE * PACED_SECONDS, responseUrl, PACED_RATE));
    }
  } finally {
    client.child.disconnect();
    await stopChild(servers.noop.child);
    await stopChild(servers.sitrep.child);
    sinkCalls = await sink.count();
    await stopChild(sink.child);
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
  const ratio = sitrep.rps / noop.rps;
  const f = (n: number) => n.toFixed(1);
  const r2 = (n: number) => Math.round(n * 100) / 100;
  if (sitrep.errors + noop.errors > 0) throw new Error(`non-200 answers: Sitrep ${sitrep.errors}, no-op ${noop.errors}`);
  return {
    name: 'Slack command ack',
    setup: `signed /incident note through the real receiver (inbox commit before the ack), ${CONNECTIONS} keep-alive connections, ${ROUNDS} × ${perRound} requests per app, load generator in its own process, vs a no-op Bolt app on the same receiver`,
    figures: [
      {
        label: 'acks per second',
        value: Math.round(sitrep.rps),
        unit: 'req/s',
        baseline: Math.round(noop.rps),
        ratio: r2(ratio),
        target: '≥ 0.6× the no-op Bolt app',
        met: ratio >= 0.6,
      },
      {
        label: 'ack p99 latency (client side)',
        value: r2(sitrep.p99),
        unit: 'ms',
        baseline: r2(noop.p99),
        ratio: r2(noop.p99 / sitrep.p99),
        target: '< 50 ms',
        met: sitrep.p99 < 50,
      },
      {
        // No target of its own: how an ack fares when the server is not saturated.
        label: `ack p99 latency at a steady ${PACED_RATE} req/s`,
        value: r2(pacedP('sitrep', 99)),
        unit: 'ms',
        baseline: r2(pacedP('noop', 99)),
        ratio: r2(pacedP('noop', 99) / pacedP('sitrep', 99)),
      },
      {
        label: 'acks taking 3 s or more',
        value: sitrep.slow,
        unit: 'requests',
        baseline: noop.slow,
        target: '0',
        met: sitrep.slow === 0,
      },
    ],
    notes: [
      `no-op Bolt app: ${f(noop.rps)} req/s, p50 ${f(noop.p50)} ms, p99 ${f(noop.p99)} ms; Sitrep: ${f(sitrep.rps)} req/s, p50 ${f(sitrep.p50)} ms, p99 ${f(sitrep.p99)} ms`,
      `at a steady ${PACED_RATE} req/s (${ROUNDS} × ${PACED_SECONDS} s each, latency from each request's scheduled start): no-op p50 ${f(pacedP('noop', 50))} ms, p99 ${f(pacedP('noop', 99))} ms; Sitrep p50 ${f(pacedP('sitrep', 50))} ms, p99 ${f(pacedP('sitrep', 99))} ms${pacedSlow('sitrep') + pacedSlow('noop') ? `; slow or failed: Sitrep ${pacedSlow('sitrep')}, no-op ${pacedSlow('noop')}` : ''}`,
      `server CPU per request (user + system): Sitrep ${cpuPerRequest('sitrep').toFixed(3)} ms, no-op ${cpuPerRequest('noop').toFixed(3)} ms (${(cpuPerRequest('sitrep') / cpuPerRequest('noop')).toFixed(2)}×); the fake Slack's CPU for Sitrep's replies is not counted`,
      `time inside the server (request parsed → ack written): Sitrep p50 ${f(inside('sitrep', 50))} ms, p99 ${f(inside('sitrep', 99))} ms; no-op p50 ${f(inside('noop', 50))} ms, p99 ${f(inside('noop', 99))} ms`,
      `server event-loop delay during the rounds: Sitrep p99 ${f(Math.max(...loops.sitrep.map((l) => l.loopP99)))} ms, max ${f(Math.max(...loops.sitrep.map((l) => l.loopMax)))} ms; no-op p99 ${f(Math.max(...loops.noop.map((l) => l.loopP99)))} ms, max ${f(Math.max(...loops.noop.map((l) => l.loopMax)))} ms`,
      `connections opened: Sitrep ${sitrep.connections}, no-op ${noop.connections} (${CONNECTIONS * ROUNDS} means none was re-opened); Slack and response_url calls answered by the loopback sink: ${sinkCalls}`,
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
