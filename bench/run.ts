import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, realpathSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchFigure, BenchResult } from './result.js';
import { suitePostgres } from './postgres.js';

// `npm run bench`: every benchmark, one after another, each in its own process (so one cannot
// leave timers, sockets, heap or children behind for the next, and its peak RSS is its own). Each
// module exports `run(): Promise<BenchResult>`; this file imports it in a child and gets the
// result back. A benchmark whose file is not there, that fails, or that overruns its time is
// recorded as such and the suite goes on. Prints each figure with its ratio against the baseline
// measured in the same run, and writes bench/results.md with the machine, the date and what
// missed its target. Never part of `npm test`.
//
// The fan-out and Slack ack benchmarks also run Sitrep on PostgreSQL, each run on a new, empty
// database of one server for the whole suite: the one SITREP_BENCH_DATABASE_URL (or
// SITREP_TEST_DATABASE_URL) names, else a throwaway cluster started here when the postgresql
// package's binaries are installed and stopped at the end (bench/postgres.ts). Their rows are
// marked (PostgreSQL) beside their (SQLite) rows, against the same baseline and target; without a
// server they say "skipped: no PostgreSQL server".
//
//   npm run bench                        (builds first)
//   node dist/bench/run.js [name…]       (only these, e.g. `timeline cold-start`)

interface Bench {
  /** File name under bench/ without extension, also what the command line selects by. */
  id: string;
  title: string;
  /** What the issue asks of it, for a benchmark that has not been written yet. */
  target: string;
  /** It also runs Sitrep on PostgreSQL, on the suite's server (see bench/postgres.ts). */
  postgres?: true;
}

const BENCHES: Bench[] = [
  { id: 'slack-ack', title: 'Slack command ack', target: '≥ 0.6× a no-op Bolt app, p99 < 50 ms, 0 acks ≥ 3 s', postgres: true },
  { id: 'summary', title: 'status-page storm', target: '≥ 0.8× bare node:http, p99 < 20 ms' },
  { id: 'fanout', title: 'fan-out', target: '≥ 0.7× a raw fetch loop at 256 concurrency', postgres: true },
  { id: 'ratelimit', title: 'rate-limited fan-out', target: '≤ 1.1× the lower bound the limit allows, 0 lost, 0 duplicated' },
  { id: 'timeline', title: 'timeline', target: '≤ 1.3× raw prepared statements' },
  { id: 'outbox-history', title: 'outbox history', target: 'within 10% of an empty database' },
  { id: 'cold-start', title: 'CLI cold start', target: '≤ 1.5× a bare better-sqlite3 + drizzle read' },
];

/** The whole suite must finish in 5 minutes on 2 cores; a benchmark gets what is left, at most this. */
const SUITE_BUDGET_MS = 290_000;
const BENCH_CAP_MS = 150_000;

const self = fileURLToPath(import.meta.url);
const RESULTS = fileURLToPath(new URL('../../bench/results.md', import.meta.url));

type Outcome =
  | { bench: Bench; status: 'ok'; result: BenchResult; ms: number }
  | { bench: Bench; status: 'missing' | 'failed' | 'timed out' | 'skipped'; reason: string; ms: number };

// --- child: one benchmark ---------------------------------------------------------------------

async function runOne(id: string): Promise<void> {
  const mod = (await import(pathToFileURL(fileURLToPath(new URL(`./${id}.js`, import.meta.url))).href)) as { run?: () => Promise<BenchResult> };
  if (typeof mod.run !== 'function') throw new Error(`bench/${id}.ts exports no run()`);
  const result = await mod.run();
  await new Promise<void>((resolve) => process.send!({ result }, () => resolve()));
}

// --- parent: the suite ------------------------------------------------------------------------

/** The benchmark running now: stopped with everything it started if the suite is interrupted. */
let running: ChildProcess | null = null;

function runChild(bench: Bench, capMs: number): Promise<Outcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  // Its own process group, so that a benchmark that overruns goes with everything it started
  // (which also means Ctrl-C does not reach it: see the signal handlers in main).
  const child: ChildProcess = fork(self, ['--one', bench.id], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], detached: true });
  running = child;
  return new Promise((resolve) => {
    let result: BenchResult | undefined;
    let error: string | undefined;
    let settled = false;
    const finish = (o: Outcome) => {
      if (settled) return;
      settled = true;
      running = null;
      clearTimeout(timer);
      resolve(o);
    };
    const timer = setTimeout(() => {
      killGroup(child);
      finish({ bench, status: 'timed out', reason: `still running after ${Math.round(capMs / 1000)} s; stopped`, ms: elapsed() });
    }, capMs);
    child.on('message', (m: { result?: BenchResult; error?: string }) => {
      if (m.result) result = m.result;
      if (m.error) error = m.error;
    });
    child.once('exit', (code, signal) => {
      // Whatever the benchmark left running in its group goes too.
      killGroup(child);
      if (result) finish({ bench, status: 'ok', result, ms: elapsed() });
      else finish({ bench, status: 'failed', reason: error ?? `exited with ${signal ?? code} before reporting a result`, ms: elapsed() });
    });
  });
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // The group is already gone.
  }
}

