import { and, eq } from 'drizzle-orm';
import type { Db, DbOrTx, Tx } from '../../db/client.js';
import { customerUpdates, incidentThreads } from '../../db/schema.js';
import { draftDecisionOf } from '../../src/commands/views.js';
import type { CommandContext, Outlet, TimelineRecord } from '../../src/commands/context.js';
import { getIncident, getSetting, incRef } from '../../src/commands/store.js';
import { enqueue } from '../../src/mirror/enqueue.js';
import { approvalDecided, approvalRequest, isBroadcast, threadReply } from './blocks.js';

// Turns state changes into outbox rows for the incident's Slack thread. Runs inside the command's
// transaction and never calls Slack: the outbox worker delivers through the SlackTarget.
//
// All of one incident's Slack messages (channel creation, root post, root edits, thread replies,
// approval requests) share ONE target string, so the worker keeps them in order in one lane: a
// reply can never overtake the root post it threads under.

export const SLACK_THREAD_PREFIX = 'slack:thread:';
export const threadTarget = (incidentsChannel: string) => `${SLACK_THREAD_PREFIX}${incidentsChannel}`;

export type SlackKind = 'create_channel' | 'root_post' | 'root_update' | 'thread_reply' | 'link_post' | 'ephemeral' | 'approval_update';

export interface DeclareOptions {
  dedicated: boolean;
}

export interface SlackOutlet extends Outlet {
  /**
   * Runs `fn` (which declares an incident synchronously) with per-declaration options the command
   * language has no word for (the modal's "create a dedicated channel"). better-sqlite3 commands
   * are synchronous, so nothing else can run between setting and clearing them.
   */
  withDeclareOptions<T>(opts: DeclareOptions, fn: () => T): T;
}

/** The incidents channel: `channel incidents` wins over SLACK_INCIDENTS_CHANNEL. */
export function incidentsChannel(db: DbOrTx, ctx: CommandContext): string | undefined {
  return getSetting(db, 'incidents_channel:slack') ?? ctx.policy.slackIncidentsChannel ?? undefined;
}

export function slackThreadRows(db: DbOrTx, incidentId: number) {
  return db
    .select()
    .from(incidentThreads)
    .where(and(eq(incidentThreads.incidentId, incidentId), eq(incidentThreads.platform, 'slack')))
    .all();
}

/** Channel slug for inc-<n>-<slug>: lowercase, a-z0-9 and dashes, at most 80 characters in all. */
export function channelName(id: number, title: string): string {
  const slug = title
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
  return slug ? `inc-${id}-${slug}` : `inc-${id}`;
}

const slackUserId = (ref: string | null | undefined) => (ref ? /^slack:([UW][A-Z0-9]+)$/.exec(ref)?.[1] : undefined);

