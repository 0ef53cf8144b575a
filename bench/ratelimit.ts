import { fork, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { App } from '../src/main.js';
import { epochNow, startRateLimitedSlack, type Expectation, type SlackStats } from './ratelimit-slack.js';
import type { BenchResult } from './result.js';
import { runDirectly, runAndExit, stop } from './ipc.js';

// Rate-limited fan-out: one approved update to 200 Slack customer channels (`subscribe slack:C…`)
// on a Slack that keeps its posting limit, about one message per second per channel, and answers
// 429 with Retry-After beyond it. Through the real path: the `approve` command publishes, the
// customer-channel outlet writes each channel's rows (the incident's message, then the update in
// its thread) in its transaction, the server's outbox worker claims them and the Slack
// customer-channel target posts them over HTTP. The clock runs from the approve command until the
// last channel has its last message.
//
// The lower bound is what the limit itself allows: each channel needs its m messages (m = 2) at
// most one per second, so its last message cannot arrive sooner than (m − 1) s after its first,
// and the channels are independent of each other. The bound leaves nothing at all for the
// command, the 400 posts' own time on the way, or the worker: it cannot be reached, only
// approached. Target: within 1.1× of it (bound / actual ≥ 0.909), with nothing lost, nothing
// posted twice, and no 429 provoked. Two more figures say where the time went: against the floor
// this run's own fan-out left (once the last channel had its first message, the limit allowed its
// second exactly 1 s later), and how long after its first message each channel got its second.
//
// Every party has its own process: the Slack stand-in (./ratelimit-slack.ts), so answering 400
// posts does not slow Sitrep's event loop, and it times arrivals on its side; the Sitrep server,
// logging at info as a server does (to /dev/null here); this process only orchestrates.
//
// The measured fan-out is the server's second of its kind. The first, the same shape to 200 other
// channels, loads the Slack client, opens its connections and gets the path compiled, as a server
// that has been up a while has it; its time is reported too, as what the first fan-out after a
// start takes. Loopback only; bounded in time.
//
//   npm run bench             (builds, then runs the benchmarks)
//   node dist/bench/ratelimit.js

const CHANNELS = 200;
/** Measured fan-outs, each to its own 200 channels; the figure is their median. */
const ROUNDS = 3;
const MESSAGES_PER_CHANNEL = 2; // the incident's message in the channel, and the update in its thread
const INTERVAL_MS = 1_000; // Slack: about one message per second per channel
const TARGET_RATIO = 1 / 1.1;
const TOKEN = 'xoxb-bench-ratelimit';
/** A run that takes longer than this is a failed measurement, not a hang. */
const CAP_MS = 20_000;
/** After the last expected message: how long to keep listening for a late repeat. */
const SETTLE_MS = 1_500;

const self = fileURLToPath(import.meta.url);
/**
 * Diagnostics only: SITREP_BENCH_PROFILE=file.cpuprofile writes a CPU profile of the Sitrep server
 * from just before the approve command until the run has settled (open it in Chrome's DevTools;
 * SITREP_BENCH_PROFILE_US sets the sampling interval, 100 µs by default). Profiling slows the
 * server, so a profiled run's figures are not the benchmark's.
 */
const PROFILE = process.env.SITREP_BENCH_PROFILE;

async function cpuProfiler(file: string): Promise<{ start(): Promise<void>; stop(): Promise<void> }> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: Number(process.env.SITREP_BENCH_PROFILE_US ?? 100) });
  return {
    start: () => session.post('Profiler.start'),
    async stop() {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
    },
  };
}
/** Round 0 is the warm-up; rounds 1 to ROUNDS are measured. */
const channelId = (round: number, i: number) => `${round === 0 ? 'C0WARM' : `C0BENCH${round}`}${String(i).padStart(4, '0')}`;
const plainChannelId = (i: number) => `C0PLAIN${String(i).padStart(4, '0')}`;

