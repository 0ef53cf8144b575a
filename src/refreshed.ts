/**
 * A value loaded asynchronously and read synchronously: what a Prometheus collector (synchronous)
 * shows of a database that answers asynchronously (PostgreSQL). refresh() is called after each
 * change notification; loads run one at a time and at most once per `minIntervalMs` (a burst of
 * changes costs one load at the end of the interval, not one each). A failed load keeps the last
 * value; the next refresh tries again.
 */
export class Refreshed<T> {
  private current: T;
  private running = false;
  private again = false;
  private lastStart = -Infinity;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly load: () => Promise<T>,
    initial: T,
    private readonly minIntervalMs = 2_000,
  ) {
    this.current = initial;
  }

  get value(): T {
    return this.current;
  }

  refresh(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    const wait = this.lastStart + this.minIntervalMs - performance.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.refresh();
      }, wait);
      this.timer.unref();
      return;
    }
    this.running = true;
    this.lastStart = performance.now();
    this.load()
      .then(
        (v) => {
          this.current = v;
        },
        () => undefined,
      )
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.refresh();
        }
      });
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
