import { SitrepError } from '../src/domain/errors.js';
import type { Db } from './client.js';
import { registerUnavailable } from './engine.js';
import { nestedStore, SqliteStore, type ReadConn, type Store, type WriteTx } from './store.js';
import type { ListenHandlers, Listener } from './listen.pg.js';
import type { PgStore } from './store.pg.js';

// Which store a process opens: SQLite's file (the default), or PostgreSQL when SITREP_DATABASE_URL
// names one. PostgreSQL's modules (node-postgres, drizzle's pg dialect) are loaded only then, on
// first use, so a SQLite CLI run pays nothing for them.

export interface OpenedStore {
  store: Store;
  /**
   * The writer connection as a synchronous handle, for the parts that take SQLite's fast
   * synchronous path (the targets' hooks, the status page's snapshot, /metrics' collectors); each
   * of them has its own way on PostgreSQL. There it is a handle that refuses every use, so a part
   * that forgot fails loudly instead of reading nothing.
   */
  db: Db;
  readDb: Db;
  engine: 'sqlite' | 'pg';
}

export function openStore(opts: { file: string; databaseUrl?: string }): OpenedStore {
  if (opts.databaseUrl) {
    const handle = sqliteOnlyHandle();
    return { store: new LazyPgStore(opts.databaseUrl), db: handle, readDb: handle, engine: 'pg' };
  }
  const store = new SqliteStore(opts.file);
  return { store, db: store.writer, readDb: store.readHandle, engine: 'sqlite' };
}

/** Opens the PostgreSQL store (pool and migrations) when it is first used. */
export class LazyPgStore implements Store {
  private opened: Promise<Store> | null = null;
  private closed = false;

  constructor(private readonly url: string) {}

  /** The store, opened (and migrated) once. */
  open(): Promise<Store> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    this.opened ??= import('./store.pg.js').then((m) =>
      m.PgStore.open(this.url).catch((err: unknown) => {
        // One line for whoever runs the command (the password replaced), not an internal error.
        const why = err instanceof Error ? err.message : String(err);
        throw new SitrepError('CONFLICT', `cannot open the PostgreSQL database ${redactUrl(this.url)} (${why}); nothing was written, try again`);
      }),
    );
    // A failed open (server down at start) is tried again by the next use.
    this.opened.catch(() => (this.opened = null));
    return this.opened;
  }

  async transaction<T>(fn: (tx: WriteTx) => Promise<T> | T): Promise<T> {
    return (await this.open()).transaction(fn);
  }

  async read<T>(fn: (db: ReadConn) => Promise<T> | T): Promise<T> {
    return (await this.open()).read(fn);
  }

  nested(tx: WriteTx): Store {
    // A transaction exists only once the store is open.
    const store = this.opened;
    if (!store) throw new Error('a nested transaction was started outside the transaction it belongs to');
    return nestedStore(
      tx,
      async (fn) => (await store).nested(tx).transaction(fn),
      () => this.version(),
    );
  }

  async version(): Promise<number> {
    return (await this.open()).version();
  }

  /**
   * PgStore.listen once the store is open; while it cannot be opened, tried again every second
   * (the caller polls version() meanwhile, as it does whenever the listener is not connected).
   */
  listen(handlers: ListenHandlers): Listener {
    let inner: Listener | null = null;
    let stopped = false;
    let timer: NodeJS.Timeout | null = null;
    const attempt = () => {
      timer = null;
      this.open().then(
        (store) => {
          if (!stopped) inner = (store as PgStore).listen(handlers);
        },
        () => {
          if (stopped || this.closed) return;
          timer = setTimeout(attempt, 1_000);
          timer.unref();
        },
      );
    };
    attempt();
    return {
      get connected() {
        return inner?.connected ?? false;
      },
      async stop() {
        stopped = true;
        if (timer) clearTimeout(timer);
        await inner?.stop();
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const store = await (this.opened ?? Promise.resolve(null)).catch(() => null);
    await store?.close();
  }
}

/**
 * What the synchronous SQLite-only parts get on PostgreSQL: any use throws one line naming the
 * part. It is a key in WeakMaps (and may be passed around) without being used.
 */
const SQLITE_ONLY = 'this part runs synchronous SQLite only and is not available on PostgreSQL';

function sqliteOnlyHandle(): Db {
  const handle = new Proxy(Object.create(null) as object, {
    get(_t, prop) {
      if (prop === 'then' || typeof prop === 'symbol') return undefined;
      throw new Error(`${SQLITE_ONLY} (it used db.${String(prop)})`);
    },
  });
  registerUnavailable(handle, SQLITE_ONLY);
  return handle as Db;
}

/** A database URL with its password replaced, for messages and logs (a URL that does not parse says only its scheme). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}
