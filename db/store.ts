import { BUSY_TIMEOUT_MS, dataVersion, isBusyError, openDatabase, openReadOnly, type Db } from './client.js';

// The storage port: what everything above db/ may assume about the database, whichever engine
// holds it. A write is `await store.transaction(async (tx) => …)`: one transaction, committed when
// the callback's promise resolves, rolled back when it rejects. Reads that need no transaction (the
// status page, the worker's scans, listings) go through `store.read`.
//
// On SQLite (this file): one writer connection and, for a file, one read-only connection.
// - Writes are serialised by an async mutex, so no other work runs on the writer connection while a
//   transaction's callback awaits (the model of Kysely's SQLite driver). Nesting is explicit:
//   code inside a transaction that must open one gets `nested(tx)`, whose transactions are
//   savepoints. (Not an AsyncLocalStorage: once one is used, every promise in the process costs
//   about 2.5 times as much on Node 20, the acks and page views included.)
// - BEGIN IMMEDIATE takes the write lock up front. When another process holds it (a CLI writer), the
//   begin is retried on timers until BUSY_TIMEOUT_MS has passed, instead of SQLite's busy handler
//   sleeping on the event loop: acks and page views go on meanwhile. Past the deadline the busy
//   error is thrown as before (isBusyError).
// - Reads run on the read-only connection, so a long read never holds the writer, and a read never
//   sees a transaction's uncommitted rows. An in-memory database has one connection: its reads
//   wait for the mutex like writes.
// A PostgreSQL implementation is the same interface over a pool: transaction = BEGIN on a pooled
// client; read = any pooled client.

/** What a write transaction's callback gets: hand it to db/queries, nothing else. */
export type WriteTx = Db;
/** What a read gets: committed data, for db/queries' read functions. */
export type ReadConn = Db;

export interface Store {
  /** Runs `fn` in one write transaction; resolves with its result once committed. */
  transaction<T>(fn: (tx: WriteTx) => Promise<T> | T): Promise<T>;
  /** Runs `fn` against committed data; never blocks writers. */
  read<T>(fn: (db: ReadConn) => Promise<T> | T): Promise<T>;
  /**
   * The store as seen from inside the open transaction `tx`: its transactions are savepoints of
   * `tx` (rolled back alone, committed with it), its reads see `tx`'s writes. Code that runs
   * inside a transaction and calls something that opens one (a verb run by a request's dedupe
   * transaction, a command in Slack's group commit) hands it this. Nesting is explicit: a
   * `transaction` on the store itself always waits for the writer, never joins another.
   */
  nested(tx: WriteTx): Store;
  /** A number that changes when any connection (another process included) commits. */
  version(): Promise<number>;
  close(): Promise<void>;
}

/**
 * The store as seen from inside the open transaction `tx` (see Store.nested), for every engine:
 * its transactions are the engine's savepoints of `tx`, its reads see `tx`'s writes.
 */
export function nestedStore(tx: WriteTx, savepoint: <T>(fn: (tx: WriteTx) => Promise<T> | T) => Promise<T>, version: () => Promise<number>): Store {
  const nested: Store = {
    transaction: savepoint,
    read: async (fn) => fn(tx),
    nested: () => nested,
    version,
    close: async () => {
      throw new Error('a nested store is closed with the store it came from');
    },
  };
  return nested;
}

/** A FIFO async mutex: run() waits for every earlier holder. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private held = 0;

  get locked(): boolean {
    return this.held > 0;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const before = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    this.held += 1;
    try {
      await before;
      return await fn();
    } finally {
      this.held -= 1;
      release();
    }
  }
}

export interface SqliteStoreOptions {
  /** How long a begin waits for another process's write lock (ms). */
  busyTimeoutMs?: number;
  /** First wait between two tries of a begin; doubles up to 50 ms. */
  retryMs?: number;
}

export class SqliteStore implements Store {
  readonly writer: Db;
  private readonly reader: Db | null;
  private readonly mutex = new Mutex();
  private readonly busyTimeoutMs: number;
  private readonly retryMs: number;
  private savepoints = 0;

  constructor(
    readonly file: string,
    opts: SqliteStoreOptions = {},
    writer?: Db,
  ) {
    this.busyTimeoutMs = opts.busyTimeoutMs ?? BUSY_TIMEOUT_MS;
    this.retryMs = opts.retryMs ?? 2;
    this.writer = writer ?? openDatabase(file);
    this.reader = file === ':memory:' ? null : openReadOnly(file);
  }

  /** Takes ownership of an open writer (and its file's read-only companion). */
  static over(writer: Db, file: string, opts: SqliteStoreOptions = {}): SqliteStore {
    return new SqliteStore(file, opts, writer);
  }

  async transaction<T>(fn: (tx: WriteTx) => Promise<T> | T): Promise<T> {
    return this.mutex.run(async () => {
      await this.begin();
      const c = this.writer.$client;
      try {
        const result = await fn(this.writer);
        c.exec('COMMIT');
        return result;
      } catch (err) {
        if (c.inTransaction) c.exec('ROLLBACK');
        throw err;
      }
    });
  }

  async read<T>(fn: (db: ReadConn) => Promise<T> | T): Promise<T> {
    if (this.reader) return fn(this.reader);
    // One connection: wait for the writer (a read inside a transaction goes through nested()).
    return this.mutex.run(async () => fn(this.writer));
  }

  /**
   * The read-only connection as a synchronous handle (the writer for an in-memory database), for
   * the read models that run synchronous SQLite by design (the built-in status page's snapshot).
   * It sees committed data only, like `read`.
   */
  get readHandle(): Db {
    return this.reader ?? this.writer;
  }

  async version(): Promise<number> {
    return dataVersion(this.reader ?? this.writer);
  }

  async close(): Promise<void> {
    await this.mutex.run(async () => {
      this.reader?.$client.close();
      this.writer.$client.close();
    });
  }

  /**
   * BEGIN IMMEDIATE, retried on timers while another connection holds the write lock. SQLite's own
   * busy handler (which would sleep on the event loop) is off for the begin only: once the write
   * lock is held, nothing inside the transaction waits for another connection.
   */
  private async begin(): Promise<void> {
    const deadline = performance.now() + this.busyTimeoutMs;
    const c = this.writer.$client;
    let wait = this.retryMs;
    for (;;) {
      c.pragma('busy_timeout = 0');
      try {
        c.exec('BEGIN IMMEDIATE');
        return;
      } catch (err) {
        if (!isBusyError(err) || performance.now() + wait > deadline) throw err;
      } finally {
        c.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      }
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 50);
    }
  }

  nested(tx: WriteTx): Store {
    return nestedStore(
      tx,
      (fn) => this.savepoint(tx, fn),
      () => this.version(),
    );
  }

  private async savepoint<T>(tx: WriteTx, fn: (tx: WriteTx) => Promise<T> | T): Promise<T> {
    const name = `sp_${++this.savepoints}`;
    const c = this.writer.$client;
    if (!c.inTransaction) throw new Error('a nested transaction was started outside the transaction it belongs to');
    c.exec(`SAVEPOINT ${name}`);
    try {
      const result = await fn(tx);
      c.exec(`RELEASE ${name}`);
      return result;
    } catch (err) {
      c.exec(`ROLLBACK TO ${name}`);
      c.exec(`RELEASE ${name}`);
      throw err;
    }
  }
}
