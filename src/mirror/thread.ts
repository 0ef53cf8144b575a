import type { WriteTx } from '../../db/store.js';
import { findDraft } from '../../db/queries/drafts.js';
import { lastRootRow, outboxRowState } from '../../db/queries/outbox.js';
import { findThreadChannels, insertMaintenanceThread, insertThread, maintenanceThread } from '../../db/queries/threads.js';
import { draftDecisionOf, maintenanceDraftDecisionOf, maintenanceDraftForApproval } from '../../db/queries/views.js';
import type { CommandContext, DeclaredRecord, MaintenanceEventRecord, Outlet, TimelineRecord } from '../commands/context.js';
import { maintenanceLane, maintenanceRef } from '../domain/maintenance.js';
import { incidentVisibility, incRef } from '../../db/queries/incidents.js';
import type { Visibility } from '../domain/enums.js';
import { isBroadcast, repliesInThread, type ThreadRenderer } from '../render/thread.js';
import { enqueue } from './enqueue.js';

// The one chat-thread outlet: turns state changes into outbox rows for an incident's thread in a
// chat platform (Slack, Teams). Runs inside the command's transaction and never calls the
// platform: the outbox worker delivers through the platform's thread target.
//
// All of one incident's thread messages (root post, root edits, thread replies, approval
// requests, and Slack's channel creation) share ONE target string, so the worker keeps them in
// order in one lane: a reply can never overtake the root post it threads under.
//
// A scheduled maintenance gets a thread in the incidents channel too: its root message (status,
// window, components, what customers were told) and every later event of its timeline as a reply.
// Its rows have no incident; their lane is the maintenance's own (`maintenanceLane`), so its root
// goes out before its replies and they thread under it, never under another's. Its channel and
// root reference are kept in maintenance_threads, as incident_threads keeps an incident's.

/** An outbox message as a platform's messages.ts types it: a kind and its payload. */
export interface ThreadOutboxMessage {
  kind: string;
  payload: Record<string, unknown>;
}

export interface ThreadPlatform<M extends ThreadOutboxMessage> {
  platform: 'slack' | 'teams';
  /** The lane of an incident whose thread lives under `channel`. */
  threadTarget(channel: string): string;
  /**
   * Where a newly declared incident's thread goes; nothing is posted without one. A private
   * incident's home is a private place (see privateLane); a platform that cannot give one throws
   * a SitrepError, which refuses the declare with nothing written.
   */
  home(tx: WriteTx, e: DeclaredRecord, ctx: CommandContext, visibility: Visibility): Promise<string | null | undefined>;
  /**
   * The lane of a private incident whose channel the platform's target creates when it delivers
   * the opening rows (Slack): named after the incident, since no channel exists yet. Without it a
   * private incident's thread lives under its `home` like any other.
   */
  privateLane?(incidentId: number): string;
  /** The rows that open the thread, in order; the one of kind `root_post` is the root card. */
  opening(tx: WriteTx, e: DeclaredRecord, visibility: Visibility): Promise<M[]>;
  /** The edit that re-renders the root card from the database when it is sent. */
  rootUpdate: M;
  render: ThreadRenderer<M>;
  maintenance: {
    /** Where a newly scheduled maintenance's thread goes; nothing is posted without one. */
    home(tx: WriteTx, ctx: CommandContext): Promise<string | null | undefined>;
    /** The root message, rendered from the database when it is sent. */
    rootPost: M;
    /** The edit that re-renders it when it is sent. */
    rootUpdate: M;
  };
}

/** A maintenance's events after which its root message shows something else. */
const MAINTENANCE_ROOT_CHANGES: ReadonlySet<string> = new Set(['draft_created', 'draft_rejected', 'published', 'status_changed']);

