import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { createDatabase, dropDatabase } from '../db/admin.pg.js';

// A PostgreSQL server for the runs that need one: the benchmarks that also run Sitrep on
// PostgreSQL, and the test suite (test/support/postgres.ts shares the throwaway cluster below).
//
// - SITREP_BENCH_DATABASE_URL, else SITREP_TEST_DATABASE_URL: that server, as a user that may
//   CREATE DATABASE.
// - Otherwise, when Debian's server binaries are here (/usr/lib/postgresql/<n>/bin), a throwaway
//   cluster: initdb in a temporary directory (as the postgres user when running as root, since
//   initdb refuses root), pg_ctl on a free port listening on 127.0.0.1 only, stopped and removed
//   by whoever started it, and by a watchdog once the process it watches is gone (Ctrl-C, kill -9).
// - Otherwise none, and the PostgreSQL runs say they were skipped.
//
// Every run gets a new, empty database on it (CREATE DATABASE), dropped after the run.

/** The bin directory of the newest Debian PostgreSQL server installed, or null. */
export function pgBin(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')) && existsSync(join(base, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], 'bin') : null;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const asRoot = () => userInfo().uid === 0;

/** Runs a PostgreSQL binary, as the postgres user when we are root. */
function runPg(bin: string, args: string[]): void {
  if (asRoot()) execFileSync('runuser', ['-u', 'postgres', '--', bin, ...args], { stdio: 'pipe' });
  else execFileSync(bin, args, { stdio: 'pipe' });
}

export interface Cluster {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  /** Its temporary directory (data, socket, log). */
  dir: string;
  /** Stops the server at once and removes its directory (and the watchdog's other paths); safe to call twice. */
  stop(): void;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A new cluster in a temporary directory, on a free port of 127.0.0.1, tuned for throwaway data
 * (no fsync). A watchdog stops it and removes its directory and `alsoRemove` once process
 * `watchPid` is gone, however that process ended.
 */
export async function startCluster(opts: { watchPid: number; prefix?: string; alsoRemove?: string[] }): Promise<Cluster> {
  const bin = pgBin();
  if (!bin) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
  const dir = mkdtempSync(join(tmpdir(), opts.prefix ?? 'sitrep-pgdata-'));
  const data = join(dir, 'data');
  const remove = [dir, ...(opts.alsoRemove ?? [])];
  try {
    if (asRoot()) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
      chownSync(dir, uid, gid);
    }
    runPg(join(bin, 'initdb'), ['-D', data, '--auth=trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C.UTF-8']);
    const port = await freePort();
    runPg(join(bin, 'pg_ctl'), [
      '-D',
      data,
      '-l',
      join(dir, 'log'),
      '-w',
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`,
      'start',
    ]);
    const pgCtl = join(bin, 'pg_ctl');
    const stopArgs = ['-D', data, '-m', 'immediate', 'stop'];
    const stopShell = [...(asRoot() ? ['runuser', '-u', 'postgres', '--'] : []), pgCtl, ...stopArgs].map(quote).join(' ');
    const watchdog: ChildProcess = spawn(
      'sh',
      ['-c', `while kill -0 ${opts.watchPid} 2>/dev/null; do sleep 1; done; ${stopShell} >/dev/null 2>&1; rm -rf ${remove.map(quote).join(' ')}`],
      { detached: true, stdio: 'ignore' },
    );
    watchdog.unref();
    let stopped = false;
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      dir,
      stop() {
        if (stopped) return;
        stopped = true;
        try {
          runPg(pgCtl, stopArgs);
        } catch {
          // Already stopped (or never fully started): the directory goes either way.
        }
        for (const p of remove) rmSync(p, { recursive: true, force: true });
        if (watchdog.pid !== undefined) {
          try {
            process.kill(watchdog.pid, 'SIGKILL');
          } catch {
            // It already ended.
          }
        }
      },
    };
  } catch (err) {
    for (const p of remove) rmSync(p, { recursive: true, force: true });
    throw err;
  }
}

// --- the benchmarks' server -------------------------------------------------------------------

/** What a PostgreSQL row says when there is no server to run it on. */
export const NO_POSTGRES = 'skipped: no PostgreSQL server';

/**
 * Set by bench/run.ts for the benchmarks it forks, so that they share one server and none starts
 * a cluster of its own: `{ url, where }` of the server, or `{ skip }` saying why there is none.
 */
const SUITE_ENV = 'SITREP_BENCH_SUITE_POSTGRES';

export interface BenchServer {
  url: string;
  /** Where the databases are, for notes (no password). */
  where: string;
}

/** The server the environment names (SITREP_BENCH_DATABASE_URL, else SITREP_TEST_DATABASE_URL), or null. */
export function givenServer(): BenchServer | null {
  for (const name of ['SITREP_BENCH_DATABASE_URL', 'SITREP_TEST_DATABASE_URL']) {
    const url = process.env[name];
    if (url) return { url, where: `the server ${name} names (${hostOf(url)})` };
  }
  return null;
}

const hostOf = (url: string) => {
  try {
    return new URL(url).host;
  } catch {
    return 'an unparsable URL';
  }
};

/**
 * The server for every benchmark of a suite run: the one the environment names, else a throwaway
 * cluster (stopped by stop(), or by its watchdog once this process is gone), else { skip }.
 * Whichever it is goes to the benchmarks this process forks through the environment.
 */
export async function suitePostgres(): Promise<{ server: BenchServer; stop(): void } | { skip: string }> {
  const found = await findServer();
  process.env[SUITE_ENV] = JSON.stringify('skip' in found ? { skip: found.skip } : found.server);
  return found;
}

async function findServer(): Promise<{ server: BenchServer; stop(): void } | { skip: string }> {
  const given = givenServer();
  if (given) return { server: given, stop: () => undefined };
  if (!pgBin()) return { skip: NO_POSTGRES };
  try {
    const cluster = await startCluster({ watchPid: process.pid, prefix: 'sitrep-bench-pg-' });
    const version = /postgresql\/([^/]+)\/bin/.exec(pgBin() ?? '')?.[1];
    const where = `a throwaway PostgreSQL ${version ?? ''} cluster on ${hostOf(cluster.url)} (fsync and synchronous_commit off)`.replace('  ', ' ');
    return { server: { url: cluster.url, where }, stop: () => cluster.stop() };
  } catch (err) {
    return { skip: `skipped: the PostgreSQL cluster did not start (${firstLine(err)})` };
  }
}

export interface BenchPostgres {
  where: string;
  /** A new, empty database for one run: its URL, and drop() for after the run. */
  database(tag: string): Promise<{ url: string; drop(): Promise<void> }>;
  /** Stops the cluster when this benchmark started it (run on its own, not by the suite). */
  close(): void;
}

let counter = 0;

/** The PostgreSQL server for one benchmark's runs: the suite's, else as suitePostgres finds one, else { skip }. */
export async function benchPostgres(): Promise<BenchPostgres | { skip: string }> {
  const fromSuite = process.env[SUITE_ENV];
  const found = fromSuite
    ? (() => {
        const s = JSON.parse(fromSuite) as BenchServer | { skip: string };
        return 'skip' in s ? s : { server: s, stop: () => undefined };
      })()
    : await findServer();
  if ('skip' in found) return found;
  const { url, where } = found.server;
  return {
    where,
    async database(tag) {
      const name = `sitrep_bench_${tag.replace(/[^a-z0-9]/g, '_')}_${process.pid}_${++counter}_${Date.now().toString(36)}`;
      const made = await createDatabase(url, name);
      return { url: made, drop: () => dropDatabase(url, name) };
    },
    close: () => found.stop(),
  };
}

export function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n').find((l) => l.trim()) ?? text;
}
