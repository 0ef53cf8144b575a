import { and, desc, eq, sql } from 'drizzle-orm';
import type { Db, DbOrTx, Tx } from '../../db/client.js';
import { customerUpdates, incidentThreads, outbox } from '../../db/schema.js';
import { draftDecisionOf } from '../../db/queries/views.js';
import type { CommandContext, DeclaredRecord, Outlet, TimelineRecord } from '../commands/context.js';
import { incRef } from '../../db/queries/incidents.js';
import { isBroadcast, repliesInThread, type ThreadRenderer } from '../render/thread.js';
import { enqueue } from './enqueue.js';

// The one chat-thread outlet: turns state changes into outbox rows for an incident's thread in a
// chat platform (Slack, Teams). Runs inside the command's transaction and never calls the
// platform: the outbox worker delivers through the platform's thread target.
//
// All of one incident's thread messages (root post, root edits, thread replies, approval
// requests, and Slack's channel creation) share ONE target string, so the worker keeps them in
// order in one lane: a reply can never overtake the root post it threads under.

/** An outbox message as a platform's messages.ts types it: a kind and its payload. */
export interface ThreadOutboxMessage {
  kind: string;
  payload: Record<string, unknown>;
}

/** An incident's thread rows on one platform (Slack: the incidents channel, and a dedicated channel). */
export function threadRows(db: DbOrTx, incidentId: number, platform: 'slack' | 'teams') {
  return db
    .select()
    .from(incidentThreads)
    .where(and(eq(incidentThreads.incidentId, incidentId), eq(incidentThreads.platform, platform)))
    .all();
}

/**
 * The platform's reference of a draft's approval request: the delivered thread reply in `target`'s
 * lane that carried the draft's buttons. Undefined when it was never posted (nothing to edit).
 */
export function approvalRequestRef(db: DbOrTx, target: string, incidentId: number, draftId: number): string | undefined {
  const request = db
    .select({ ref: outbox.remoteRef })
    .from(outbox)
    .where(
      and(
        eq(outbox.target, target),
        eq(outbox.incidentId, incidentId),
        eq(outbox.kind, 'thread_reply'),
        eq(outbox.state, 'delivered'),
        sql`json_extract(${outbox.payload}, '$.draftId') = ${draftId}`,
      ),
    )
    .orderBy(desc(outbox.id))
    .get();
  return request?.ref ?? undefined;
}

export interface ThreadPlatform<M extends ThreadOutboxMessage> {
  platform: 'slack' | 'teams';
  /** The lane of an incident whose thread lives under `channel`. */
  threadTarget(channel: string): string;
  /** Where a newly declared incident's thread goes; nothing is posted without one. */
  home(tx: Tx, e: DeclaredRecord, ctx: CommandContext): string | null | undefined;
  /** The rows that open the thread, in order; the one of kind `root_post` is the root card. */
  opening(tx: Tx, e: DeclaredRecord): M[];
  /** The edit that re-renders the root card from the database when it is sent. */
  rootUpdate: M;
  render: ThreadRenderer<M>;
}

export function createThreadOutlet<M extends ThreadOutboxMessage>(db: Db, p: ThreadPlatform<M>): Outlet {
  // Hot path (every command on an incident): raw prepared statements on the same connection, so
  // they run inside the command's transaction without drizzle re-preparing SQL each time.
  const laneStmt = db.$client.prepare<[number, string], { channel: string; dedicated: number }>(
    'select channel, dedicated from incident_threads where incident_id = ? and platform = ?',
  );
  const stateStmt = db.$client.prepare<[number], { state: string; target: string }>('select state, target from outbox where id = ?');
  const lastRootStmt = db.$client.prepare<[string, number], { id: number; state: string }>(
    "select id, state from outbox where target = ? and incident_id = ? and kind in ('root_post', 'root_update') order by id desc limit 1",
  );
  /**
   * The newest root post/edit row per incident, as this process last wrote it. Only a hint: a row
   * that rolled back or was written by another process just costs one extra edit.
   */
  const lastRoot = new Map<number, number>();

  const put = (tx: Tx, ctx: CommandContext, incidentId: number, target: string, m: M) =>
    enqueue(tx, ctx.now(), { incidentId, target, kind: m.kind, payload: m.payload });

  /** The incident's lane: its thread in the incidents channel (a dedicated channel shares it). */
  function laneOf(incidentId: number): string | null {
    const rows = laneStmt.all(incidentId, p.platform);
    const home = rows.find((r) => !r.dedicated) ?? rows[0];
    return home ? p.threadTarget(home.channel) : null;
  }

  function rootPending(target: string, incidentId: number): boolean {
    const hint = lastRoot.get(incidentId);
    if (hint !== undefined) {
      const row = stateStmt.get(hint);
      if (row && row.target === target) return row.state === 'pending';
    }
    // Rows of a lane go out in id order, so only the newest root row can still be waiting.
    const row = lastRootStmt.get(target, incidentId);
    if (row) lastRoot.set(incidentId, row.id);
    return row?.state === 'pending';
  }

  function reply(tx: Tx, target: string, e: TimelineRecord, ctx: CommandContext): void {
    const m = p.render.event({ type: 'event', incident: incRef(e.incidentId), event: e, eventId: e.id, broadcast: isBroadcast(e.kind) }, ctx.policy.timezone);
    put(tx, ctx, e.incidentId, target, m);
  }

  function onDeclared(tx: Tx, e: DeclaredRecord, ctx: CommandContext): void {
    const home = p.home(tx, e, ctx);
    if (!home) return; // No home for incidents on this platform: nothing to post.
    const target = p.threadTarget(home);
    tx.insert(incidentThreads)
      .values({ incidentId: e.incidentId, platform: p.platform, channel: home, rootRef: null, dedicated: false, createdAt: ctx.now() })
      .run();
    for (const m of p.opening(tx, e)) {
      const id = put(tx, ctx, e.incidentId, target, m);
      if (m.kind === 'root_post') lastRoot.set(e.incidentId, id);
    }
    reply(tx, target, e, ctx);
  }

  return {
    name: p.platform,
    onEvent(tx, e, ctx) {
      if (e.kind === 'declared') return onDeclared(tx, e, ctx);
      const target = laneOf(e.incidentId);
      if (!target || !repliesInThread(e, p.platform)) return;
      reply(tx, target, e, ctx);
      const decided = draftDecisionOf(tx, e);
      if (decided) {
        const { draftId, ...decision } = decided;
        put(tx, ctx, e.incidentId, target, p.render.approvalDecided({ type: 'approval_decided', decision, draftId }));
      }
    },
    onIncidentChanged(tx, incidentId, ctx) {
      const target = laneOf(incidentId);
      if (!target) return;
      // The root card is rendered from the database when it is sent, so one waiting post/edit
      // already carries this change: folding keeps a burst of changes under the platform's limits.
      if (rootPending(target, incidentId)) return;
      lastRoot.set(incidentId, put(tx, ctx, incidentId, target, p.rootUpdate));
    },
    onDraftCreated(tx, draftId, ctx) {
      const d = tx.select().from(customerUpdates).where(eq(customerUpdates.id, draftId)).get();
      if (!d) return;
      const target = laneOf(d.incidentId);
      if (!target) return;
      const draft = { id: `D-${d.id}`, incident: incRef(d.incidentId), author: d.author, status: d.status, body: d.body };
      put(tx, ctx, d.incidentId, target, p.render.approvalRequest({ type: 'approval_request', draft, draftId }));
    },
  };
}