export function createThreadOutlet<M extends ThreadOutboxMessage>(p: ThreadPlatform<M>): Outlet {
  /**
   * The newest root post/edit row per lane (an incident's, or a maintenance's), as this process
   * last wrote it. Only a hint: a row that rolled back or was written by another process just costs
   * one extra edit.
   */
  const lastRoot = new Map<string, number>();
  const laneKey = (target: string, incidentId: number | null) => `${incidentId ?? ''}|${target}`;

  const put = (tx: WriteTx, ctx: CommandContext, incidentId: number | null, target: string, m: M) =>
    enqueue(tx, ctx.now(), { incidentId, target, kind: m.kind, payload: m.payload });

  /** The incident's lane: its thread in the incidents channel (a dedicated channel shares it). */
  async function laneOf(tx: WriteTx, incidentId: number): Promise<string | null> {
    if (p.privateLane && (await incidentVisibility(tx, incidentId)) === 'private') return p.privateLane(incidentId);
    const rows = await findThreadChannels(tx, incidentId, p.platform);
    const home = rows.find((r) => !r.dedicated) ?? rows[0];
    return home ? p.threadTarget(home.channel) : null;
  }

  async function rootPending(tx: WriteTx, target: string, incidentId: number | null): Promise<boolean> {
    const hint = lastRoot.get(laneKey(target, incidentId));
    if (hint !== undefined) {
      const row = await outboxRowState(tx, hint);
      if (row && row.target === target) return row.state === 'pending';
    }
    // Rows of a lane go out in id order, so only the newest root row can still be waiting.
    const row = await lastRootRow(tx, target, incidentId);
    if (row) lastRoot.set(laneKey(target, incidentId), row.id);
    return row?.state === 'pending';
  }

  /** Queues the root's re-render unless one is already waiting (it will carry this change too). */
  async function touchRoot(tx: WriteTx, ctx: CommandContext, target: string, incidentId: number | null, m: M): Promise<void> {
    if (await rootPending(tx, target, incidentId)) return;
    lastRoot.set(laneKey(target, incidentId), await put(tx, ctx, incidentId, target, m));
  }

  async function reply(tx: WriteTx, target: string, e: TimelineRecord, ctx: CommandContext): Promise<void> {
    const m = p.render.event({ type: 'event', incident: incRef(e.incidentId), event: e, eventId: e.id, broadcast: isBroadcast(e.kind) }, ctx.policy.timezone);
    await put(tx, ctx, e.incidentId, target, m);
  }

  async function onDeclared(tx: WriteTx, e: DeclaredRecord, ctx: CommandContext): Promise<void> {
    const visibility = (await incidentVisibility(tx, e.incidentId)) ?? 'public';
    let target: string;
    if (visibility === 'private' && p.privateLane) {
      // Never under the shared incidents channel: the target creates the private channel first
      // (the opening rows) and records it as the incident's only thread.
      target = p.privateLane(e.incidentId);
    } else {
      const home = await p.home(tx, e, ctx, visibility);
      if (!home) return; // No home for incidents on this platform: nothing to post.
      target = p.threadTarget(home);
      await insertThread(tx, { incidentId: e.incidentId, platform: p.platform, channel: home, rootRef: null, dedicated: false, createdAt: ctx.now() });
    }
    for (const m of await p.opening(tx, e, visibility)) {
      const id = await put(tx, ctx, e.incidentId, target, m);
      if (m.kind === 'root_post') lastRoot.set(laneKey(target, e.incidentId), id);
    }
    await reply(tx, target, e, ctx);
  }

  async function onMaintenanceEvent(tx: WriteTx, e: MaintenanceEventRecord, ctx: CommandContext): Promise<void> {
    const id = e.maintenanceId;
    const ref = maintenanceRef(id);
    let lane: string;
    if (e.kind === 'scheduled') {
      const home = await p.maintenance.home(tx, ctx);
      if (!home) return; // No incidents channel on this platform: nothing to post.
      await insertMaintenanceThread(tx, { maintenanceId: id, platform: p.platform, channel: home, createdAt: ctx.now() });
      lane = maintenanceLane(p.threadTarget(home), id);
      lastRoot.set(laneKey(lane, null), await put(tx, ctx, null, lane, p.maintenance.rootPost));
    } else {
      // Later events follow the thread to the channel it was opened in.
      const row = await maintenanceThread(tx, id, p.platform);
      if (!row) return;
      lane = maintenanceLane(p.threadTarget(row.channel), id);
    }
    const draftId = e.payload.draftId;
    const draft = e.kind === 'draft_created' && typeof draftId === 'number' ? await maintenanceDraftForApproval(tx, draftId) : null;
    if (draft && typeof draftId === 'number') {
      // The approval request stands for draft_created, as in an incident's thread.
      await put(tx, ctx, null, lane, p.render.approvalRequest({ type: 'approval_request', draft: { ...draft, incident: ref }, draftId }));
    } else if (repliesInThread(e, p.platform)) {
      const event = { kind: e.kind, actor: e.actor, text: e.text, occurredAt: e.occurredAt, recordedAt: e.recordedAt };
      await put(
        tx,
        ctx,
        null,
        lane,
        p.render.event({ type: 'event', incident: ref, event, eventId: e.id, broadcast: isBroadcast(e.kind) }, ctx.policy.timezone),
      );
    }
    const decided = await maintenanceDraftDecisionOf(tx, e);
    if (decided) {
      const { draftId: decidedId, ...decision } = decided;
      await put(tx, ctx, null, lane, p.render.approvalDecided({ type: 'approval_decided', decision, draftId: decidedId }));
    }
    if (MAINTENANCE_ROOT_CHANGES.has(e.kind)) await touchRoot(tx, ctx, lane, null, p.maintenance.rootUpdate);
  }

  return {
    name: p.platform,
    onMaintenanceEvent,
    async onEvent(tx, e, ctx) {
      if (e.kind === 'declared') return onDeclared(tx, e, ctx);
      const target = await laneOf(tx, e.incidentId);
      if (!target || !repliesInThread(e, p.platform)) return;
      await reply(tx, target, e, ctx);
      const decided = await draftDecisionOf(tx, e);
      if (decided) {
        const { draftId, ...decision } = decided;
        await put(tx, ctx, e.incidentId, target, p.render.approvalDecided({ type: 'approval_decided', decision, draftId }));
      }
    },
    async onIncidentChanged(tx, incidentId, ctx) {
      const target = await laneOf(tx, incidentId);
      if (!target) return;
      // The root card is rendered from the database when it is sent, so one waiting post/edit
      // already carries this change: folding keeps a burst of changes under the platform's limits.
      await touchRoot(tx, ctx, target, incidentId, p.rootUpdate);
    },
    async onDraftCreated(tx, draftId, ctx) {
      const d = await findDraft(tx, draftId);
      if (!d) return;
      const target = await laneOf(tx, d.incidentId);
      if (!target) return;
      const draft = { id: `D-${d.id}`, incident: incRef(d.incidentId), author: d.author, status: d.status, body: d.body };
      await put(tx, ctx, d.incidentId, target, p.render.approvalRequest({ type: 'approval_request', draft, draftId }));
    },
  };
}
