import type pg from 'pg';
import type { Db } from './client.js';
import { migratePg, openPool, pgDrizzle, type PoolOptions } from './client.pg.js';
import { engineOf, register, type Tables } from './engine.js';
import { CHANNEL, listen, type ListenHandlers, type Listener } from './listen.pg.js';
import * as schema from './schema.pg.js';
import { Mutex, nestedStore, type ReadConn, type Store, type WriteTx } from './store.js';

// The storage port (db/store.ts) on PostgreSQL, over a node-postgres pool.
//
// - A write transaction is one PostgreSQL transaction on one pooled connection. It begins by taking
//   a transaction-scoped advisory lock, so write transactions of every replica and CLI run on the
//   database take turns as SQLite's BEGIN IMMEDIATE makes them: the commands' read-then-write
//   logic (numbering, state checks, the outbox's lanes) keeps the meaning it has on SQLite. Inside
//   one process a mutex queues them first, so waiting writers do not each hold a pooled connection.
//   (The outbox worker's claims across replicas are to use FOR UPDATE SKIP LOCKED in their own
//   transactions, not this lock.)
// - nested(tx): savepoints on the transaction's connection; its reads see the transaction's rows.
// - read: any pooled connection, committed data only; never waits for a writer.
// - version(): the data_version row, which every write transaction that wrote anything adds one
//   to just before it commits, so the number changes when any replica or CLI run commits. The
//   same statement sends a pg_notify, delivered at commit (and dropped on rollback) to every
//   process listening: listen() keeps one connection per process on it (db/listen.pg.ts), and
//   the change watcher (src/watch.ts) hears every replica's and CLI run's commits through it.
// - close: waits for the transaction in progress, then ends the pool.
//
// The tables of every handle are db/schema.pg.ts's (registered in db/engine.ts), typed as
// SQLite's: db/queries builds with them through the handle's own (PostgreSQL) dialect.

/** Any constant: the lock every write transaction takes first. */
const WRITE_LOCK = 0x5_17_2e_91;

// A transaction that wrote nothing has no transaction id: no bump and no notification for it.
const BUMP_VERSION = `update data_version set n = n + 1 where id = 1 and pg_current_xact_id_if_assigned() is not null
  returning pg_notify('${CHANNEL}', n::text)`;
const tables = schema as unknown as Tables;

export class PgStore implements Store {
  private readonly mutex = new Mutex();
  private readonly db: Db;
  private savepoints = 0;
  private closed = false;
  /** Drizzle handles per pooled connection, made once: a transaction reuses its connection's. */
  private readonly handles = new WeakMap<pg.PoolClient, Db>();
  private readonly listeners = new Set<Listener>();

  private constructor(
    readonly pool: pg.Pool,
    private readonly url: string,
  ) {
    this.db = this.handleFor(pool);
  }

  /** Opens a pool on `url` and applies the migrations (safe when several replicas start at once). */
  static async open(url: string, opts: PoolOptions = {}): Promise<PgStore> {
    const pool = openPool(url, opts);
    try {
      await migratePg(pool);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    return new PgStore(pool, url);
  }

  private handleFor(client: pg.Pool | pg.PoolClient): Db {
    const db = pgDrizzle(client) as unknown as Db;
    register(db, { kind: 'pg', tables, client });
    return db;
  }

  async transaction<T>(fn: (tx: WriteTx) => Promise<T> | T): Promise<T> {
    if (this.closed) throw new Error('the store is closed');
    return this.mutex.run(async () => {
      const client = await this.pool.connect();
      let tx = this.handles.get(client);
      if (!tx) this.handles.set(client, (tx = this.handleFor(client)));
      let broken: unknown;
      try {
        await client.query('begin');
        await client.query({ name: 'sitrep_write_lock', text: 'select pg_advisory_xact_lock($1)', values: [WRITE_LOCK] });
        const result = await fn(tx);
        await client.query({ name: 'sitrep_bump_version', text: BUMP_VERSION });
        await client.query('commit');
        return result;
      } catch (err) {
        try {
          await client.query('rollback');
        } catch (e) {
          broken = e; // the connection is gone: the pool must not hand it out again
        }
        throw err;
      } finally {
        client.release(broken instanceof Error ? broken : undefined);
      }
    });
  }

  async read<T>(fn: (db: ReadConn) => Promise<T> | T): Promise<T> {
    return fn(this.db);
  }

  async version(): Promise<number> {
    const r = await this.pool.query({ name: 'sitrep_version', text: 'select n from data_version where id = 1' });
    return Number((r.rows[0] as { n: unknown } | undefined)?.n ?? 0);
  }

  /**
   * Hears every commit that wrote something, from any process on the database, on a connection
   * of its own (reopened after a drop; see db/listen.pg.ts). Stopped by close() at the latest.
   */
  listen(handlers: ListenHandlers): Listener {
    if (this.closed) throw new Error('the store is closed');
    const l = listen(this.url, handlers);
    this.listeners.add(l);
    return {
      get connected() {
        return l.connected;
      },
      stop: async () => {
        this.listeners.delete(l);
        await l.stop();
      },
    };
  }

  async close(): Promise<void> {
    await this.mutex.run(async () => {
      if (this.closed) return;
      this.closed = true;
      await Promise.all([...this.listeners].map((l) => l.stop()));
      this.listeners.clear();
      await this.pool.end();
    });
  }

  nested(tx: WriteTx): Store {
    return nestedStore(
      tx,
      (fn) => this.savepoint(tx, fn),
      () => this.version(),
    );
  }

  private async savepoint<T>(tx: WriteTx, fn: (tx: WriteTx) => Promise<T> | T): Promise<T> {
    const client = clientOf(tx);
    const name = `sp_${++this.savepoints}`;
    await client.query(`savepoint ${name}`);
    try {
      const result = await fn(tx);
      await client.query(`release savepoint ${name}`);
      return result;
    } catch (err) {
      await client.query(`rollback to savepoint ${name}`);
      await client.query(`release savepoint ${name}`);
      throw err;
    }
  }
}

function clientOf(tx: WriteTx): pg.PoolClient {
  // The transaction's handle was registered with its pooled connection (handleFor).
  const e = engineOf(tx);
  if (e.kind !== 'pg' || !('release' in e.client)) throw new Error('a nested transaction was started outside the transaction it belongs to');
  return e.client as pg.PoolClient;
}
