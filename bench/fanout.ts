import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './result.js';
import { has, reply as replyWithin, runDirectly, stop as stopWithin, runAndExit } from './ipc.js';

const reply = <T>(c: ChildProcess, pick: (m: unknown) => m is T, what: string, timeoutMs = ROUND_CAP_MS + 15_000) => replyWithin(c, pick, what, timeoutMs);
const stop = (c: ChildProcess) => stopWithin(c);

// Fan-out: one approved update to 5,000 webhook subscribers on 50 hosts whose endpoints answer
// 2xx after 100 ms, through the real path (the `approve` command publishes, the webhook outlet
// writes 5,000 outbox rows in its transaction, the server's outbox worker claims them and the
// webhook target signs and POSTs each one), against a raw fetch loop at 256 concurrent requests
// POSTing the same bytes to the same 5,000 URLs, in the same run.
//
// The 50 hosts are 50 loopback addresses, 127.0.0.1 to 127.0.0.50, one receiving server each.
// Distinct addresses, not 50 ports on one address, because that is what 50 hosts are: each has
// its own connection pool in both senders (the worker's per-upstream share and breaker key are
// the host too), and connections spread over 50 address pairs as they would over 50 machines.
// Nothing leaves the machine.
//
// Every party has its own process: the receivers (they answer after 100 ms without holding up
// either sender's event loop), the Sitrep server (its peak RSS is the one reported), and the
// fetch loop. This process only orchestrates. Rounds alternate Sitrep and the baseline, so drift
// on a shared machine hits both alike. Sitrep logs at info, as a server does (to /dev/null here).
//
//   npm run bench        (builds, then runs the benchmarks)
//   node dist/bench/fanout.js
//   SITREP_BENCH_CPU_PROF=/tmp/prof node dist/bench/fanout.js   (also profiles the Sitrep server)

const HOSTS = 50;
const SUBSCRIBERS = 5_000;
const ANSWER_MS = 100;
const BASELINE_CONCURRENCY = 256;
const ROUNDS = 2;
const TARGET_RATIO = 0.7;
/** A round that takes longer than this is a failed measurement, not a hang. */
const ROUND_CAP_MS = 45_000;

// --- child: the receivers ---------------------------------------------------------------------

interface ReceiverStats {
  requests: number;
  /** Distinct webhook-id values among the requests since the last reset (Sitrep rounds). */
  distinctIds: number;
  sample: { body: string; headers: Record<string, string> } | null;
}

async function receivers(): Promise<void> {
  let requests = 0;
  let ids = new Set<string>();
  let sample: ReceiverStats['sample'] = null;
  const servers: Server[] = [];
  const urls: string[] = [];
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests += 1;
      const id = req.headers['webhook-id'];
      if (typeof id === 'string') ids.add(id);
      if (!sample && typeof id === 'string' && id.startsWith('msg_')) {
        const headers: Record<string, string> = {};
        for (const h of ['content-type', 'user-agent', 'webhook-id', 'webhook-timestamp', 'webhook-signature']) headers[h] = String(req.headers[h] ?? '');
        sample = { body: Buffer.concat(chunks).toString('utf8'), headers };
      }
      setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'), ANSWER_MS);
    });
  };
  for (let h = 1; h <= HOSTS; h++) {
    const server = createServer(handle);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, `127.0.0.${h}`, resolve);
    });
    servers.push(server);
    const { port } = server.address() as AddressInfo;
    for (let i = h - 1; i < SUBSCRIBERS; i += HOSTS) urls[i] = `http://127.0.0.${h}:${port}/hooks/${i + 1}`;
  }
  process.send?.({ urls });
  process.on('message', (m) => {
    if (m === 'reset') {
      requests = 0;
      ids = new Set();
      process.send?.({ reset: true });
    }
    if (m === 'stats') process.send?.({ requests, distinctIds: ids.size, sample } satisfies ReceiverStats);
    if (m === 'stop') {
      for (const s of servers) s.closeAllConnections();
      process.exit(0);
    }
  });
}

// --- child: the baseline ------------------------------------------------------------------------

interface FetchSpec {
  urls: string[];
  body: string;
  headers: Record<string, string>;
}

/** A plain fetch loop: 256 requests at a time, each POSTing the same bytes Sitrep sent. Not tuned. */
interface FetchRound {
  ms: number;
  ok: number;
  failed: number;
  peakRss: number;
  cpuMs: number;
}

async function fetchLoop(spec: FetchSpec): Promise<FetchRound> {
  let next = 0;
  let ok = 0;
  let failed = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const lane = async () => {
    while (next < spec.urls.length) {
      const url = spec.urls[next++]!;
      try {
        const res = await fetch(url, { method: 'POST', body: spec.body, headers: spec.headers });
        await res.arrayBuffer();
        if (res.ok) ok += 1;
        else failed += 1;
      } catch {
        failed += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: BASELINE_CONCURRENCY }, lane));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { ms, ok, failed, peakRss: process.resourceUsage().maxRSS * 1024, cpuMs: (cpu.user + cpu.system) / 1000 };
}

