import type { Db } from '../db/client.js';
import { dataVersion } from '../db/client.js';

/** A store that can push change notifications (PostgreSQL's LISTEN/NOTIFY: db/store.pg.ts). */
export interface Listenable {
  listen(handlers: { onChange(): void; onConnected(connected: boolean): void }): { readonly connected: boolean; stop(): Promise<void> };
}

/** Where a change watcher reads the database's version: SQLite's data_version, or a store's version(). */
export type VersionSource = Db | ({ version(): Promise<number> } & Partial<Listenable>);

/**
 * Tells listeners when the database changed: at once for writes made in this process, and within
 * `intervalMs` for writes made by another process (the CLI) on the same file, via PRAGMA
 * data_version. On PostgreSQL, at once for any replica's or CLI run's commit through the store's
 * LISTEN connection; while that connection is down, by polling the store's version every
 * `intervalMs` instead.
 */
export class ChangeWatcher {
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;
  private last: number | undefined;
  private polling = false;
  private listener: { readonly connected: boolean; stop(): Promise<void> } | null = null;

  constructor(private readonly source: VersionSource) {
    if (!isStore(source)) this.last = dataVersion(source);
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  notify(): void {
    for (const fn of this.listeners) fn();
  }

  start(intervalMs = 500): void {
    if (this.timer) return;
    const source = this.source;
    if (isStore(source) && source.listen) {
      this.listener = source.listen({
        onChange: () => this.notify(),
        // Back from a drop: the version is read again before the poll stops, so nothing committed
        // in between is missed (the listener also reports one change on every reconnect).
        onConnected: (up) => {
          if (!up) this.last = undefined;
        },
      });
    }
    this.timer = setInterval(() => {
      if (!isStore(source)) return this.seen(dataVersion(source));
      if (this.polling || this.listener?.connected) return;
      this.polling = true;
      source
        .version()
        .then((v) => this.seen(v))
        .catch(() => undefined) // the database is unreachable for now: the next tick asks again
        .finally(() => (this.polling = false));
    }, intervalMs);
    this.timer.unref();
  }

  private seen(v: number): void {
    if (this.last === undefined) {
      this.last = v;
      // A store's first reading has nothing to compare with: something may have been written
      // since this process last looked (an extra check costs one digest query).
      if (isStore(this.source)) this.notify();
    } else if (v !== this.last) {
      this.last = v;
      this.notify();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    void this.listener?.stop();
    this.listener = null;
  }
}

function isStore(s: VersionSource): s is { version(): Promise<number> } {
  return typeof (s as { version?: unknown }).version === 'function' && !('$client' in s);
}
