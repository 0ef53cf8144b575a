import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../db/store.js';

// Nesting is explicit (store.nested(tx)). Work a transaction starts for later (a command that
// kicks the outbox worker) gets a transaction of its own, behind the writer's lock, and never
// becomes part of whatever transaction happens to be open on the connection by then.

const dirs: string[] = [];
const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function open(): SqliteStore {
  const dir = mkdtempSync(join(tmpdir(), 'sitrep-store-ctx-'));
  dirs.push(dir);
  const store = new SqliteStore(join(dir, 'sitrep.db'));
  stores.push(store);
  store.writer.$client.exec('create table t (id integer primary key, v text not null)');
  return store;
}

const values = (store: SqliteStore) => store.writer.all<{ v: string }>(sql`select v from t order by id`).map((r) => r.v);

describe('work started from inside a finished transaction', () => {
  it('commits on its own even when another transaction is open and then rolls back', async () => {
    const store = open();
    let later!: Promise<void>;
    let fired!: () => void;
    const timerFired = new Promise<void>((r) => (fired = r));
    await store.transaction(async (tx) => {
      tx.run(sql`insert into t (v) values ('first')`);
      // Made inside this transaction, run after it committed.
      setTimeout(() => {
        later = store.transaction(async (tx2) => {
          tx2.run(sql`insert into t (v) values ('from the timer')`);
        });
        fired();
      }, 20);
    });
    // A second transaction holds the writer while the timer fires, then rolls back.
    const failing = store.transaction(async (tx) => {
      tx.run(sql`insert into t (v) values ('rolled back')`);
      await timerFired;
      throw new Error('refused');
    });
    await expect(failing).rejects.toThrow('refused');
    await later;
    // The timer's write is its own commit: not part of (and not lost with) the one rolled back.
    expect(values(store)).toEqual(['first', 'from the timer']);
  });

  it('a nested transaction commits with its outer one, or not at all', async () => {
    const store = open();
    await expect(
      store.transaction(async (tx) => {
        tx.run(sql`insert into t (v) values ('outer')`);
        await store.nested(tx).transaction(async (inner) => {
          inner.run(sql`insert into t (v) values ('inner')`);
        });
        throw new Error('outer fails');
      }),
    ).rejects.toThrow('outer fails');
    expect(values(store)).toEqual([]);
  });
});
