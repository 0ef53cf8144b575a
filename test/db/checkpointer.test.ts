import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createCheckpointer } from '../../db/checkpointer.js';
import { openDatabase, type Db } from '../../db/client.js';

// The server's WAL checkpoints run on a thread of their own (db/checkpointer.ts). What a user
// would see: committed work reaches the database file itself while the server runs (a backup of
// the bare file, or a copy taken without its -wal, has it), though no command's commit copied it.

const dirs: string[] = [];
const dbs: Db[] = [];
afterEach(async () => {
  for (const db of dbs.splice(0)) db.$client.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fresh(): { db: Db; file: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sitrep-checkpoint-'));
  dirs.push(dir);
  const file = join(dir, 'sitrep.db');
  const db = openDatabase(file);
  dbs.push(db);
  db.$client.exec('create table t (id integer primary key, v text)');
  return { db, file, dir };
}

/** Rows of t in the main database file alone, as a copy without its write-ahead log sees them. */
function rowsInMainFile(file: string, dir: string): number {
  const copy = join(dir, `copy-${Math.random().toString(36).slice(2)}.db`);
  copyFileSync(file, copy);
  const c = new Database(copy, { readonly: true });
  try {
    return (c.prepare('select count(*) as n from t').get() as { n: number }).n;
  } catch {
    return 0; // the table itself is not in the main file yet
  } finally {
    c.close();
  }
}

function write(db: Db, n: number): void {
  const ins = db.$client.prepare('insert into t (v) values (?)');
  for (let i = 0; i < n; i++) db.$client.transaction(() => ins.run(`row ${i}`)).immediate();
}

describe('WAL checkpoints on their own thread', () => {
  it('copies committed work into the database file while the server runs, and the server connection no longer does it itself', async () => {
    const { db, file, dir } = fresh();
    const cp = createCheckpointer(db, file, { intervalMs: 50 });
    cp.start();
    try {
      expect(db.$client.pragma('wal_autocheckpoint', { simple: true })).toBe(20_000);
      write(db, 300);
      let seen = 0;
      for (const end = Date.now() + 10_000; seen < 300 && Date.now() < end; await new Promise((r) => setTimeout(r, 50))) seen = rowsInMainFile(file, dir);
      expect(seen).toBe(300);
    } finally {
      await cp.stop();
    }
    // Stopped: the connection checkpoints by itself again, as SQLite does by default.
    expect(db.$client.pragma('wal_autocheckpoint', { simple: true })).toBe(1_000);
  });

  it('without it, the same small writes stay in the write-ahead log (so the thread is what copied them)', async () => {
    const { db, file, dir } = fresh();
    write(db, 300);
    await new Promise((r) => setTimeout(r, 300));
    expect(rowsInMainFile(file, dir)).toBe(0);
  });

  it('does nothing for an in-memory database', async () => {
    const db = openDatabase(':memory:');
    dbs.push(db);
    const cp = createCheckpointer(db, ':memory:');
    cp.start();
    await cp.stop();
    expect(db.$client.pragma('wal_autocheckpoint', { simple: true })).toBe(1_000);
  });
});
