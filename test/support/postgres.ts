import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

// A real PostgreSQL for the tests that run on both engines.
//
// - SITREP_TEST_DATABASE_URL set: that server (CI's cluster, or one of your own), as a user that
//   may CREATE DATABASE.
// - Otherwise, when Debian's server binaries are here (/usr/lib/postgresql/<n>/bin), a throwaway
//   cluster: initdb in a temporary directory (as the postgres user when running as root, since
//   initdb refuses root), pg_ctl on a free port listening on 127.0.0.1 only. One cluster serves
//   every test file of a vitest run (the first file to ask starts it; the others wait for its
//   URL), and a watchdog stops it and removes its directory when the run's main process exits.
// - Otherwise the PostgreSQL part is skipped, and says so.
//
// Each test file gets its own database (CREATE DATABASE), so files run in parallel.

export interface TestPostgres {
  /** A URL of a new, empty database on the server. */
  url: string;
  /** Drops that database (every connection to it must be closed first, or it is forced). */
  drop(): Promise<void>;
}

/** Why PostgreSQL tests cannot run here, or null when they can. */
export function postgresUnavailable(): string | null {
  if (process.env.SITREP_TEST_DATABASE_URL) return null;
  if (pgBin()) return null;
  return 'no PostgreSQL: set SITREP_TEST_DATABASE_URL or install the postgresql package (/usr/lib/postgresql/*/bin); the PostgreSQL part is skipped';
}

let warned = false;
/** Says once per file that the PostgreSQL part is skipped (a visible skip, not a silent pass). */
export function sayPostgresSkipped(): void {
  const why = postgresUnavailable();
  if (why && !warned) {
    warned = true;
    console.warn(`[sitrep tests] ${why}`);
  }
}

function pgBin(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')) && existsSync(join(base, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], 'bin') : null;
}

async function freePort(): Promise<number> {
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

/** The cluster of this vitest run: started by the first file that asks, shared by the rest. */
async function clusterUrl(): Promise<string> {
  const given = process.env.SITREP_TEST_DATABASE_URL;
  if (given) return given;
  const bin = pgBin();
  if (!bin) throw new Error(postgresUnavailable() ?? 'no PostgreSQL');
  // Test files run in forks of vitest's main process: their parent's pid names the run.
  const run = join(tmpdir(), `sitrep-test-pg-${process.ppid}`);
  const urlFile = join(run, 'url');
  let mine = false;
  try {
    mkdirSync(run);
    mine = true;
  } catch {
    // Another file of this run is starting it.
  }
  if (!mine) {
    for (let i = 0; i < 600 && !existsSync(urlFile); i++) await new Promise((r) => setTimeout(r, 100));
    if (!existsSync(urlFile)) throw new Error(`the test PostgreSQL cluster did not start (see ${join(run, 'log')})`);
    return readFileSync(urlFile, 'utf8');
  }
  const dir = mkdtempSync(join(tmpdir(), 'sitrep-pgdata-'));
  const data = join(dir, 'data');
  if (asRoot()) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  runPg(join(bin, 'initdb'), ['-D', data, '--auth=trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C.UTF-8']);
  const port = await freePort();
  const log = join(dir, 'log');
  runPg(join(bin, 'pg_ctl'), [
    '-D',
    data,
    '-l',
    log,
    '-w',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`,
    'start',
  ]);
  // Stops the cluster and removes it once this run's main process is gone.
  const stop = asRoot() ? `runuser -u postgres -- ${join(bin, 'pg_ctl')} -D ${data} -m immediate stop` : `${join(bin, 'pg_ctl')} -D ${data} -m immediate stop`;
  const watchdog = spawn('sh', ['-c', `while kill -0 ${process.ppid} 2>/dev/null; do sleep 1; done; ${stop} >/dev/null 2>&1; rm -rf ${dir} ${run}`], {
    detached: true,
    stdio: 'ignore',
  });
  watchdog.unref();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  writeFileSync(urlFile, url);
  return url;
}

let counter = 0;

/** A new database on the test server (for one test file, or one test), empty or a copy of `template`. */
export async function createTestDatabase(opts: { template?: string } = {}): Promise<TestPostgres> {
  const server = await clusterUrl();
  const name = `sitrep_t${process.pid}_${++counter}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  try {
    await admin.query(`create database "${name}"${opts.template ? ` template "${opts.template}"` : ''}`);
  } finally {
    await admin.end();
  }
  const u = new URL(server);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: server });
      await c.connect();
      try {
        await c.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}
