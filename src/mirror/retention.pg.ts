import { poolOf, pruneDeliveredBatchPg, type PruneCursor } from '../../db/queries/worker.pg.js';
import type { Store } from '../../db/store.js';
import type { Logger } from '../logger.js';
import { createPruner, type RetentionOptions } from './retention.js';

// Outbox retention on PostgreSQL: what is kept and why is src/mirror/retention.ts's. Each batch is
// one short transaction holding retention's own advisory lock (db/queries/worker.pg.ts), never the
// store's write lock: replicas whose passes fall due together do not prune the same rows, since the
// one that finds the lock taken stops its pass (the other is doing the work), and commands are not
// held up.

/** Prunes everything past its age, batch by batch; how many rows went (0 when another replica was pruning). */
export async function pruneOutboxPg(store: Store, now: number, opts: RetentionOptions, shouldStop: () => boolean = () => false): Promise<number> {
  const pool = await poolOf(store);
  let cursor: PruneCursor | null = null;
  let total = 0;
  for (;;) {
    const batch = await pruneDeliveredBatchPg(pool, now - opts.retentionMs, opts.batchSize, (t) => opts.keepsReference(t), cursor);
    total += batch.deleted;
    if (batch.busy || !batch.cursor || shouldStop()) return total;
    cursor = batch.cursor;
    await new Promise((r) => setTimeout(r, opts.pauseMs));
  }
}

/** Background work: prunes at start and then every `intervalMs`; stop() waits for a pass under way. */
export function createPgOutboxPruner(deps: { store: Store; log: Logger; now: () => number }, opts: RetentionOptions, intervalMs: number) {
  return createPruner(deps.log, (shouldStop) => pruneOutboxPg(deps.store, deps.now(), opts, shouldStop), intervalMs);
}