const num = (n: number) => (Number.isInteger(n) ? n.toLocaleString('en-US') : n.toLocaleString('en-US', { maximumFractionDigits: 2 }));

function figureLine(f: BenchFigure): string {
  const label = f.engine ? `${f.label} (${f.engine})` : f.label;
  if (f.notMeasured !== undefined) return `${label}: ${f.notMeasured}`;
  const parts = [`${label}: ${num(f.value)} ${f.unit}`];
  if (f.baseline !== undefined) parts.push(`baseline ${num(f.baseline)} ${f.unit}`);
  if (f.ratio !== undefined) parts.push(`ratio ${f.ratio.toFixed(2)}`);
  if (f.target) parts.push(`target ${f.target}: ${f.met === undefined ? '—' : f.met ? 'met' : 'MISSED'}`);
  return parts.join(' · ');
}

function printOutcome(o: Outcome): void {
  const head = `== ${o.bench.title} (bench/${o.bench.id}.ts, ${(o.ms / 1000).toFixed(1)} s)`;
  if (o.status !== 'ok') {
    process.stdout.write(`${head}: ${o.status.toUpperCase()}: ${o.reason}\n\n`);
    return;
  }
  const lines = [head, `   ${o.result.setup}`, ...o.result.figures.map((f) => `   ${figureLine(f)}`), ...(o.result.notes ?? []).map((n) => `   · ${n}`)];
  process.stdout.write(lines.join('\n') + '\n\n');
}

function machine(postgres: string | null): string[] {
  const cpu = cpus();
  return [
    `- CPU: ${cpu[0]?.model.trim() ?? 'unknown'}, ${cpu.length} cores`,
    `- memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} GiB free at the start)`,
    `- Node.js ${process.version} on ${process.platform}/${process.arch}`,
    ...(postgres ? [`- PostgreSQL, for the rows marked (PostgreSQL): ${postgres}`] : []),
  ];
}

const md = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function resultsMarkdown(outcomes: Outcome[], started: Date, totalMs: number, load: { before: number[]; after: number[] }, postgres: string | null): string {
  const missed: string[] = [];
  const out: string[] = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench\` (bench/run.ts) on ${started.toISOString().replace('T', ' ').slice(0, 16)} UTC; the suite took ${(totalMs / 1000).toFixed(0)} s.`,
    'Every ratio is against a baseline measured in the same run on the same machine, and is "higher is better": a time is divided into its baseline, a throughput divides its baseline.',
    '',
    '## Machine',
    '',
    ...machine(postgres),
    // The suite itself keeps two to four processes busy, so only the figure from before it started
    // tells of other work on the machine.
    `- load average (1 min) ${load.before[0]!.toFixed(2)} before the suite started (${load.after[0]!.toFixed(2)} at its end, its own processes included)${
      load.before[0]! > cpus().length / 2 ? ': other work was sharing the CPUs, so the figures are noisy' : ''
    }`,
    '',
  ];
  const rows: string[] = ['| benchmark | figure | value | baseline | ratio | target | met |', '|---|---|---|---|---|---|---|'];
  const details: string[] = [];
  for (const o of outcomes) {
    if (o.status !== 'ok') {
      rows.push(`| ${md(o.bench.title)} | — | — | — | — | ${md(o.bench.target)} | ${o.status}: ${md(o.reason)} |`);
      missed.push(`- ${o.bench.title}: ${o.status} (${o.reason})`);
      continue;
    }
    for (const f of o.result.figures) {
      const title = f.engine ? `${o.bench.title} (${f.engine})` : o.bench.title;
      if (f.notMeasured !== undefined) {
        rows.push(`| ${md(title)} | ${md(f.label)} | — | — | — | ${f.target ? md(f.target) : '—'} | ${md(f.notMeasured)} |`);
        if (f.met === false) missed.push(`- ${title}: ${f.label}: ${f.notMeasured}`);
        continue;
      }
      const met = f.met === undefined ? '—' : f.met ? 'met' : '**missed**';
      rows.push(
        `| ${md(title)} | ${md(f.label)} | ${num(f.value)} ${md(f.unit)} | ${f.baseline === undefined ? '—' : `${num(f.baseline)} ${md(f.unit)}`} | ${f.ratio === undefined ? '—' : f.ratio.toFixed(2)} | ${f.target ? md(f.target) : '—'} | ${met} |`,
      );
      if (f.met === false) missed.push(`- ${title}: ${f.label}: ${num(f.value)} ${f.unit} against ${f.target}`);
    }
    details.push(
      `### ${o.bench.title}`,
      '',
      `${o.result.setup} (bench/${o.bench.id}.ts, ${(o.ms / 1000).toFixed(1)} s)`,
      '',
      ...(o.result.notes ?? []).map((n) => `- ${n}`),
      '',
    );
  }
  out.push('## Figures', '', ...rows, '', '## Missed targets', '', ...(missed.length ? missed : ['None.']), '', '## Notes', '', ...details);
  return out.join('\n');
}