function baseline(): void {
  process.on('message', (m: FetchSpec | 'stop') => {
    if (m === 'stop') process.exit(0);
    void fetchLoop(m).then((r) => process.send?.(r));
  });
  process.send?.({ ready: true });
}

// --- child: the Sitrep server -----------------------------------------------------------------------

interface SitrepRound {
  ms: number;
  delivered: number;
  notDelivered: number;
  /** Peak RSS of this process so far, in bytes. */
  peakRss: number;
  /** CPU time (user + system) this process spent on the round, in ms. */
  cpuMs: number;
}

async function sitrep(): Promise<void> {
  const [{ loadConfig }, { createApp, startServer }, { createLogger }] = await Promise.all([
    import('../src/config.js'),
    import('../src/main.js'),
    import('../src/logger.js'),
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'sitrep-fanout-'));
  const config = loadConfig({ SITREP_DB: join(dir, 'bench.db'), LOG_LEVEL: 'info', USER: 'bench' });
  const app = createApp(config, { log: createLogger('info') });
  const run = async (text: string, actor = 'cli:bench') => {
    const r = await app.run(text, actor, { platform: 'cli' });
    if (!r.ok) throw new Error(`${text}: ${r.error.message}`);
    return r.reply;
  };
  const client = app.db.$client;
  const unfinished = client.prepare("select exists (select 1 from outbox where state in ('pending', 'in_flight')) as busy");
  const outcomes = client.prepare('select state, count(*) as n from outbox where id > ? group by state');
  const lastId = client.prepare('select coalesce(max(id), 0) as id from outbox');

  let server: Awaited<ReturnType<typeof startServer>> | null = null;
  let round = 0;
  const handle = async (m: { setup: string[] } | 'round' | 'stop'): Promise<void> => {
    if (m === 'stop') {
      await server?.close();
      await app.close();
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    }
    if (typeof m === 'object') {
      // Setup, not measured: the subscriptions, an incident, and an approver other than the author.
      await run('component add Web App');
      for (const url of m.setup) await run(`subscribe webhook:${url}`);
      await run('approver add cli:approver');
      await run('declare "Database down" components:web-app=major');
      server = await startServer(app, 0, '127.0.0.1');
      process.send?.({ ready: true, rss: process.memoryUsage().rss });
      return;
    }
    round += 1;
    const drafted = await run(`draft INC-1 "Update ${round}: we are rerouting traffic away from the failing database cluster."`);
    const draftRef = String((drafted.data as { id?: string } | undefined)?.id ?? `D-${round}`);
    const before = (lastId.get() as { id: number }).id;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await run(`approve ${draftRef}`, 'cli:approver');
    const done = () => {
      if ((unfinished.get() as { busy: number }).busy && performance.now() - t0 < ROUND_CAP_MS) return void setTimeout(done, 5);
      const ms = performance.now() - t0;
      const byState = new Map((outcomes.all(before) as Array<{ state: string; n: number }>).map((r) => [r.state, r.n]));
      const delivered = byState.get('delivered') ?? 0;
      const total = [...byState.values()].reduce((a, n) => a + n, 0);
      const cpu = process.cpuUsage(cpu0);
      process.send?.({
        ms,
        delivered,
        notDelivered: total - delivered,
        peakRss: process.resourceUsage().maxRSS * 1024,
        cpuMs: (cpu.user + cpu.system) / 1000,
      } satisfies SitrepRound);
    };
    setTimeout(done, 5);
  };
  // The orchestrator sends one message at a time and waits for its answer. A failure ends this
  // process, which the orchestrator reports (the process exited) as it did when the handler threw.
  process.on('message', (m: { setup: string[] } | 'round' | 'stop') => {
    handle(m).catch((err: unknown) => {
      process.stderr.write(`fanout Sitrep server failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
  });
  process.send?.({ started: true });
}

// --- the orchestrator ---------------------------------------------------------------------------------

const self = fileURLToPath(import.meta.url);

function child(role: string, stderr: 'inherit' | 'ignore' = 'inherit'): ChildProcess {
  // SITREP_BENCH_CPU_PROF=<dir> writes a V8 CPU profile of the Sitrep server there (for finding hot spots).
  const profDir = role === '--sitrep' ? process.env.SITREP_BENCH_CPU_PROF : undefined;
  const execArgv = profDir ? [...process.execArgv, '--cpu-prof', '--cpu-prof-dir', profDir] : process.execArgv;
  return fork(self, [role], { stdio: ['ignore', 'ignore', stderr, 'ipc'], execArgv });
}

export async function run(): Promise<BenchResult> {
  const rx = child('--receivers');
  // The server's info log (one line per delivery) goes nowhere, as a real server's would go to a file.
  const server = child('--sitrep', 'ignore');
  const loop = child('--fetch');
  try {
    const { urls } = (await reply(rx, has('urls'), 'receivers')) as { urls: string[] };
    await reply(server, has('started'), 'Sitrep server');
    await reply(loop, has('ready'), 'fetch loop');
    server.send({ setup: urls });
    const { rss: setupRss } = (await reply(server, has('ready'), 'Sitrep setup')) as unknown as { rss: number };

    const stats = async () => {
      rx.send('stats');
      return (await reply(rx, has('distinctIds'), 'receiver stats')) as unknown as ReceiverStats;
    };
    const reset = async () => {
      rx.send('reset');
      await reply(rx, has('reset'), 'receiver reset');
    };

    const sitrepRounds: Array<SitrepRound & { received: number; distinct: number }> = [];
    const baselineRounds: FetchRound[] = [];
    let sample: ReceiverStats['sample'] = null;
    for (let r = 0; r < ROUNDS; r++) {
      await reset();
      server.send('round');
      const s = (await reply(server, has('peakRss'), 'Sitrep round')) as unknown as SitrepRound;
      const seen = await stats();
      sample ??= seen.sample;
      sitrepRounds.push({ ...s, received: seen.requests, distinct: seen.distinctIds });
      if (!sample) throw new Error('no webhook reached the receivers');
      await reset();
      // The same bytes and headers Sitrep sent (its first request's), to the same 5,000 URLs.
      loop.send({ urls, body: sample.body, headers: sample.headers } satisfies FetchSpec);
      baselineRounds.push((await reply(loop, has('ok'), 'fetch loop round')) as unknown as FetchRound);
    }

    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const sitrepMs = sum(sitrepRounds.map((r) => r.ms));
    const baselineMs = sum(baselineRounds.map((r) => r.ms));
    const sitrepRate = (SUBSCRIBERS * ROUNDS) / (sitrepMs / 1000);
    const baselineRate = (SUBSCRIBERS * ROUNDS) / (baselineMs / 1000);
    const ratio = sitrepRate / baselineRate;
    const peakRss = Math.max(...sitrepRounds.map((r) => r.peakRss));
    const complete =
      sitrepRounds.every((r) => r.delivered === SUBSCRIBERS && r.notDelivered === 0 && r.distinct === SUBSCRIBERS) &&
      baselineRounds.every((r) => r.ok === SUBSCRIBERS);
    const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;
    return {
      name: 'fanout',
      setup: `one approved update to ${SUBSCRIBERS.toLocaleString('en')} webhook subscribers on ${HOSTS} loopback hosts answering after ${ANSWER_MS} ms, through approve → outbox → worker → webhook target, vs a raw fetch loop at ${BASELINE_CONCURRENCY} concurrency to the same URLs; ${ROUNDS} rounds each, alternating`,
      figures: [
        {
          label: `fan-out to ${SUBSCRIBERS.toLocaleString('en')} webhooks: deliveries/s`,
          value: Math.round(sitrepRate),
          unit: 'deliveries/s',
          baseline: Math.round(baselineRate),
          ratio: Number(ratio.toFixed(2)),
          target: `≥ ${TARGET_RATIO}× of a raw fetch loop at ${BASELINE_CONCURRENCY} concurrency`,
          met: ratio >= TARGET_RATIO && complete,
        },
        { label: 'fan-out: peak RSS of the Sitrep server', value: Math.round(peakRss / 1024 / 1024), unit: 'MB' },
      ],
      notes: [
        ...sitrepRounds.map(
          (r, i) =>
            `round ${i + 1}: Sitrep ${(r.ms / 1000).toFixed(2)} s (approve command to the last row recorded delivered; ${r.delivered} delivered, ${r.notDelivered} not; ${(r.cpuMs / 1000).toFixed(2)} s of CPU; receivers saw ${r.received} requests, ${r.distinct} distinct webhook-ids), fetch loop ${(baselineRounds[i]!.ms / 1000).toFixed(2)} s (${baselineRounds[i]!.ok} ok, ${baselineRounds[i]!.failed} failed; ${(baselineRounds[i]!.cpuMs / 1000).toFixed(2)} s of CPU)`,
        ),
        `peak RSS of the Sitrep server process: ${mb(peakRss)} (${mb(setupRss)} before the first round, with ${SUBSCRIBERS.toLocaleString('en')} subscriptions set up); of the fetch loop process: ${mb(Math.max(...baselineRounds.map((r) => r.peakRss)))}`,
        `floor for the baseline: ${SUBSCRIBERS.toLocaleString('en')} × ${ANSWER_MS} ms / ${BASELINE_CONCURRENCY} = ${((SUBSCRIBERS * ANSWER_MS) / BASELINE_CONCURRENCY / 1000).toFixed(2)} s`,
        ...(complete ? [] : ['INCOMPLETE: not every subscriber got exactly one delivery in every round (see the round lines)']),
      ],
    };
  } finally {
    await Promise.all([stop(server), stop(loop), stop(rx)]);
  }
}

const role = process.argv[2];
const direct = runDirectly(self);
if (direct && role === '--receivers') void receivers();
else if (direct && role === '--fetch') baseline();
else if (direct && role === '--sitrep') void sitrep();
else if (direct) runAndExit('fanout', run);
