import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepared } from '../../db/queries/prepared.js';
import { PgStore } from '../../db/store.pg.js';
import { createTestDatabase, postgresUnavailable, sayPostgresSkipped, type TestPostgres } from '../support/postgres.js';
import { readFileSync } from 'node:fs';

/** The migrations drizzle-kit generated for PostgreSQL (its journal lists each one). */
const MIGRATION_COUNT: number = JSON.parse(readFileSync(new URL('../../db/migrations-pg/meta/_journal.json', import.meta.url), 'utf8')).entries.length;

// The storage port on PostgreSQL (db/store.pg.ts), on a real server (test/support/postgres.ts):
// migrations applied once however many replicas start together, transactions committed or rolled
// back whole, reads of committed rows only, savepoints for nested transactions, write
// transactions of two replicas taking turns, and a version that moves when any replica commits.

const skip = postgresUnavailable();
sayPostgresSkipped();

type Q = { execute(q: ReturnType<typeof sql>): Promise<{ rows: Array<Record<string, unknown>> }> };
const rows = (db: unknown, q: ReturnType<typeof sql>) => (db as Q).execute(q).then((r) => r.rows);
const count = async (db: unknown) => Number((await rows(db, sql`select count(*) as n from t`))[0]!.n);
const insert = (db: unknown, v: string) => rows(db, sql`insert into t (v) values (${v})`);
const tick = () => new Promise((r) => setTimeout(r, 5));

describe.skipIf(skip)('the PostgreSQL store', () => {
  let database: TestPostgres;
  const stores: PgStore[] = [];
  const open = async () => {
    const s = await PgStore.open(database.url, { max: 4 });
    stores.push(s);
    return s;
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    const s = await open();
    await s.pool.query('create table t (id serial primary key, v text not null)');
  });
  afterAll(async () => {
    for (const s of stores.splice(0)) await s.close().catch(() => undefined);
    await database?.drop();
  });

  it('applies the migrations once when several replicas start at the same moment on a new database', async () => {
    const fresh = await createTestDatabase();
    try {
      const replicas = await Promise.all(Array.from({ length: 6 }, () => PgStore.open(fresh.url, { max: 2 })));
      const c = new pg.Client({ connectionString: fresh.url });
      await c.connect();
      const applied = await c.query('select count(*)::int as n from drizzle.__drizzle_migrations');
      const tables = await c.query("select count(*)::int as n from information_schema.tables where table_schema = 'public'");
      await c.end();
      for (const r of replicas) await r.close();
      // Each migration in db/migrations-pg recorded once, however many replicas raced to apply it.
      expect(applied.rows[0].n).toBe(MIGRATION_COUNT);
      expect(tables.rows[0].n).toBe(22); // schema.ts's 21 tables and data_version
    } finally {
      await fresh.drop();
    }
  });

  it('commits a transaction whole, or on failure rolls it back whole', async () => {
    const store = await open();
    await store.transaction(async (tx) => {
      await insert(tx, 'a');
      await tick();
      await insert(tx, 'b');
    });
    await expect(
      store.transaction(async (tx) => {
        await insert(tx, 'x');
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect((await store.read((db) => rows(db, sql`select v from t order by id`))).map((r) => r.v)).toEqual(['a', 'b']);
  });

  it('reads see committed rows only, and answer while a transaction is open', async () => {
    const store = await open();
    const before = await store.read(count);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const writing = store.transaction(async (tx) => {
      await insert(tx, 'pending');
      await held;
    });
    await tick();
    expect(await store.read(count)).toBe(before);
    release();
    await writing;
    expect(await store.read(count)).toBe(before + 1);
  });

  it('a nested transaction is a savepoint: its failure undoes only its own writes, its reads see the outer writes', async () => {
    const store = await open();
    await store.pool.query('truncate t');
    let seen = -1;
    await store.transaction(async (tx) => {
      await insert(tx, 'outer');
      await store
        .nested(tx)
        .transaction(async (inner) => {
          await insert(inner, 'inner');
          throw new Error('inner refused');
        })
        .catch(() => undefined);
      await store.nested(tx).transaction((inner) => insert(inner, 'inner ok'));
      seen = await store.nested(tx).read(count);
    });
    expect(seen).toBe(2);
    expect((await store.read((db) => rows(db, sql`select v from t order by id`))).map((r) => r.v)).toEqual(['outer', 'inner ok']);
  });

  it('write transactions of two replicas take turns: the second begins after the first commits', async () => {
    const a = await open();
    const b = await open();
    await a.pool.query('truncate t');
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let wrote!: () => void;
    const aWrote = new Promise<void>((r) => (wrote = r));
    const first = a.transaction(async (tx) => {
      await insert(tx, 'a');
      order.push('a wrote');
      wrote();
      await held;
      order.push('a commits');
    });
    // a holds the write lock once it has written: only then does b try to begin.
    await aWrote;
    const second = b.transaction(async (tx) => {
      order.push(`b sees ${await count(tx)}`);
      await insert(tx, 'b');
    });
    await new Promise((r) => setTimeout(r, 50));
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['a wrote', 'a commits', 'b sees 1']);
  });

  it('version() changes when another replica commits a write, not for a rollback or a transaction that wrote nothing', async () => {
    const watcher = await open();
    const other = await open();
    const v0 = await watcher.version();
    await other.transaction((tx) => count(tx));
    await other.transaction(() => Promise.reject(new Error('no'))).catch(() => undefined);
    await expect(
      other.transaction(async (tx) => {
        await insert(tx, 'rolled back');
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(await watcher.version()).toBe(v0);
    await other.transaction((tx) => insert(tx, 'committed'));
    const v1 = await watcher.version();
    expect(v1).not.toBe(v0);
  });

  it('gives bigint values back as numbers (epoch milliseconds, counts) to db/queries, as SQLite does', async () => {
    const store = await open();
    const r = await store.read((db) => prepared(db, 'select cast(? as bigint) as "at", count(*) as n from t').get(1_796_160_000_000));
    expect(r).toEqual({ at: 1_796_160_000_000, n: expect.any(Number) });
  });
});
