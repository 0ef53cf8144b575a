import type { Db } from '../db/client.js';
import { dataVersion } from '../db/client.js';

/** Where a change watcher reads the database's version: SQLite's data_version, or a store's version(). */
export type VersionSource = Db | { version(): Promise<number> };

/**
 * Tells listeners when the database changed: at once for writes made in this process, and within
 * `intervalMs` for writes made by another process (the CLI) on the same file, via PRAGMA
 * data_version; on PostgreSQL, by polling the store's version (any replica's or CLI run's commit).
 * LISTEN/NOTIFY would tell it at once instead; the poll stays as the fallback.
 */
export class ChangeWatcher {
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;
  private last: number | undefined;
  private polling = false;

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
    this.timer = setInterval(() => {
      if (!isStore(source)) return this.seen(dataVersion(source));
      if (this.polling) return;
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
    if (this.last === undefined) this.last = v;
    else if (v !== this.last) {
      this.last = v;
      this.notify();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

function isStore(s: VersionSource): s is { version(): Promise<number> } {
  return typeof (s as { version?: unknown }).version === 'function' && !('$client' in s);
}
