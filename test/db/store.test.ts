import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { isBusyError } from '../../db/client.js';
import { SqliteStore } from '../../db/store.js';

// The storage port on SQLite (db/store.ts), through real database files: async transactions that
// never interleave on the writer connection, reads that see only committed rows, nested
// transactions as savepoints, and a lock held by another process waited for without stopping the
// event loop.

const dirs: string[] = [];
const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function open(opts: ConstructorParameters<typeof SqliteStore>[1] = {}): SqliteStore {
  const dir = mkdtempSync(join(tmpdir(), 'sitrep-store-'));
  dirs.push(dir);
  const store = new SqliteStore(join(dir, 'sitrep.db'), opts);
  stores.push(store);
  store.writer.$client.exec('create table t (id integer primary key, v text not null)');
  return store;
}

const count = (db: { get<T>(q: ReturnType<typeof sql>): T }) => db.get<{ n: number }>(sql`select count(*) as n from t`).n;
const tick = () => new Promise((r) => setTimeout(r, 5));

describe('the SQLite store', () => {
  it('runs async transactions one at a time: a second one waits while the first awaits mid-way', async () => {
    const store = open();
    const order: string[] = [];
    const a = store.transaction(async (tx) => {
      tx.run(sql`insert into t (v) values ('a1')`);
      order.push('a: wrote 1');
      await tick();
      tx.run(sql`insert into t (v) values ('a2')`);
      order.push('a: wrote 2');
    });
    const b = store.transaction(async (tx) => {
      order.push(`b: sees ${count(tx)}`);
      tx.run(sql`insert into t (v) values ('b')`);
    });
    await Promise.all([a, b]);
    expect(order).toEqual(['a: wrote 1', 'a: wrote 2', 'b: sees 2']);
    expect(await store.read(count)).toBe(3);
  });

  it('rolls a failed transaction back whole, and the next one runs', async () => {
    const store = open();
    await expect(
      store.transaction(async (tx) => {
        tx.run(sql`insert into t (v) values ('x')`);
        await tick();
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(await store.read(count)).toBe(0);
    await store.transaction((tx) => tx.run(sql`insert into t (v) values ('y')`));
    expect(await store.read(count)).toBe(1);
  });

  it('reads see committed rows only, and do not wait for a transaction in progress', async () => {
    const store = open();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const writing = store.transaction(async (tx) => {
      tx.run(sql`insert into t (v) values ('pending')`);
      await held;
    });
    await tick();
    expect(await store.read(count)).toBe(0); // answered while the transaction is still open
    release();
    await writing;
    expect(await store.read(count)).toBe(1);
  });

  it('a transaction nested in a transaction is a savepoint: its failure undoes only its own writes', async () => {
    const store = open();
    await store.transaction(async (tx) => {
      tx.run(sql`insert into t (v) values ('outer')`);
      await store
        .nested(tx)
        .transaction(async (inner) => {
          inner.run(sql`insert into t (v) values ('inner')`);
          throw new Error('inner refused');
        })
        .catch(() => undefined);
      await store.nested(tx).transaction((inner) => inner.run(sql`insert into t (v) values ('inner ok')`));
    });
    const rows = await store.read((db) => db.all<{ v: string }>(sql`select v from t order by id`));
    expect(rows.map((r) => r.v)).toEqual(['outer', 'inner ok']);
  });

  it('waits for another process’s write lock on timers, so the event loop keeps running, then proceeds', async () => {
    const store = open();
    const other = new Database(store.file);
    other.exec('BEGIN IMMEDIATE');
    other.exec("insert into t (v) values ('other')");
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const writing = store.transaction((tx) => tx.run(sql`insert into t (v) values ('mine')`));
    await new Promise((r) => setTimeout(r, 100));
    const ticksWhileWaiting = ticks;
    other.exec('COMMIT');
    other.close();
    await writing;
    clearInterval(timer);
    expect(ticksWhileWaiting).toBeGreaterThan(5); // a busy handler sleeping on the loop would allow none
    expect(await store.read(count)).toBe(2);
  });

  it('gives up with the busy error once the lock is held past its timeout, having written nothing', async () => {
    const store = open({ busyTimeoutMs: 100 });
    const other = new Database(store.file);
    other.exec('BEGIN IMMEDIATE');
    try {
      const err = await store.transaction((tx) => tx.run(sql`insert into t (v) values ('mine')`)).catch((e: unknown) => e);
      expect(isBusyError(err)).toBe(true);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(await store.read(count)).toBe(0);
    await store.transaction((tx) => tx.run(sql`insert into t (v) values ('later')`));
    expect(await store.read(count)).toBe(1);
  });

  it('an in-memory database has one connection: reads wait for the writer and still see only committed rows', async () => {
    const store = new SqliteStore(':memory:');
    stores.push(store);
    store.writer.$client.exec('create table t (id integer primary key, v text not null)');
    const order: string[] = [];
    const writing = store.transaction(async (tx) => {
      tx.run(sql`insert into t (v) values ('a')`);
      await tick();
      order.push('committed');
    });
    const reading = store.read((db) => order.push(`read ${count(db)}`));
    await Promise.all([writing, reading]);
    expect(order).toEqual(['committed', 'read 1']);
  });
});
