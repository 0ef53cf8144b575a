import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Db } from './client.js';

// Moves SQLite's WAL checkpoints off the event loop. By default the connection that commits the
// transaction taking the write-ahead log past 1,000 pages copies the log into the database file
// itself, inside that commit: under a stream of commands that is a pause of several milliseconds
// every few dozen commits, on the thread that answers Slack's acks and serves the status page. In a
// server, a thread of its own runs PASSIVE checkpoints (they never block a writer or a reader) a
// few times a second on its own connection, and the server's connection checkpoints itself only
// if that thread falls far behind. A kill -9 loses nothing: a committed transaction is in the log
// whether or not it was copied yet, and the next open carries on.

/** The server's connection checkpoints by itself only past this many log pages (about 80 MiB). */
export const FALLBACK_CHECKPOINT_PAGES = 20_000;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
}, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m === 'stop') {
    clearInterval(timer);
    try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
    db.close();
    parentPort.close();
  }
});
`;

export interface Checkpointer {
  start(): void;
  stop(): Promise<void>;
}

/**
 * A background service for `db` (a file database in WAL mode): start() hands checkpoints to a
 * thread, stop() lets it run a last one and waits for it. Nothing for an in-memory database.
 */
export function createCheckpointer(db: Db, file: string, opts: { intervalMs?: number; onError?: (message: string) => void } = {}): Checkpointer {
  let worker: Worker | null = null;
  return {
    start() {
      if (file === ':memory:' || worker) return;
      db.$client.pragma(`wal_autocheckpoint = ${FALLBACK_CHECKPOINT_PAGES}`);
      worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { file, intervalMs: opts.intervalMs ?? 200, driver: createRequire(import.meta.url).resolve('better-sqlite3') },
      });
      worker.unref();
      worker.on('message', (m: { error?: string }) => {
        if (m.error) opts.onError?.(m.error);
      });
      worker.on('error', (err) => {
        // The server's own connection checkpoints again, as SQLite does by default.
        opts.onError?.(err.message);
        restore();
      });
    },
    async stop() {
      const w = worker;
      worker = null;
      if (!w) return;
      const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
      w.postMessage('stop');
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, 2_000).unref());
      await Promise.race([exited, timeout]);
      await w.terminate();
      restore();
    },
  };

  function restore() {
    try {
      db.$client.pragma('wal_autocheckpoint = 1000');
    } catch {
      // closed already
    }
  }
}
