import pg from 'pg';

// Making and dropping whole databases on a PostgreSQL server, for the test suite and the
// benchmarks: each test file and each benchmark run gets a new, empty database of its own
// (CREATE DATABASE), so runs never see each other's rows. Sitrep itself never does this.

/** A database name these helpers accept: lower-case letters, digits and underscores (they are quoted, never escaped). */
const NAME = /^[a-z_][a-z0-9_]{0,62}$/;

async function onServer<T>(server: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: server });
  // A server that goes away mid-query fails the query; without a listener it would end the process.
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** The URL of database `name` on the server `server` names (same host, user and options). */
export function databaseUrl(server: string, name: string): string {
  const u = new URL(server);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Creates database `name` on `server` (empty, or a copy of `template`) and returns its URL. */
export async function createDatabase(server: string, name: string, opts: { template?: string } = {}): Promise<string> {
  for (const n of [name, opts.template]) if (n !== undefined && !NAME.test(n)) throw new Error(`not a database name these helpers make: ${JSON.stringify(n)}`);
  await onServer(server, (c) => c.query(`create database "${name}"${opts.template ? ` template "${opts.template}"` : ''}`));
  return databaseUrl(server, name);
}

/** Drops database `name` on `server` if it is there, closing whatever connections it still has. */
export async function dropDatabase(server: string, name: string): Promise<void> {
  if (!NAME.test(name)) throw new Error(`not a database name these helpers make: ${JSON.stringify(name)}`);
  await onServer(server, (c) => c.query(`drop database if exists "${name}" with (force)`));
}
