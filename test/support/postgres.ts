import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDatabase, dropDatabase } from '../../db/admin.pg.js';
import { pgBin, startCluster } from '../../bench/postgres.js';

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

/** The cluster of this vitest run: started by the first file that asks, shared by the rest. */
async function clusterUrl(): Promise<string> {
  const given = process.env.SITREP_TEST_DATABASE_URL;
  if (given) return given;
  if (!pgBin()) throw new Error(postgresUnavailable() ?? 'no PostgreSQL');
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
  // Stopped and removed (with the run's directory) once this run's main process is gone.
  const { url } = await startCluster({ watchPid: process.ppid, alsoRemove: [run] });
  writeFileSync(urlFile, url);
  return url;
}

let counter = 0;

/** A new database on the test server (for one test file, or one test), empty or a copy of `template`. */
export async function createTestDatabase(opts: { template?: string } = {}): Promise<TestPostgres> {
  const server = await clusterUrl();
  const name = `sitrep_t${process.pid}_${++counter}_${Date.now().toString(36)}`;
  return {
    url: await createDatabase(server, name, opts),
    drop: () => dropDatabase(server, name),
  };
}
