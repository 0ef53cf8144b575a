import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { migrationsDir } from './paths.js';
import * as schema from './schema.pg.js';

// PostgreSQL's connection pool and migrations (db/store.pg.ts is the store over them).

export type PgDb = NodePgDatabase<typeof schema>;

export const PG_MIGRATIONS_DIR = migrationsDir('migrations-pg');

/**
 * Every value comes back as the same JavaScript type SQLite gives: bigint columns (the epoch
 * milliseconds) and count(*) as numbers, not strings (they stay far below 2^53), and sums
 * (numeric) too. Per pool, not node-postgres's global parsers: nothing else in the process changes.
 */
const INT8 = 20;
const NUMERIC = 1700;
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8 || oid === NUMERIC) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
};

export interface PoolOptions {
  /** Connections the pool opens at most (node-postgres's default is 10). */
  max?: number;
}

export function openPool(url: string, opts: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10, types });
  // An idle connection that dies (the server restarted, a proxy closed it) is dropped from the
  // pool and replaced on next use; without a listener the error would end the process.
  pool.on('error', () => undefined);
  return pool;
}

/** A drizzle database over a pool or one of its connections. */
export function pgDrizzle(client: pg.Pool | pg.PoolClient): PgDb {
  return drizzle(client, { schema });
}

/** Any constant both sides agree on: the advisory lock migrations are applied under. */
const MIGRATION_LOCK = 0x5_17_2e_90;

/**
 * Applies db/migrations-pg under a session advisory lock, so that replicas starting together take
 * turns: the first applies what is missing, the others then find nothing left to do. Drizzle's
 * migrator runs the missing migrations in one transaction and records them in
 * drizzle.__drizzle_migrations.
 */
export async function migratePg(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await migrate(pgDrizzle(client), { migrationsFolder: PG_MIGRATIONS_DIR });
    } finally {
      await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}