export function createSlackOutlet(db: Db): SlackOutlet {
  let pending: DeclareOptions | null = null;
  // Hot path (every command on an incident): raw prepared statements on the same connection, so
  // they run inside the command's transaction without drizzle re-preparing SQL each time.
  const laneStmt = db.$client.prepare<[number], { channel: string; dedicated: number }>(
    "select channel, dedicated from incident_threads where incident_id = ? and platform = 'slack'",
  );
  const stateStmt = db.$client.prepare<[number], { state: string; target: string }>('select state, target from outbox where id = ?');
  const lastRootStmt = db.$client.prepare<[string, number], { id: number; state: string }>(
    "select id, state from outbox where target = ? and incident_id = ? and kind in ('root_post', 'root_update') order by id desc limit 1",
  );
  /**
   * The newest root post/edit row per incident, as this process last wrote it. Only a hint: a row
   * that rolled back or was written by another process just costs one extra chat.update.
   */
  const lastRoot = new Map<number, number>();

  function laneOf(_tx: Tx, incidentId: number): string | null {
    const rows = laneStmt.all(incidentId);
    const home = rows.find((r) => !r.dedicated) ?? rows[0];
    return home ? threadTarget(home.channel) : null;
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

  function onDeclared(tx: Tx, e: TimelineRecord, ctx: CommandContext): void {
    const typedIn = ctx.scope.platform === 'slack' ? ctx.scope.channel : undefined;
    const home = incidentsChannel(tx, ctx) ?? typedIn;
    if (!home) return; // No Slack home for incidents: nothing to post.
    const now = ctx.now();
    const target = threadTarget(home);
    tx.insert(incidentThreads).values({ incidentId: e.incidentId, platform: 'slack', channel: home, rootRef: null, dedicated: false, createdAt: now }).run();
    if (pending?.dedicated) {
      const inc = getIncident(tx, e.incidentId);
      const users = [...new Set([slackUserId(inc.createdBy), slackUserId(inc.lead)].filter((u): u is string => Boolean(u)))];
      enqueue(tx, now, { incidentId: e.incidentId, target, kind: 'create_channel', payload: { name: channelName(inc.id, inc.title), users } });
      lastRoot.set(e.incidentId, enqueue(tx, now, { incidentId: e.incidentId, target, kind: 'root_post', payload: { dedicated: true } }));
      enqueue(tx, now, { incidentId: e.incidentId, target, kind: 'link_post', payload: {} });
    } else {
      lastRoot.set(e.incidentId, enqueue(tx, now, { incidentId: e.incidentId, target, kind: 'root_post', payload: { dedicated: false } }));
    }
    reply(tx, target, e, ctx);
  }

  function reply(tx: Tx, target: string, e: TimelineRecord, ctx: CommandContext): void {
    const msg = threadReply(e, incRef(e.incidentId), ctx.policy.timezone);
    enqueue(tx, ctx.now(), {
      incidentId: e.incidentId,
      target,
      kind: 'thread_reply',
      payload: { ...msg, broadcast: isBroadcast(e.kind), eventId: e.id },
    });
  }

  return {
    name: 'slack',
    withDeclareOptions(opts, fn) {
      pending = opts;
      try {
        return fn();
      } finally {
        pending = null;
      }
    },
    onEvent(tx, e, ctx) {
      if (e.kind === 'declared') return onDeclared(tx, e, ctx);
      const target = laneOf(tx, e.incidentId);
      if (!target) return;
      // The approval request (with its buttons) stands for the draft_created event in the thread.
      if (e.kind === 'draft_created') return;
      // A 📌 taken from the thread itself is already there; only the root card changes.
      if (e.kind === 'pinned' && e.payload.source === 'slack') return;
      reply(tx, target, e, ctx);
      const decided = draftDecisionOf(tx, e);
      if (decided) {
        const { draftId, ...card } = decided;
        enqueue(tx, ctx.now(), { incidentId: e.incidentId, target, kind: 'approval_update', payload: { ...approvalDecided(card), draftId } });
      }
    },
    onIncidentChanged(tx, incidentId, ctx) {
      const target = laneOf(tx, incidentId);
      if (!target) return;
      // The root card is rendered from the database when it is sent, so one waiting post/edit
      // already carries this change: folding keeps a burst of changes under Slack's rate limit.
      if (rootPending(target, incidentId)) return;
      lastRoot.set(incidentId, enqueue(tx, ctx.now(), { incidentId, target, kind: 'root_update', payload: {} }));
    },
    onDraftCreated(tx, draftId, ctx) {
      const d = tx.select().from(customerUpdates).where(eq(customerUpdates.id, draftId)).get();
      if (!d) return;
      const target = laneOf(tx, d.incidentId);
      if (!target) return;
      const msg = approvalRequest({ id: `D-${d.id}`, incident: incRef(d.incidentId), author: d.author, status: d.status, body: d.body });
      enqueue(tx, ctx.now(), { incidentId: d.incidentId, target, kind: 'thread_reply', payload: { ...msg, broadcast: false, draftId } });
    },
  };
}
