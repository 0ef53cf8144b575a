import { and, eq, inArray } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../../db/client.js';
import { customerUpdates, incidentThreads, outbox } from '../../db/schema.js';
import type { CommandContext, Outlet, TimelineRecord } from '../../src/commands/context.js';
import { getIncident, getSetting, incRef } from '../../src/commands/store.js';
import { enqueue } from '../../src/mirror/enqueue.js';
import { approvalRequest, isBroadcast, threadReply } from './blocks.js';

// Turns state changes into outbox rows for the incident's Slack thread. Runs inside the command's
// transaction and never calls Slack: the outbox worker delivers through the SlackTarget.
//
// All of one incident's Slack messages (channel creation, root post, root edits, thread replies,
// approval requests) share ONE target string, so the worker keeps them in order in one lane: a
// reply can never overtake the root post it threads under.

export const SLACK_THREAD_PREFIX = 'slack:thread:';
export const threadTarget = (incidentsChannel: string) => `${SLACK_THREAD_PREFIX}${incidentsChannel}`;

export type SlackKind = 'create_channel' | 'root_post' | 'root_update' | 'thread_reply' | 'link_post' | 'ephemeral';

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

export function createSlackOutlet(): SlackOutlet {
  let pending: DeclareOptions | null = null;

  function laneOf(tx: Tx, incidentId: number): string | null {
    const rows = slackThreadRows(tx, incidentId);
    const home = rows.find((r) => !r.dedicated) ?? rows[0];
    return home ? threadTarget(home.channel) : null;
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
      enqueue(tx, now, { incidentId: e.incidentId, target, kind: 'root_post', payload: { dedicated: true } });
      enqueue(tx, now, { incidentId: e.incidentId, target, kind: 'link_post', payload: {} });
    } else {
      enqueue(tx, now, { incidentId: e.incidentId, target, kind: 'root_post', payload: { dedicated: false } });
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
    },
    onIncidentChanged(tx, incidentId, ctx) {
      const target = laneOf(tx, incidentId);
      if (!target) return;
      // The root card is rendered from the database when it is sent, so one waiting post/edit
      // already carries this change: folding keeps a burst of changes under Slack's rate limit.
      const waiting = tx
        .select({ id: outbox.id })
        .from(outbox)
        .where(and(eq(outbox.target, target), eq(outbox.incidentId, incidentId), eq(outbox.state, 'pending'), inArray(outbox.kind, ['root_post', 'root_update'])))
        .get();
      if (waiting) return;
      enqueue(tx, ctx.now(), { incidentId, target, kind: 'root_update', payload: {} });
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
