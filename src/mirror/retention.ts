import type { Db } from '../../db/client.js';
import { pruneDeliveredBatch, type Cursor } from '../../db/queries/retention.js';
import type { Logger } from '../logger.js';
import { periodic } from '../periodic.js';

// Outbox retention (SITREP_OUTBOX_RETENTION_DAYS). Delivered rows are history: once older than the
// retention period they are deleted, with the rows folded into them. Dead letters are never
// pruned (they are what `deliveries retry` sends again), nor is anything still waiting.
//
// One exception keeps later deliveries right: the newest delivered row of a lane that carries a
// remote reference (the customer channel's root message, the Statuspage incident id) stays, because
// the next message of that lane edits or threads under it. Targets whose reference means nothing
// later (a webhook's "HTTP 200") pass `keepsReference: false` and lose all their old rows.
//
// Deletes go in small batches, each its own short write transaction, with a pause between them, so
// the write lock is never held long and the event loop keeps serving while a large backlog goes.

export interface RetentionOptions {
  retentionMs: number;
  /** Rows examined per transaction. */
  batchSize: number;
  /** Pause between batches: lets other writers (CLI runs, the worker) take the lock. */
  pauseMs: number;
  /** Whether the newest delivered row of lanes of this target must stay (see above). */
  keepsReference(target: string): boolean;
}

export type { Cursor };

export const DEFAULT_RETENTION: Omit<RetentionOptions, 'retentionMs' | 'keepsReference'> = { batchSize: 500, pauseMs: 5 };

/**
 * One batch: deletes delivered rows older than the cutoff (after `cursor`) and the rows folded into
 * them, in one short transaction (db/queries/retention.ts). Returns how many rows went and where
 * the next batch starts, or null for the cursor when nothing past it is old enough. Synchronous:
 * a batch is one short write transaction, and the pause between batches is where it yields.
 */
export function pruneBatch(
  db: Db,
  now: number,
  opts: Pick<RetentionOptions, 'retentionMs' | 'batchSize' | 'keepsReference'>,
  cursor: Cursor | null,
): { deleted: number; cursor: Cursor | null } {
  return pruneDeliveredBatch(db, now - opts.retentionMs, opts.batchSize, (target) => opts.keepsReference(target), cursor);
}

/** Prunes everything past its age, batch by batch; `shouldStop` is checked between batches. */
export async function pruneOutbox(db: Db, now: number, opts: RetentionOptions, shouldStop: () => boolean = () => false): Promise<number> {
  let cursor: Cursor | null = null;
  let total = 0;
  for (;;) {
    const batch = pruneBatch(db, now, opts, cursor);
    total += batch.deleted;
    if (!batch.cursor || shouldStop()) return total;
    cursor = batch.cursor;
    await new Promise((r) => setTimeout(r, opts.pauseMs));
  }
}

/** Background work: prunes at start and then every `intervalMs`; stop() waits for a pass under way. */
export function createOutboxPruner(deps: { db: Db; log: Logger; now: () => number }, opts: RetentionOptions, intervalMs: number) {
  return createPruner(deps.log, (shouldStop) => pruneOutbox(deps.db, deps.now(), opts, shouldStop), intervalMs);
}

/**
 * A pruning pass run at start and then every `intervalMs`, one at a time, for either engine's
 * `prune` (which returns how many rows went and stops early when asked); stop() waits for a pass
 * under way.
 */
export function createPruner(log: Logger, prune: (shouldStop: () => boolean) => Promise<number>, intervalMs: number) {
  let running: Promise<void> | null = null;
  let stopping = false;
  const pass = () => {
    if (running || stopping) return;
    running = prune(() => stopping)
      .then(
        (n) => {
          if (n) log.info({ count: n }, 'pruned delivered outbox rows past retention');
        },
        (err: unknown) => log.warn({ err }, 'could not prune the outbox'),
      )
      .finally(() => {
        running = null;
      });
  };
  const timer = periodic(intervalMs, pass, { runAtStart: true });
  return {
    start() {
      stopping = false;
      timer.start();
    },
    async stop() {
      stopping = true;
      await timer.stop();
      await running;
    },
  };
}
