// Command work that runs after Slack's ack. Slack gives up on a request after 3 s, so acks must
// never wait behind command work: jobs run in short slices from setImmediate, and between two
// slices the event loop reads sockets and answers every ack that is ready. A slice runs the jobs
// that were waiting when it started (the work of the acks just sent), up to a time cap: work keeps
// pace with acks turn by turn, and no turn holds the acks behind it for more than about the cap. Jobs run one at a time in
// the order they were queued, so commands about one incident apply in the order Slack sent them.
// The queue is bounded: when it is full, new requests wait for room before they are acknowledged
// (back-pressure that keeps the time from ack to result short, instead of an ever-growing backlog).
// A slice may run inside one wrapper (a database transaction: one commit for the slice's commands,
// each of which still runs in its own savepoint); results are handed out only after the wrapper
// returned, and if it throws, every job of the slice fails with its error.

export interface WorkQueueOptions<C = undefined> {
  /** Jobs waiting at most; a request that finds the queue full waits for room before its ack. */
  max: number;
  /** A slice stops starting jobs after this long (it always runs at least one). */
  sliceMs: number;
  /**
   * Runs each slice (e.g. in one transaction); must call `slice` exactly once and settle after
   * it. Jobs await only the database, so a slice still runs in one turn of the event loop.
   */
  wrap?: (slice: (within: C) => Promise<void>) => Promise<void>;
}

/** Runs the job; resolves with how to settle its promise (after the slice's wrapper returned). */
interface Job<C> {
  run(within: C | undefined): Promise<() => void>;
  fail(err: unknown): void;
}

export class WorkQueue<C = undefined> {
  private jobs: Array<Job<C> | undefined> = [];
  private head = 0;
  private scheduled = false;
  private readonly waiters: Array<() => void> = [];

  private readonly opts: WorkQueueOptions<C>;

  constructor(opts: Partial<WorkQueueOptions<C>> = {}) {
    this.opts = { max: 256, sliceMs: 4, ...opts };
  }

  /** Jobs queued and not yet started. */
  get size(): number {
    return this.jobs.length - this.head;
  }

  /** Resolves when a job may be queued: at once unless the queue is full (or others wait first). */
  room(): Promise<void> {
    if (this.size < this.opts.max && this.waiters.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Queues `fn`; the promise settles with its result once it has run (never in this tick). `fn`
   * gets what the wrapper hands the slice (its open transaction), undefined without a wrapper.
   */
  run<T>(fn: (within: C | undefined) => Promise<T> | T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.jobs.push({
        run: async (within) => {
          try {
            const value = await fn(within);
            return () => resolve(value);
          } catch (err) {
            return () => reject(err);
          }
        },
        fail: reject,
      });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.running !== null) return;
    this.scheduled = true;
    setImmediate(this.slice);
  }

  private readonly slice = (): void => {
    this.scheduled = false;
    this.running = this.runSlice().finally(() => {
      this.running = null;
      if (this.size > 0) this.schedule();
    });
  };

  /** The slice in progress (the next waits for it: slices never overlap). */
  private running: Promise<void> | null = null;

  private async runSlice(): Promise<void> {
    const until = performance.now() + this.opts.sliceMs;
    const waiting = this.size;
    const ran: Job<C>[] = [];
    const settle: Array<() => void> = [];
    const slice = async (within: C | undefined) => {
      do {
        const job = this.jobs[this.head]!;
        this.jobs[this.head++] = undefined;
        ran.push(job);
        settle.push(await job.run(within));
      } while (this.size > 0 && ran.length < waiting && performance.now() < until);
    };
    try {
      if (this.opts.wrap) await this.opts.wrap(slice);
      else await slice(undefined);
      for (const s of settle) s();
    } catch (err) {
      for (const job of ran) job.fail(err);
    }
    if (this.head > 1024 && this.head * 2 > this.jobs.length) {
      this.jobs = this.jobs.slice(this.head);
      this.head = 0;
    }
    // Waiters queue in the order they arrived; each resumes (and queues its job) before new I/O.
    let free = this.opts.max - this.size;
    while (free-- > 0 && this.waiters.length) this.waiters.shift()!();
  }
}
