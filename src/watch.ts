import type { Db } from '../db/client.js';
import { dataVersion } from '../db/client.js';

/**
 * Tells listeners when the database changed: at once for writes made in this process, and within
 * `intervalMs` for writes made by another process (the CLI) on the same file, via PRAGMA data_version.
 */
export class ChangeWatcher {
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;
  private last: number;

  constructor(private readonly db: Db) {
    this.last = dataVersion(db);
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
    this.timer = setInterval(() => {
      const v = dataVersion(this.db);
      if (v !== this.last) {
        this.last = v;
        this.notify();
      }
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
