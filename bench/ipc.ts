import type { ChildProcess } from 'node:child_process';
import { realpathSync } from 'node:fs';
import type { BenchFigure, BenchResult } from './result.js';

// What the benchmarks that fork their servers, receivers and load generators share: waiting for a
// child's answer, stopping a child, printing a result, and telling "run directly" from "imported by
// the suite".

/** The next message from `c` that `pick` accepts; fails when `c` exits or stays silent too long. */
export function reply<T>(c: ChildProcess, pick: (m: unknown) => m is T, what: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${what}: no answer within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: unknown) => {
      if (pick(m)) done(null, m);
    };
    const onExit = (code: number | null) => done(new Error(`${what}: the process exited (${code})`));
    const done = (err: Error | null, m?: T) => {
      clearTimeout(timer);
      c.off('message', onMessage);
      c.off('exit', onExit);
      if (err) reject(err);
      else resolve(m as T);
    };
    c.on('message', onMessage);
    c.once('exit', onExit);
  });
}

/** A guard for IPC messages: an object carrying `key`. */
export const has =
  <K extends string>(key: K) =>
  (m: unknown): m is Record<K, unknown> =>
    typeof m === 'object' && m !== null && key in m;

/** Asks a child to stop ('stop' over IPC) and kills it if it has not exited after `graceMs`. */
export async function stop(c: ChildProcess, graceMs = 5_000): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      c.kill('SIGKILL');
      resolve();
    }, graceMs);
    c.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    c.send('stop');
  });
}

/**
 * A PostgreSQL figure that was not measured, saying why in its row: skipped (no server: not a
 * miss) or failed (a miss of its target, when it has one).
 */
export function notMeasured(label: string, unit: string, why: string, target?: string): BenchFigure {
  return {
    label,
    engine: 'PostgreSQL',
    value: NaN,
    unit,
    notMeasured: why,
    ...(target ? { target } : {}),
    ...(why.startsWith('skipped') ? {} : { met: false }),
  };
}

/** Prints a result: each figure, its baseline and ratio, and whether its target held. */
export function printResult(r: BenchResult): void {
  const lines = [`${r.name}: ${r.setup}`];
  for (const f of r.figures) {
    const label = f.engine ? `${f.label} (${f.engine})` : f.label;
    if (f.notMeasured !== undefined) {
      lines.push(`  ${label}: ${f.notMeasured}`);
      continue;
    }
    const target = f.target !== undefined ? `target ${f.target}: ${f.met ? 'met' : 'MISSED'}` : '';
    const vs =
      f.baseline !== undefined ? `  (baseline ${f.baseline} ${f.unit}, ratio ${f.ratio}×${target ? `; ${target}` : ''})` : target ? `  (${target})` : '';
    lines.push(`  ${label}: ${f.value} ${f.unit}${vs}`);
  }
  for (const n of r.notes ?? []) lines.push(`  ${n}`);
  process.stdout.write(lines.join('\n') + '\n');
}

/** Whether the file at `self` is the script node was started with (not imported by the suite). */
export function runDirectly(self: string): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(self);
  } catch {
    return false;
  }
}

/** A benchmark run on its own: print its result and exit 1 when a target was missed or it failed. */
export function runAndExit(name: string, run: () => Promise<BenchResult>): void {
  run().then(
    (r) => {
      printResult(r);
      process.exit(r.figures.every((f) => f.met !== false) ? 0 : 1);
    },
    (err: unknown) => {
      process.stderr.write(`${name} failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
