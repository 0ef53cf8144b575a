import type Database from 'better-sqlite3';
import type * as schema from './schema.js';

// Which engine a database handle belongs to, so the same functions in db/queries run on SQLite and
// on PostgreSQL without their callers knowing. Every handle a store hands out (SQLite's writer and
// reader, a PostgreSQL pool's database and each transaction's) is registered here when it is made,
// with its engine, its tables and the raw client its statements run on.
//
// Queries take their tables from the handle (`const t = tablesOf(db)`) instead of importing
// db/schema, build with drizzle's query builder (whose dialect is the handle's), and await the
// result: `await q` for rows, `first(q)` for one, `affected(await q)` for how many an update or
// delete changed. Both engines' tables have the same TypeScript types (db/schema.pg.ts mirrors
// db/schema.ts, and test/db/schema-mirror.test.ts checks it), so the queries are typed against
// SQLite's and run with whichever the handle has.

export type Tables = typeof schema;

/** The raw PostgreSQL client a handle runs on: a pool (any connection) or one pooled connection. */
export interface PgClient {
  query(config: { text: string; values?: unknown[]; name?: string }): Promise<{ rows: unknown[]; rowCount: number | null }>;
}

export type Engine =
  | { readonly kind: 'sqlite'; readonly tables: Tables; readonly client: Database.Database }
  | { readonly kind: 'pg'; readonly tables: Tables; readonly client: PgClient };

const engines = new WeakMap<object, Engine>();

/** Records what `handle` is (a store calls this for every handle it makes). */
export function register(handle: object, engine: Engine): void {
  engines.set(handle, engine);
}

/** Stand-ins for the synchronous SQLite handle on PostgreSQL (db/open.ts), and what they refuse with. */
const unavailable = new WeakMap<object, string>();

/** Marks `handle` as one that only says `why` when a query is run on it. */
export function registerUnavailable(handle: object, why: string): void {
  unavailable.set(handle, why);
}

export function engineOf(handle: object): Engine {
  const e = engines.get(handle);
  if (!e) throw new Error(unavailable.get(handle) ?? 'this database handle was not opened by a Sitrep store');
  return e;
}

/** The handle's tables: db/schema.ts on SQLite, db/schema.pg.ts on PostgreSQL. */
export function tablesOf(handle: object): Tables {
  return engineOf(handle).tables;
}

/** Whether the handle is a SQLite connection's (false for PostgreSQL's, and for handles no store made). */
export function isSqlite(handle: object): boolean {
  return engines.get(handle)?.kind === 'sqlite';
}

export function isPg(handle: object): boolean {
  return engineOf(handle).kind === 'pg';
}

/** The first row of a query's rows (undefined when there is none). */
export async function first<T>(rows: PromiseLike<T[]>): Promise<T | undefined> {
  return (await rows)[0];
}

/**
 * How many rows an awaited update, insert or delete changed: better-sqlite3's RunResult says
 * `changes`, node-postgres's QueryResult `rowCount`.
 */
export function affected(result: unknown): number {
  if (typeof result === 'object' && result !== null) {
    if ('changes' in result && typeof result.changes === 'number') return result.changes;
    if ('rowCount' in result && typeof result.rowCount === 'number') return result.rowCount;
  }
  return 0;
}
