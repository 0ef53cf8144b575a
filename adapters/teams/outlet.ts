import { and, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Db, DbOrTx, Tx } from '../../db/client.js';
import { customerUpdates, incidentThreads, settings } from '../../db/schema.js';
import { draftDecisionOf } from '../../src/commands/views.js';
import type { CommandContext, Outlet, TimelineRecord } from '../../src/commands/context.js';
import { getSetting, incRef } from '../../src/commands/store.js';
import { enqueue } from '../../src/mirror/enqueue.js';
import { approvalCard, approvalDecidedCard, eventCard, summary } from './cards.js';

// Turns state changes into outbox rows for the incident's Teams thread. Runs inside the command's
// transaction and never calls Teams: the outbox worker delivers through the Teams target.
//
// All of one incident's Teams messages (root post, root edits, thread replies, approval cards)
// share ONE target string, `teams:thread:<channel id>`, so the worker keeps them in order in one
// lane: a reply can never overtake the root post it threads under.

export const TEAMS_THREAD_PREFIX = 'teams:thread:';
export const threadTarget = (channelId: string) => `${TEAMS_THREAD_PREFIX}${channelId}`;
export const INCIDENTS_CHANNEL_KEY = 'incidents_channel:teams';

/** `19:abc@thread.tacv2;messageid=123` → { channel: '19:abc@thread.tacv2', messageId: '123' }. */
export function splitConversationId(id: string): { channel: string; messageId?: string } {
  const m = /^(.*?);messageid=(.+)$/.exec(id);
  return m ? { channel: m[1]!, messageId: m[2]! } : { channel: id };
}

/** The conversation id of a reply in the thread under `rootId`. */
export const threadConversationId = (channel: string, rootId: string) => `${channel};messageid=${rootId}`;

// --- conversation references --------------------------------------------------------------------
// Proactive sends need the serviceUrl Teams gave us with the last activity from a conversation.
// They are kept in the settings table under `teams:ref:<conversation id>`.

export const conversationRef = z.object({ serviceUrl: z.string().url(), conversationId: z.string().min(1), tenantId: z.string().optional() });
export type ConversationRef = z.infer<typeof conversationRef>;
export const refKey = (conversationId: string) => `teams:ref:${conversationId}`;

export function saveConversationRef(tx: Tx, ref: ConversationRef, by: string, at: number): void {
  const value = JSON.stringify(ref);
  tx.insert(settings)
    .values({ key: refKey(ref.conversationId), value, updatedBy: by, updatedAt: at })
    .onConflictDoUpdate({ target: settings.key, set: { value, updatedBy: by, updatedAt: at } })
    .run();
}

export function loadConversationRef(db: DbOrTx, conversationId: string): ConversationRef | null {
  const raw = getSetting(db, refKey(conversationId));
  if (!raw) return null;
  try {
    const parsed = conversationRef.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export function teamsThreadRow(db: DbOrTx, incidentId: number) {
  return db
    .select()
    .from(incidentThreads)
    .where(and(eq(incidentThreads.incidentId, incidentId), eq(incidentThreads.platform, 'teams')))
    .get();
}

export function createTeamsOutlet(db: Db): Outlet {
  // Raw prepared statement on the same connection: it runs inside the command's transaction.
  const lastRootStmt = db.$client.prepare<[string, number], { state: string }>(
    "select state from outbox where target = ? and incident_id = ? and kind in ('root_post', 'root_update') order by id desc limit 1",
  );

  // Hot path (every command on an incident): prepared once, run inside the command's transaction.
  const laneStmt = db.$client.prepare<[number], { channel: string }>("select channel from incident_threads where incident_id = ? and platform = 'teams' limit 1");

  function laneOf(_tx: Tx, incidentId: number): string | null {
    const row = laneStmt.get(incidentId);
    return row ? threadTarget(row.channel) : null;
  }

  function rootPending(target: string, incidentId: number): boolean {
    // Rows of a lane go out in id order, so only the newest root row can still be waiting.
    return lastRootStmt.get(target, incidentId)?.state === 'pending';
  }

  function reply(tx: Tx, target: string, e: TimelineRecord, ctx: CommandContext): void {
    enqueue(tx, ctx.now(), {
      incidentId: e.incidentId,
      target,
      kind: 'thread_reply',
      payload: { card: eventCard(e, ctx.policy.timezone), summary: summary(`${incRef(e.incidentId)} ${e.kind.replace(/_/g, ' ')}: ${e.text}`), eventId: e.id },
    });
  }

  return {
    name: 'teams',
    onEvent(tx, e, ctx) {
      if (e.kind === 'declared') {
        const home = getSetting(tx, INCIDENTS_CHANNEL_KEY);
        if (!home) return; // No Teams incidents channel bound: nothing to post.
        const target = threadTarget(home);
        tx.insert(incidentThreads).values({ incidentId: e.incidentId, platform: 'teams', channel: home, rootRef: null, dedicated: false, createdAt: ctx.now() }).run();
        enqueue(tx, ctx.now(), { incidentId: e.incidentId, target, kind: 'root_post', payload: {} });
        reply(tx, target, e, ctx);
        return;
      }
      const target = laneOf(tx, e.incidentId);
      if (!target) return;
      // The approval card (with its buttons) stands for the draft_created event in the thread.
      if (e.kind === 'draft_created') return;
      reply(tx, target, e, ctx);
      const decided = draftDecisionOf(tx, e);
      if (decided) {
        const { draftId, ...card } = decided;
        const payload = { card: approvalDecidedCard(card), summary: summary(`${card.id} ${card.decision}`), draftId };
        enqueue(tx, ctx.now(), { incidentId: e.incidentId, target, kind: 'approval_update', payload });
      }
    },
    onIncidentChanged(tx, incidentId, ctx) {
      const target = laneOf(tx, incidentId);
      if (!target) return;
      // The root card is rendered from the database when it is sent, so one waiting post/edit
      // already carries this change: folding keeps a burst of changes under Teams' thread limits.
      if (rootPending(target, incidentId)) return;
      enqueue(tx, ctx.now(), { incidentId, target, kind: 'root_update', payload: {} });
    },
    onDraftCreated(tx, draftId, ctx) {
      const d = tx.select().from(customerUpdates).where(eq(customerUpdates.id, draftId)).get();
      if (!d) return;
      const target = laneOf(tx, d.incidentId);
      if (!target) return;
      const c = approvalCard({ id: `D-${d.id}`, incident: incRef(d.incidentId), author: d.author, status: d.status, body: d.body });
      enqueue(tx, ctx.now(), { incidentId: d.incidentId, target, kind: 'thread_reply', payload: { card: c, summary: summary(`D-${d.id} for ${incRef(d.incidentId)} needs approval`), draftId } });
    },
  };
}