async function main(): Promise<number> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !BENCHES.some((b) => b.id === w));
  if (unknown.length) {
    process.stderr.write(`unknown benchmark ${unknown.join(', ')}; choose from ${BENCHES.map((b) => b.id).join(', ')}\n`);
    return 2;
  }
  const selected = wanted.length ? BENCHES.filter((b) => wanted.includes(b.id)) : BENCHES;
  const started = new Date();
  const t0 = performance.now();
  const before = loadavg();
  // One PostgreSQL server for the benchmarks that also run on it (each run makes its own database
  // there): the one SITREP_BENCH_DATABASE_URL names, or a throwaway cluster stopped at the end,
  // also when the suite fails or is interrupted (and by its watchdog should this process be killed).
  let stopPostgres = () => {};
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      if (running) killGroup(running);
      stopPostgres();
      process.stderr.write(`\nbench suite interrupted (${signal}); bench/results.md left as it was\n`);
      process.exit(130);
    });
  }
  let postgres: string | null = null;
  if (selected.some((b) => b.postgres)) {
    const found = await suitePostgres();
    if ('skip' in found) postgres = found.skip;
    else {
      stopPostgres = found.stop; // idempotent
      postgres = found.server.where;
    }
    process.stdout.write(`PostgreSQL for the benchmarks that also run on it: ${postgres}\n`);
  }
  try {
    return await suite({ wanted, selected, postgres, started, t0, before, doneWithPostgres: () => stopPostgres() });
  } finally {
    stopPostgres();
  }
}

interface SuiteRun {
  wanted: string[];
  selected: Bench[];
  /** Where the PostgreSQL runs go, or why there are none (null: no benchmark selected runs on it). */
  postgres: string | null;
  started: Date;
  /** When the suite started (its 5 minutes count from here, the cluster's start included). */
  t0: number;
  before: number[];
  /**
   * Called once the last benchmark that runs on PostgreSQL is done: the server (its autovacuum of
   * what the fan-out wrote, above all) must not share the CPUs with the benchmarks after it.
   */
  doneWithPostgres: () => void;
}

async function suite({ wanted, selected, postgres, started, t0, before, doneWithPostgres }: SuiteRun): Promise<number> {
  const lastOnPostgres = selected.filter((b) => b.postgres).at(-1);
  const outcomes: Outcome[] = [];
  for (const bench of selected) {
    const left = SUITE_BUDGET_MS - (performance.now() - t0);
    let o: Outcome;
    if (!existsSync(fileURLToPath(new URL(`./${bench.id}.js`, import.meta.url)))) {
      o = { bench, status: 'missing', reason: `bench/${bench.id}.ts is not there (or not built)`, ms: 0 };
    } else if (left < 5_000) {
      o = { bench, status: 'skipped', reason: "the suite's 5-minute budget ran out before it", ms: 0 };
    } else {
      process.stdout.write(`running ${bench.title} (bench/${bench.id}.ts)…\n`);
      o = await runChild(bench, Math.min(BENCH_CAP_MS, left));
    }
    printOutcome(o);
    outcomes.push(o);
    if (bench === lastOnPostgres) doneWithPostgres();
  }
  const totalMs = performance.now() - t0;
  const text = resultsMarkdown(outcomes, started, totalMs, { before, after: loadavg() }, postgres);
  // Only a run of the whole suite replaces the record; a partial run prints its figures only.
  if (!wanted.length) {
    writeFileSync(RESULTS, text + '\n');
    process.stdout.write(`wrote ${RESULTS} (${(totalMs / 1000).toFixed(0)} s in all)\n`);
  } else {
    process.stdout.write(`${(totalMs / 1000).toFixed(0)} s in all; bench/results.md is written by a run of the whole suite\n`);
  }
  return outcomes.some((o) => o.status === 'failed' || o.status === 'timed out') ? 1 : 0;
}

if (process.argv[2] === '--one' && process.send) {
  runOne(process.argv[3]!).then(
    () => process.exit(0),
    (err: unknown) => {
      const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
      process.send!({ error: message.split('\n').slice(0, 3).join(' ') }, () => process.exit(1));
    },
  );
} else if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(self)) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`bench suite failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 2;
    },
  );
}
