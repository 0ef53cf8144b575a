import Database from 'better-sqlite3';
import { sql } from 'drizzle-orm';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { engineOf, register } from './engine.js';
import * as schema from './schema.js';
import { migrationsDir } from './paths.js';

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };
/** What drizzle's own (synchronous) transaction callback receives. */
type DrizzleTx = Parameters<Parameters<Db['transaction']>[0]>[0];
/** A handle queries write through: the Store's writer inside its transaction, or drizzle's transaction. */
export type Tx = Db | DrizzleTx;
export type DbOrTx = Tx;

export const MIGRATIONS_DIR = migrationsDir('migrations');

/** How long a writer waits for another process's write lock before giving up (ms). */
export const BUSY_TIMEOUT_MS = 5_000;

/**
 * The database holds subscribers' signing secrets and every internal note: only its owner may read
 * it. SQLite gives the -wal and -shm files the main file's mode, so creating the main file 0600
 * before SQLite opens it covers all three; an existing file (and its companions) is tightened.
 */
function createPrivately(file: string): void {
  mkdirSync(dirname(resolve(file)), { recursive: true, mode: 0o700 });
  if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      if (existsSync(f)) chmodSync(f, 0o600);
    } catch {
      // Not ours to change (a read-only copy, another owner): SQLite still opens it as before.
    }
  }
}

/** The SQLite connection a handle from openDatabase (or one of its transactions) runs on. */
export function connectionOf(db: DbOrTx): Database.Database | undefined {
  const e = engineOf(db);
  return e.kind === 'sqlite' ? e.client : undefined;
}

/** How many compiled statements a connection keeps for reuse (least recently used go first). */
const STATEMENT_CACHE = 512;

/**
 * Keeps the connection's compiled statements for reuse. drizzle's query builder compiles its SQL
 * afresh on every call (sqlite3_prepare: parsing and planning, the largest single cost of a
 * command's queries); the same text now reuses the statement compiled the first time. A statement
 * comes back in its default mode (objects, not raw rows), whatever its last user asked for.
 */
function cacheStatements(raw: Database.Database): void {
  const compile = raw.prepare.bind(raw);
  const cache = new Map<string, Database.Statement>();
  const prepare = (source: string): Database.Statement => {
    const hit = cache.get(source);
    if (hit && !hit.busy) {
      cache.delete(source);
      cache.set(source, hit);
      if (hit.reader) hit.raw(false);
      return hit;
    }
    const stmt = compile(source);
    if (!hit) {
      cache.set(source, stmt);
      if (cache.size > STATEMENT_CACHE) cache.delete(cache.keys().next().value!);
    }
    return stmt;
  };
  raw.prepare = prepare as Database.Database['prepare'];
}

const registerSqlite = (handle: object, client: Database.Database) => register(handle, { kind: 'sqlite', tables: schema, client });

/**
 * A read-only connection to a database openDatabase made (and migrated): committed data only, so a
 * long read never holds the writer. Its handle gets prepared statements like the writer's.
 */
export function openReadOnly(file: string): Db {
  const raw = new Database(file, { readonly: true, fileMustExist: true });
  raw.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  cacheStatements(raw);
  const db = drizzle(raw, { schema }) as Db;
  registerSqlite(db, raw);
  return db;
}

/**
 * Opens (creating and migrating on first use) the SQLite database. WAL + busy_timeout let the CLI
 * and a running server share one file: a writer waits for the other instead of failing at once.
 *
 * Every `db.transaction` begins IMMEDIATE: it takes the write lock up front, waiting on the busy
 * timeout. A deferred transaction that reads and then writes cannot wait: when another process
 * committed in between, SQLite refuses the upgrade at once with "database is locked", whatever
 * the timeout. Read-only work outside transactions is unaffected.
 */
export function openDatabase(file: string): Db {
  if (file !== ':memory:') createPrivately(file);
  const sqlite = new Database(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  sqlite.pragma('synchronous = NORMAL');
  cacheStatements(sqlite);
  const db = drizzle(sqlite, { schema }) as Db;
  const deferred = db.transaction.bind(db);
  registerSqlite(db, sqlite);
  db.transaction = ((fn, config) =>
    deferred(
      (tx) => {
        registerSqlite(tx, sqlite);
        return fn(tx);
      },
      { behavior: 'immediate', ...config },
    )) as Db['transaction'];
  if (behindMigrations(sqlite)) migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  return db;
}

/**
 * Whether the database lacks a shipped migration. drizzle's migrator reads and hashes every
 * migration file before it asks the database which it has; a database that already holds the
 * newest one (every start but the first after an upgrade) would get nothing from it, so only the
 * journal's last entry is read to find out. The test is the migrator's own: it applies the
 * migrations created after the newest one recorded.
 */
function behindMigrations(sqlite: Database.Database): boolean {
  const journal = JSON.parse(readFileSync(join(MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8')) as { entries: Array<{ when: number }> };
  const newest = journal.entries.at(-1)?.when;
  if (newest === undefined) return true;
  let applied: unknown;
  try {
    applied = (sqlite.prepare('SELECT max(created_at) AS at FROM __drizzle_migrations').get() as { at: unknown } | undefined)?.at;
  } catch {
    return true; // a new database: no migrations table yet
  }
  return applied === null || applied === undefined || Number(applied) < newest;
}

/** True for SQLite's "another connection holds the lock" failures (after the busy timeout ran out). */
export function isBusyError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED');
}

/** Throws when the database cannot answer a trivial query (/healthz). Synchronous: it is one round trip. */
export function pingDatabase(db: Db): void {
  db.get(sql`select 1`);
}

/** The largest rowid change counter: lets a server notice writes made by another process. */
export function dataVersion(db: Db): number {
  return Number(db.$client.pragma('data_version', { simple: true }));
}
