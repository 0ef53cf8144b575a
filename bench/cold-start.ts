import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { createApp } from '../src/main.js';
import type { BenchFigure, BenchResult } from './result.js';
import { writeLoadedFilesProbe } from './loaded-files.js';

// CLI cold start: `sitrep list` as a whole process (node start-up, loading, configuration, opening
// and migrating the database, the read, the rendering, exit) against a bare `node` process that
// opens the same database file with better-sqlite3 and drizzle and reads the incidents table
// (bench/cold-start-baseline.ts). Whole-process wall times, like hyperfine: warm-up runs first
// (file cache), then many runs of each, interleaved so that drift on a shared machine hits every
// command alike; the figure is the median, the minimum is noted. `sitrep list` is timed twice:
// with no chat platform configured, and with Slack and Teams configured (which must not make a
// CLI command load their SDKs). One more run, not timed, lists the files the process loaded.
//
//   node dist/bench/cold-start.js [runs]

const INCIDENTS = 100;
/** Every fifth incident is left open. */
const OPEN = INCIDENTS / 5;
const WARMUP = 3;
const RUNS = 20;
const TARGET_TIMES = 1.5;

const self = fileURLToPath(import.meta.url);
const BIN = fileURLToPath(new URL('../src/bin.js', import.meta.url));
const BASELINE = fileURLToPath(new URL('./cold-start-baseline.js', import.meta.url));

