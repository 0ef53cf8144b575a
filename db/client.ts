import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as schema from './schema.js';

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };
/** What a transaction callback receives; synchronous by construction (better-sqlite3). */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type DbOrTx = Db | Tx;

/** The package root, found from this file whether it runs from db/ (tests) or dist/db/ (built). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'db', 'migrations'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find db/migrations next to package.json');
}

export const MIGRATIONS_DIR = join(packageRoot(), 'db', 'migrations');

/**
 * Opens (creating and migrating on first use) the SQLite database. WAL + busy_timeout let the CLI
 * and a running server share one file: a writer waits for the other instead of failing at once.
 */
export function openDatabase(file: string): Db {
  if (file !== ':memory:') mkdirSync(dirname(resolve(file)), { recursive: true });
  const sqlite = new Database(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('synchronous = NORMAL');
  const db = drizzle(sqlite, { schema }) as Db;
  migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  return db;
}

/** The largest rowid change counter: lets a server notice writes made by another process. */
export function dataVersion(db: Db): number {
  return Number(db.$client.pragma('data_version', { simple: true }));
}
