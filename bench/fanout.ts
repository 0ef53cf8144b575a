import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './result.js';
import { has, notMeasured, reply as replyWithin, runDirectly, stop as stopWithin, runAndExit } from './ipc.js';
import { benchPostgres, firstLine } from './postgres.js';

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
// With a PostgreSQL server (bench/postgres.ts), a second Sitrep server on a new, empty database
// there (SITREP_DATABASE_URL) takes a round after each baseline round, against the same receivers,
// URLs and fetch loop; its figures are marked (PostgreSQL) and measured against the same baseline.
// Progress is read through the store (committed rows, on either engine), not a SQLite connection.
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

/** The PostgreSQL database the Sitrep server child runs on (unset: a SQLite file), passed in its environment. */
const DATABASE_ENV = 'SITREP_BENCH_FANOUT_DATABASE_URL';

async function sitrep(): Promise<void> {
  const [{ loadConfig }, { createApp, startServer }, { createLogger }, { anyRowOnItsWay, lastOutboxId, statesAfter }] = await Promise.all([
    import('../src/config.js'),
    import('../src/main.js'),
    import('../src/logger.js'),
    import('../db/queries/outbox.js'),
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'sitrep-fanout-'));
  const databaseUrl = process.env[DATABASE_ENV];
  const config = loadConfig({
    SITREP_DB: join(dir, 'bench.db'),
    ...(databaseUrl ? { SITREP_DATABASE_URL: databaseUrl } : {}),
    LOG_LEVEL: 'info',
    USER: 'bench',
  });
  // The info log (one line per delivery) to stdout, which goes nowhere, as a real server's would
  // go to a file; stderr is the orchestrator's, for a failure.
  const app = createApp(config, { log: createLogger('info', 'stdout') });
  const run = async (text: string, actor = 'cli:bench') => {
    const r = await app.run(text, actor, { platform: 'cli' });
    if (!r.ok) throw new Error(`${text}: ${r.error.message}`);
    return r.reply;
  };
  // Progress through the store, as any reader of either engine sees it: committed rows only.
  const { store } = app;

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
    const before = await store.read((db) => lastOutboxId(db));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await run(`approve ${draftRef}`, 'cli:approver');
    while ((await store.read((db) => anyRowOnItsWay(db))) && performance.now() - t0 < ROUND_CAP_MS) await new Promise((r) => setTimeout(r, 5));
    const ms = performance.now() - t0;
    const byState = await store.read((db) => statesAfter(db, before));
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
  // The orchestrator sends one message at a time and waits for its answer. A failure ends this
  // process, which the orchestrator reports (the process exited) as it did when the handler threw.
  process.on('message', (m: { setup: string[] } | 'round' | 'stop') => {
    handle(m).catch((err: unknown) => {
      process.stderr.write(`fanout Sitrep server (${app.engine}) failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
  });
  process.send?.({ started: true });
}

// --- the orchestrator ---------------------------------------------------------------------------------

const self = fileURLToPath(import.meta.url);

function child(role: string, env: Record<string, string> = {}): ChildProcess {
  // SITREP_BENCH_CPU_PROF=<dir> writes a V8 CPU profile of the Sitrep server there (for finding hot spots).
  const profDir = role === '--sitrep' ? process.env.SITREP_BENCH_CPU_PROF : undefined;
  const execArgv = profDir ? [...process.execArgv, '--cpu-prof', '--cpu-prof-dir', profDir] : process.execArgv;
  return fork(self, [role], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv, env: { ...process.env, ...env } });
}

type Round = SitrepRound & { received: number; distinct: number };

export async function run(): Promise<BenchResult> {
  const postgres = await benchPostgres();
  const rx = child('--receivers');
  const server = child('--sitrep');
  const loop = child('--fetch');
  // Sitrep on PostgreSQL: a second server process on a new, empty database, measured in the same
  // rounds against the same receivers and the same fetch loop. Why it was not (skipped, or failed
  // at some point) instead of its figures otherwise; the SQLite figures stand either way.
  let pgDb: { url: string; drop(): Promise<void> } | null = null;
  let pgServer: ChildProcess | null = null;
  let pgWhy: string | null = 'skip' in postgres ? postgres.skip : null;
  const pgFailed = (err: unknown) => {
    pgWhy ??= `failed: ${firstLine(err)}`;
  };
  try {
    if (!('skip' in postgres)) {
      try {
        pgDb = await postgres.database('fanout');
        pgServer = child('--sitrep', { [DATABASE_ENV]: pgDb.url });
        await reply(pgServer, has('started'), 'Sitrep server on PostgreSQL');
      } catch (err) {
        pgFailed(err);
      }
    }
    const { urls } = (await reply(rx, has('urls'), 'receivers')) as { urls: string[] };
    await reply(server, has('started'), 'Sitrep server');
    await reply(loop, has('ready'), 'fetch loop');
    // Both servers set up at once (not measured).
    const setupT0 = performance.now();
    let pgSetupMs = NaN;
    server.send({ setup: urls });
    const pgSetup = async (c: ChildProcess): Promise<number> => {
      try {
        c.send({ setup: urls });
        const { rss } = (await reply(c, has('ready'), 'Sitrep setup on PostgreSQL')) as unknown as { rss: number };
        pgSetupMs = performance.now() - setupT0;
        return rss;
      } catch (err) {
        pgFailed(err);
        return 0;
      }
    };
    const pgReady = pgServer && !pgWhy ? pgSetup(pgServer) : Promise.resolve(0);
    const { rss: setupRss } = (await reply(server, has('ready'), 'Sitrep setup')) as unknown as { rss: number };
    const setupMs = performance.now() - setupT0;
    const pgSetupRss = await pgReady;

    const stats = async () => {
      rx.send('stats');
      return (await reply(rx, has('distinctIds'), 'receiver stats')) as unknown as ReceiverStats;
    };
    const reset = async () => {
      rx.send('reset');
      await reply(rx, has('reset'), 'receiver reset');
    };
    // Set by the first round's requests (in sitrepRound, which TypeScript does not follow).
    let sample = null as ReceiverStats['sample'];
    const sitrepRound = async (c: ChildProcess, what: string): Promise<Round> => {
      await reset();
      c.send('round');
      const s = (await reply(c, has('peakRss'), what)) as unknown as SitrepRound;
      const seen = await stats();
      sample ??= seen.sample;
      return { ...s, received: seen.requests, distinct: seen.distinctIds };
    };

    const sitrepRounds: Round[] = [];
    const pgRounds: Round[] = [];
    const baselineRounds: FetchRound[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      sitrepRounds.push(await sitrepRound(server, 'Sitrep round'));
      if (!sample) throw new Error('no webhook reached the receivers');
      await reset();
      // The same bytes and headers Sitrep sent (its first request's), to the same 5,000 URLs.
      loop.send({ urls, body: sample.body, headers: sample.headers } satisfies FetchSpec);
      baselineRounds.push((await reply(loop, has('ok'), 'fetch loop round')) as unknown as FetchRound);
      if (pgServer && !pgWhy) {
        try {
          pgRounds.push(await sitrepRound(pgServer, 'Sitrep round on PostgreSQL'));
        } catch (err) {
          pgFailed(err);
        }
      }
    }

    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const rateOf = (rounds: Array<{ ms: number }>) => (SUBSCRIBERS * rounds.length) / (sum(rounds.map((r) => r.ms)) / 1000);
    const baselineRate = rateOf(baselineRounds);
    const sitrepRate = rateOf(sitrepRounds);
    const ratio = sitrepRate / baselineRate;
    const peakRss = Math.max(...sitrepRounds.map((r) => r.peakRss));
    const whole = (rs: Round[]) => rs.every((r) => r.delivered === SUBSCRIBERS && r.notDelivered === 0 && r.distinct === SUBSCRIBERS);
    const baselineWhole = baselineRounds.every((r) => r.ok === SUBSCRIBERS);
    const complete = whole(sitrepRounds) && baselineWhole;
    const pgMeasured = !pgWhy && pgRounds.length === ROUNDS;
    const pgRate = pgMeasured ? rateOf(pgRounds) : NaN;
    const pgRatio = pgRate / baselineRate;
    const pgComplete = pgMeasured && whole(pgRounds) && baselineWhole;
    const pgPeakRss = pgMeasured ? Math.max(...pgRounds.map((r) => r.peakRss)) : NaN;
    const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;
    const target = `≥ ${TARGET_RATIO}× of a raw fetch loop at ${BASELINE_CONCURRENCY} concurrency`;
    const rateLabel = `fan-out to ${SUBSCRIBERS.toLocaleString('en')} webhooks: deliveries/s`;
    const rssLabel = 'fan-out: peak RSS of the Sitrep server';
    /** One engine's throughput against the fetch loop's. */
    const rateFigure = (engine: 'SQLite' | 'PostgreSQL', rate: number, r: number, done: boolean) => ({
      label: rateLabel,
      engine,
      value: Math.round(rate),
      unit: 'deliveries/s',
      baseline: Math.round(baselineRate),
      ratio: Number(r.toFixed(2)),
      target,
      met: r >= TARGET_RATIO && done,
    });
    const roundLine = (engine: string, r: Round, i: number) =>
      `round ${i + 1}, ${engine}: Sitrep ${(r.ms / 1000).toFixed(2)} s (approve command to the last row recorded delivered; ${r.delivered} delivered, ${r.notDelivered} not; ${(r.cpuMs / 1000).toFixed(2)} s of CPU; receivers saw ${r.received} requests, ${r.distinct} distinct webhook-ids)`;
    return {
      name: 'fanout',
      setup: `one approved update to ${SUBSCRIBERS.toLocaleString('en')} webhook subscribers on ${HOSTS} loopback hosts answering after ${ANSWER_MS} ms, through approve → outbox → worker → webhook target, with Sitrep on SQLite${pgMeasured ? ' and on PostgreSQL' : ''}, vs a raw fetch loop at ${BASELINE_CONCURRENCY} concurrency to the same URLs; ${ROUNDS} rounds each, alternating`,
      figures: [
        rateFigure('SQLite', sitrepRate, ratio, complete),
        { label: rssLabel, engine: 'SQLite', value: Math.round(peakRss / 1024 / 1024), unit: 'MB' },
        pgMeasured
          ? rateFigure('PostgreSQL', pgRate, pgRatio, pgComplete)
          : notMeasured(rateLabel, 'deliveries/s', pgWhy ?? 'failed: fewer rounds than asked', target),
        pgMeasured
          ? { label: rssLabel, engine: 'PostgreSQL', value: Math.round(pgPeakRss / 1024 / 1024), unit: 'MB' }
          : notMeasured(rssLabel, 'MB', pgWhy ?? 'failed: fewer rounds than asked'),
      ],
      notes: [
        ...sitrepRounds.flatMap((r, i) => [
          roundLine('SQLite', r, i),
          `round ${i + 1}, fetch loop: ${(baselineRounds[i]!.ms / 1000).toFixed(2)} s (${baselineRounds[i]!.ok} ok, ${baselineRounds[i]!.failed} failed; ${(baselineRounds[i]!.cpuMs / 1000).toFixed(2)} s of CPU)`,
          ...(pgRounds[i] ? [roundLine('PostgreSQL', pgRounds[i]!, i)] : []),
        ]),
        `peak RSS of the Sitrep server process on SQLite: ${mb(peakRss)} (${mb(setupRss)} before the first round, with ${SUBSCRIBERS.toLocaleString('en')} subscriptions set up)${
          pgMeasured ? `; on PostgreSQL: ${mb(pgPeakRss)} (${mb(pgSetupRss)} before the first round)` : ''
        }; of the fetch loop process: ${mb(Math.max(...baselineRounds.map((r) => r.peakRss)))}`,
        `set-up (${SUBSCRIBERS.toLocaleString('en')} subscribe commands and an incident, not measured): ${(setupMs / 1000).toFixed(1)} s on SQLite${
          Number.isNaN(pgSetupMs) ? '' : `, ${(pgSetupMs / 1000).toFixed(1)} s on PostgreSQL (both at once)`
        }`,
        `floor for the baseline: ${SUBSCRIBERS.toLocaleString('en')} × ${ANSWER_MS} ms / ${BASELINE_CONCURRENCY} = ${((SUBSCRIBERS * ANSWER_MS) / BASELINE_CONCURRENCY / 1000).toFixed(2)} s`,
        'skip' in postgres
          ? `PostgreSQL: ${postgres.skip} (set SITREP_BENCH_DATABASE_URL to a server whose user may CREATE DATABASE, or install the postgresql package for a throwaway cluster)`
          : `PostgreSQL: ${postgres.where}, a new empty database for this run${pgWhy ? `; ${pgWhy}` : ''}`,
        ...(complete ? [] : ['INCOMPLETE on SQLite: not every subscriber got exactly one delivery in every round (see the round lines)']),
        ...(pgMeasured && !pgComplete ? ['INCOMPLETE on PostgreSQL: not every subscriber got exactly one delivery in every round (see the round lines)'] : []),
      ],
    };
  } finally {
    await Promise.all([stop(server), stop(loop), stop(rx), ...(pgServer ? [stop(pgServer)] : [])]);
    await pgDb?.drop().catch(() => undefined);
    if (!('skip' in postgres)) postgres.close();
  }
}

const role = process.argv[2];
const direct = runDirectly(self);
if (direct && role === '--receivers') void receivers();
else if (direct && role === '--fetch') baseline();
else if (direct && role === '--sitrep') void sitrep();
else if (direct) runAndExit('fanout', run);