// --- this process: a plain HTTP client, for the floor the machine leaves -------------------------

/**
 * One chat.postMessage per channel, all at once, from a plain node:http client on a keep-alive
 * pool of up to 256 sockets with one open at the start: what posting the first wave
 * costs this machine with nothing else to do (no command, no outbox, no rendering). The body is
 * an incident message of about the size Sitrep posts. Resolves, once every answer is in, with
 * when the wave started (epoch ms, after the one warm-up post).
 */
async function plainFirstWave(apiUrl: string, channels: string[]): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const url = new URL('chat.postMessage', apiUrl);
  const text = 'Checkout errors: We are investigating errors at checkout. Card payments may fail; retrying usually works.';
  // Serialised once, each post adding only its channel, as Sitrep's prepared post does: the
  // baseline does no work per post that Sitrep is spared.
  const rest = JSON.stringify({
    text,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: 'Checkout errors' } },
      { type: 'section', text: { type: 'mrkdwn', text: `*Investigating*: ${text}` } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: 'Posted by the incident team · updates follow in this thread' }] },
    ],
  }).slice(1);
  const post = (channel: string) =>
    new Promise<void>((resolve, reject) => {
      const body = Buffer.from(`{"channel":${JSON.stringify(channel)},${rest}`);
      const req = request(
        url,
        {
          method: 'POST',
          agent,
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json; charset=utf-8', 'content-length': body.length },
        },
        (res) => {
          res.resume();
          res.on('end', resolve);
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  try {
    await post(plainChannelId(0));
    const started = epochNow();
    await Promise.all(channels.map(post));
    return started;
  } finally {
    agent.destroy();
  }
}

// --- child: the rate-limited Slack --------------------------------------------------------------

type ToSlack = { expect: Expectation } | 'stats' | 'stop';
type FromSlack = { apiUrl: string } | { complete: number } | { stats: SlackStats };

async function slackChild(): Promise<void> {
  const slack = await startRateLimitedSlack({ token: TOKEN, perChannel: 1 });
  const reply = (m: FromSlack) => process.send?.(m);
  reply({ apiUrl: slack.apiUrl });
  process.on('message', (m: ToSlack) => {
    if (m === 'stats') reply({ stats: slack.stats() });
    else if (m === 'stop') void slack.close().finally(() => process.exit(0));
    else slack.expect(m.expect, (at) => reply({ complete: at }));
  });
  process.on('disconnect', () => process.exit(0));
}

interface SlackChild {
  child: ChildProcess;
  apiUrl: string;
  expect(e: Expectation): Promise<number>;
  stats(): Promise<SlackStats>;
  stop(): Promise<void>;
}

function startSlackChild(): Promise<SlackChild> {
  const child = fork(self, ['--slack'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = <T>(pick: (m: FromSlack) => T | undefined, ms: number, what: string) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.off('message', on);
        reject(new Error(`Slack stand-in: ${what} did not come within ${ms} ms`));
      }, ms);
      const on = (m: FromSlack) => {
        const v = pick(m);
        if (v === undefined) return;
        clearTimeout(timer);
        child.off('message', on);
        resolve(v);
      };
      child.on('message', on);
    });
  return next((m) => ('apiUrl' in m ? m.apiUrl : undefined), 20_000, 'start-up').then((apiUrl) => ({
    child,
    apiUrl,
    expect(e) {
      const complete = next((m) => ('complete' in m ? m.complete : undefined), CAP_MS, 'every expected message');
      child.send({ expect: e } satisfies ToSlack);
      return complete;
    },
    stats() {
      const s = next((m) => ('stats' in m ? m.stats : undefined), 10_000, 'stats');
      child.send('stats' satisfies ToSlack);
      return s;
    },
    stop: () => stop(child),
  }));
}

// --- child: Sitrep -------------------------------------------------------------------------------

type Step = 'prepare' | 'approve' | 'rows' | 'stop';
type ToSitrep = { step: Step; round: number };
type Done = { done: Step; t0?: number; rows?: OutboxSummary };
type FromSitrep = { ready: true } | Done | { error: string };

interface OutboxSummary {
  delivered: number;
  total: number;
  maxAttempts: number;
}

async function must(app: App, text: string): Promise<void> {
  const r = await app.run(text, 'cli:bench', { platform: 'cli' });
  if (!r.ok) throw new Error(`${text}: ${r.error.message}`);
}

/** The Sitrep server: its stderr (the log, at info as a server logs) goes nowhere. */
async function sitrepChild(apiUrl: string): Promise<void> {
  // Loaded here only: the orchestrator and the Slack stand-in have no use for Sitrep's modules.
  const [{ loadConfig }, { createLogger }, { createApp, startServer }] = await Promise.all([
    import('../src/config.js'),
    import('../src/logger.js'),
    import('../src/main.js'),
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'sitrep-bench-ratelimit-'));
  const config = loadConfig({
    SITREP_DB: join(dir, 'bench.db'),
    LOG_LEVEL: 'info',
    USER: 'bench',
    SITREP_APPROVAL: 'self',
    SLACK_SIGNING_SECRET: 'bench-ratelimit-signing-secret-0123',
    SLACK_BOT_TOKEN: TOKEN,
    SLACK_API_URL: apiUrl,
    SLACK_INCIDENTS_CHANNEL: 'C0INCIDENTS',
  });
  const app = createApp(config, { log: createLogger('info') });
  const server = await startServer(app, 0, '127.0.0.1');
  const reply = (m: FromSitrep) => process.send?.(m);
  const profile = PROFILE ? await cpuProfiler(PROFILE) : null;
  const steps: Record<Step, (round: number) => Promise<FromSitrep>> = {
    // Round r: the last round's channels make way for 200 new ones, and incident r + 1 has its
    // first update drafted (D-(r + 1)). Round 0, the warm-up, the first fan-out of its kind, gets
    // the Slack client loaded and the path compiled before the measured ones.
    prepare: async (round) => {
      if (round === 0) await must(app, 'approver add @bench');
      else for (let i = 1; i <= CHANNELS; i++) await must(app, `unsubscribe slack:${channelId(round - 1, i)}`);
      for (let i = 1; i <= CHANNELS; i++) await must(app, `subscribe slack:${channelId(round, i)}`);
      await must(app, `declare "Checkout errors, wave ${round}" sev:2`);
      await must(app, `draft INC-${round + 1} status:investigating We are investigating errors at checkout. Card payments may fail; retrying usually works.`);
      return { done: 'prepare' };
    },
    approve: async (round) => {
      if (profile && round === 1) await profile.start();
      const t0 = epochNow();
      await must(app, `approve D-${round + 1}`);
      return { done: 'approve', t0 };
    },
    rows: async () => {
      if (profile) await profile.stop();
      const r = app.db.$client
        .prepare("select count(*) as total, sum(state = 'delivered') as delivered, max(attempts) as maxAttempts from outbox where target like 'slack:C0BENCH%'")
        .get() as OutboxSummary;
      return { done: 'rows', rows: r };
    },
    stop: async () => {
      await server.close();
      await app.close();
      rmSync(dir, { recursive: true, force: true });
      return { done: 'stop' };
    },
  };
  process.on('message', (m: ToSitrep) => {
    steps[m.step](m.round).then(
      (r) => {
        reply(r);
        if (m.step === 'stop') process.exit(0);
      },
      (err: unknown) => reply({ error: (err as Error).stack ?? String(err) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  reply({ ready: true });
}

function startSitrepChild(apiUrl: string): Promise<{ child: ChildProcess; step(s: Step, round?: number): Promise<Done> }> {
  const child = fork(self, ['--sitrep', apiUrl], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  const next = (ms: number) =>
    new Promise<FromSitrep>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Sitrep did not answer within ${ms} ms`)), ms);
      const onExit = (code: number | null) => reject(new Error(`Sitrep exited with ${code}`));
      child.once('exit', onExit);
      child.once('message', (m: FromSitrep) => {
        clearTimeout(timer);
        child.off('exit', onExit);
        if ('error' in m) reject(new Error(m.error));
        else resolve(m);
      });
    });
  return next(30_000).then(() => ({
    child,
    step(step, round = 0) {
      const r = next(CAP_MS) as Promise<Done>;
      child.send({ step, round } satisfies ToSitrep);
      return r;
    },
  }));
}

// --- this process: the orchestra -------------------------------------------------------------------

const f1 = (n: number) => Math.round(n * 10) / 10;
const median = (sorted: number[]) => sorted[Math.floor(sorted.length / 2)] ?? NaN;
const f3 = (n: number) => Math.round(n * 1000) / 1000;

export async function run(): Promise<BenchResult> {
  const slack = await startSlackChild();
  let sitrep: Awaited<ReturnType<typeof startSitrepChild>> | null = null;
  try {
    sitrep = await startSitrepChild(slack.apiUrl);
    const rounds: Array<{ round: number; t0: number; actualMs: number; stats: SlackStats }> = [];
    for (let round = 0; round <= ROUNDS; round++) {
      await sitrep.step('prepare', round);
      const channels = Array.from({ length: CHANNELS }, (_, i) => channelId(round, i + 1));
      const complete = slack.expect({ channels, roots: 1, replies: MESSAGES_PER_CHANNEL - 1 });
      const { t0 } = await sitrep.step('approve', round);
      const at = await complete;
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      rounds.push({ round, t0: t0!, actualMs: at - t0!, stats: await slack.stats() });
    }
    const [warm, ...measured] = rounds as [(typeof rounds)[0], ...typeof rounds];
    const { rows } = await sitrep.step('rows');
    // The median round gives the figures; every round must lose nothing and repeat nothing.
    const byTime = [...measured].sort((a, b) => a.actualMs - b.actualMs);
    const { t0, actualMs, stats } = byTime[Math.floor(byTime.length / 2)]!;
    const lost = measured.reduce((a, r) => a + r.stats.lost, 0);
    const duplicated = measured.reduce((a, r) => a + r.stats.duplicated, 0);
    const refused = rounds.at(-1)!.stats.refused;

    // The same first wave from a plain client on this machine, Sitrep idle: how soon the last
    // channel can have its first message here at all, and so the floor for the whole run.
    const plain = Array.from({ length: CHANNELS }, (_, i) => plainChannelId(i + 1));
    const plainDone = slack.expect({ channels: plain, roots: 1, replies: 0 });
    const p0 = await plainFirstWave(slack.apiUrl, plain);
    const plainMs = (await plainDone) - p0;

    const boundMs = (MESSAGES_PER_CHANNEL - 1) * INTERVAL_MS;
    const firsts = stats.firstPerChannel;
    const floorMs = (firsts.at(-1) ?? NaN) - t0 + (MESSAGES_PER_CHANNEL - 1) * INTERVAL_MS;
    const ratio = boundMs / actualMs;
    const clean = lost === 0 && duplicated === 0 && refused === 0;
    return {
      name: 'ratelimit',
      setup: `one approved update to ${CHANNELS} Slack customer channels, Slack keeping 1 message/s per channel (429 + Retry-After beyond), approve command to the last channel's last message; the median of ${ROUNDS} fan-outs, each to its own channels`,
      figures: [
        {
          label: `time until all ${CHANNELS} channels had both messages (median of ${ROUNDS} fan-outs)`,
          value: f1(actualMs),
          unit: 'ms',
          baseline: boundMs,
          ratio: f3(ratio),
          target: '≥ 0.909 (within 1.1× of the bound the limit allows)',
          met: ratio >= TARGET_RATIO,
        },
        {
          // How much of the miss is pacing and how much is the fan-out's own time: once the last
          // channel had its first message, the limit allowed its second exactly 1 s later.
          label: "vs the floor this run's own fan-out left (the last channel's first message + 1 s)",
          value: f1(actualMs),
          unit: 'ms',
          baseline: f1(floorMs),
          ratio: f3(floorMs / actualMs),
        },
        {
          // What this machine allows at best: the plain client's first wave, then the limit's second.
          label: "vs the bound plus a plain client's time for the first wave (200 posts from node:http, nothing else running)",
          value: f1(actualMs),
          unit: 'ms',
          baseline: f1(boundMs + plainMs),
          ratio: f3((boundMs + plainMs) / actualMs),
        },
        {
          label: "a channel's second message after its first, median (the limit: 1,000 ms)",
          value: f1(median(stats.spreadPerChannel)),
          unit: 'ms',
          baseline: INTERVAL_MS,
          ratio: f3(INTERVAL_MS / median(stats.spreadPerChannel)),
        },
        { label: `messages lost (all ${ROUNDS} fan-outs)`, value: lost, unit: 'messages', target: '0', met: lost === 0 },
        { label: `messages posted twice (all ${ROUNDS} fan-outs)`, value: duplicated, unit: 'messages', target: '0', met: duplicated === 0 },
        { label: '429 answers provoked (the whole run)', value: refused, unit: 'answers', target: '0', met: refused === 0 },
      ],
      notes: [
        `bound = (${MESSAGES_PER_CHANNEL} messages per channel − 1) × ${INTERVAL_MS} ms = ${boundMs} ms: the limit alone, with no time for the command, the posts or the network`,
        `the ${ROUNDS} fan-outs took ${measured.map((r) => `${f1(r.actualMs)} ms`).join(', ')} (ratios ${measured.map((r) => f3(boundMs / r.actualMs)).join(', ')}); the figures below are the median one's`,
        `every channel's first message arrived between ${f1((firsts[0] ?? NaN) - t0)} and ${f1((firsts.at(-1) ?? NaN) - t0)} ms after approve (the fan-out's own time); the closest two messages in one channel came ${f1(stats.minSpacingMs ?? NaN)} ms apart, the furthest ${f1(stats.spreadPerChannel.at(-1) ?? NaN)} ms (the limit: ${INTERVAL_MS} ms)`,
        `a plain node:http client posting the same ${CHANNELS} first messages at once (a keep-alive pool of up to 256 sockets, one open at the start, one connection per post in flight) had the last one arrive ${f1(plainMs)} ms after it started: what the first wave costs this machine with nothing of Sitrep's work (Sitrep's client opens connections only while its open ones stall, adapters/slack/web-api.ts)`,
        `the first fan-out after the server started (the warm-up, the same shape to ${CHANNELS} other channels, on code not yet compiled): ${f1(warm.actualMs)} ms, ratio ${f3(boundMs / warm.actualMs)}; lost ${warm.stats.lost}, posted twice ${warm.stats.duplicated}, 429 answers ${warm.stats.refused}`,
        `outbox: ${rows?.delivered ?? 0} of ${rows?.total ?? 0} rows delivered, at most ${rows?.maxAttempts ?? 0} attempt(s) each; chat.update calls ${stats.updates}; ${stats.elsewhere} messages to other channels (the warm-up and the incidents channel's thread)`,
        ...(clean ? [] : ['something was lost, repeated or refused: see the figures above']),
      ],
    };
  } finally {
    if (sitrep) await sitrep.step('stop').catch(() => sitrep!.child.kill('SIGKILL'));
    await slack.stop();
  }
}

const role = process.argv[2];
const direct = runDirectly(self);
if (direct && role === '--slack') void slackChild();
else if (direct && role === '--sitrep') void sitrepChild(process.argv[3]!);
else if (direct) runAndExit('ratelimit', run);