interface Command {
  name: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

async function seed(db: string): Promise<void> {
  const app = createApp(loadConfig({ SITREP_DB: db, LOG_LEVEL: 'silent', USER: 'bench' }), { log: createLogger('silent') });
  try {
    for (let i = 1; i <= INCIDENTS; i++) {
      const r = await app.run(`declare "Incident ${i}: elevated error rates on the API" sev:${1 + (i % 4)}`, 'cli:bench', { platform: 'cli' });
      if (!r.ok) throw new Error(r.error.message);
      // Most incidents of a real history are over; `sitrep list` shows the open ones.
      if (i % 5 !== 0) {
        const done = await app.run(`resolve INC-${i} Resolved.`, 'cli:bench', { platform: 'cli' });
        if (!done.ok) throw new Error(done.error.message);
      }
    }
  } finally {
    await app.close();
  }
}

/** Runs a command to completion and returns its wall time in ms (and its output, to check it). */
function time(c: Command): { ms: number; stdout: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, c.args, { env: c.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${c.name} exited with ${r.status ?? r.signal}: ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Which packages a command's process loaded, by number of files (its own code as "sitrep"). */
function loadedPackages(dir: string, c: Command): Map<string, number> {
  writeLoadedFilesProbe(dir, 'SITREP_BENCH_LOADED');
  const out = join(dir, 'loaded.txt');
  writeFileSync(out, '');
  time({ ...c, args: ['--import', join(dir, 'preload.mjs'), ...c.args], env: { ...c.env, SITREP_BENCH_LOADED: out } });
  const files = new Set(
    readFileSync(out, 'utf8')
      .split('\n')
      .filter((f) => f && !f.startsWith('node:')),
  );
  const counts = new Map<string, number>();
  for (const f of files) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f);
    const name = m ? m[1]! : f.includes('/dist/') ? 'sitrep' : 'other';
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return new Map([...counts].sort((a, b) => b[1] - a[1]));
}

export async function run(runs = RUNS): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sitrep-bench-cold-'));
  try {
    const db = join(dir, 'sitrep.db');
    await seed(db);
    const base: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '', HOME: dir, USER: 'bench' };
    const cli: NodeJS.ProcessEnv = { ...base, SITREP_DB: db };
    const platforms: NodeJS.ProcessEnv = {
      ...cli,
      SLACK_SIGNING_SECRET: 'bench-signing-secret',
      SLACK_BOT_TOKEN: 'xoxb-bench',
      SLACK_INCIDENTS_CHANNEL: 'C0INCIDENTS',
      // Nothing listens there: a CLI command never calls Slack.
      SLACK_API_URL: 'http://127.0.0.1:9/api/',
      MICROSOFT_APP_ID: '00000000-0000-0000-0000-000000000001',
      MICROSOFT_APP_PASSWORD: 'bench-password',
    };
    const commands: Command[] = [
      { name: 'bare node: better-sqlite3 + drizzle, read incidents', args: [BASELINE, db], env: base },
      { name: 'sitrep list', args: [BIN, 'list'], env: cli },
      { name: 'sitrep list, Slack and Teams configured', args: [BIN, 'list'], env: platforms },
    ];
    // Each printed what it read: the baseline every row, `sitrep list` the open incidents.
    commands.forEach((c, i) => {
      const lines = time(c)
        .stdout.split('\n')
        .filter((l) => /INC-\d+/.test(l)).length;
      const expected = i === 0 ? INCIDENTS : OPEN;
      if (lines !== expected) throw new Error(`${c.name} printed ${lines} incidents, expected ${expected}`);
    });
    for (let i = 0; i < WARMUP; i++) for (const c of commands) time(c);
    const ms: number[][] = commands.map(() => []);
    for (let i = 0; i < runs; i++) {
      // A different command goes first in each round.
      for (let k = 0; k < commands.length; k++) {
        const j = (i + k) % commands.length;
        ms[j]!.push(time(commands[j]!).ms);
      }
    }
    const [bare, ...sitrep] = ms.map((xs) => ({ median: median(xs), min: Math.min(...xs) }));
    const figures: BenchFigure[] = sitrep.map((s, i) => ({
      label: `${commands[i + 1]!.name}: median wall time of ${runs} runs`,
      value: round1(s.median),
      unit: 'ms',
      baseline: round1(bare!.median),
      ratio: round2(bare!.median / s.median),
      target: `≤ ${TARGET_TIMES}× the bare read's time (ratio ≥ ${round2(1 / TARGET_TIMES)})`,
      met: s.median <= TARGET_TIMES * bare!.median,
    }));
    const packages = loadedPackages(dir, commands[2]!);
    const sdks = [...packages.keys()].filter((p) => p.startsWith('@slack/') || p.startsWith('@microsoft/') || p.startsWith('@azure/'));
    const baselinePackages = loadedPackages(dir, commands[0]!);
    return {
      name: 'CLI cold start',
      setup: `\`sitrep list\` (the ${OPEN} open incidents of ${INCIDENTS}), whole process, vs a bare node process reading the incidents table with better-sqlite3 + drizzle; ${WARMUP} warm-up and ${runs} interleaved runs each`,
      figures,
      notes: [
        ...sitrep.map(
          (s, i) =>
            `${commands[i + 1]!.name}: ${round2(s.median / bare!.median)}× the bare read's time (median ${round1(s.median)} ms, min ${round1(s.min)} ms; bare median ${round1(bare!.median)} ms, min ${round1(bare!.min)} ms)`,
        ),
        `platform SDKs loaded by \`sitrep list\` with Slack and Teams configured: ${sdks.length ? sdks.join(', ') : 'none'}`,
        `files loaded by \`sitrep list\`: ${[...packages].map(([p, n]) => `${p} ${n}`).join(', ')}`,
        `files loaded by the bare read: ${[...baselinePackages].map(([p, n]) => `${p} ${n}`).join(', ')}`,
      ],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const round1 = (n: number) => Math.round(n * 10) / 10;
const round2 = (n: number) => Math.round(n * 100) / 100;

function isMain(): boolean {
  return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(self);
}

if (isMain()) {
  run(Number(process.argv[2]) || RUNS).then(
    (r) => process.stdout.write(JSON.stringify(r, null, 2) + '\n'),
    (err: unknown) => {
      process.stderr.write(`cold-start failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
