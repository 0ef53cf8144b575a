import { z } from 'zod';
import type { ReadConn, WriteTx } from '../../db/store.js';
import { threadRows } from '../../db/queries/threads.js';
import { getSetting, setSetting } from '../../db/queries/settings.js';
import type { Outlet } from '../../src/commands/context.js';
import { createThreadOutlet } from '../../src/mirror/thread.js';
import { privateIncidentsChannelKey } from '../../src/commands/store.js';
import { SitrepError } from '../../src/domain/errors.js';
import { kindWords, type ThreadRenderer } from '../../src/render/thread.js';
import { approvalCard, approvalDecidedCard, eventCard, summary } from './cards.js';
import type { TeamsThreadMessage } from './messages.js';

// The incident's Teams thread (lane `teams:thread:<channel id>`), its conversation ids and the
// conversation references proactive sends need. The outbox worker delivers through the Teams target.

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

export async function saveConversationRef(tx: WriteTx, ref: ConversationRef, by: string, at: number): Promise<void> {
  return await setSetting(tx, refKey(ref.conversationId), JSON.stringify(ref), by, at);
}

/**
 * A stored conversation reference (the setting under refKey), or null when it is missing or does
 * not read as one. The Teams targets read it through adapters/teams/refs.ts, on either engine.
 */
export function parseConversationRef(raw: string | undefined): ConversationRef | null {
  if (!raw) return null;
  try {
    const parsed = conversationRef.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The incident's one Teams thread row. */
export const teamsThreadRow = async (db: ReadConn, incidentId: number) => (await threadRows(db, incidentId, 'teams'))[0];

/** Adaptive Cards for the thread's messages. */
export const teamsThreadRenderer: ThreadRenderer<TeamsThreadMessage> = {
  event: (m, zone) => ({
    kind: 'thread_reply',
    payload: { card: eventCard(m.event, zone), summary: summary(`${m.incident} ${kindWords(m.event.kind)}: ${m.event.text}`), eventId: m.eventId },
  }),
  approvalRequest: (m) => ({
    kind: 'thread_reply',
    payload: { card: approvalCard(m.draft), summary: summary(`${m.draft.id} for ${m.draft.incident} needs approval`), draftId: m.draftId },
  }),
  approvalDecided: (m) => ({
    kind: 'approval_update',
    payload: { card: approvalDecidedCard(m.decision), summary: summary(`${m.decision.id} ${m.decision.decision}`), draftId: m.draftId },
  }),
};

/** The incident's Teams thread: the one chat-thread outlet (src/mirror/thread.ts) in the bound incidents channel. */
export function createTeamsOutlet(): Outlet {
  return createThreadOutlet<TeamsThreadMessage>({
    platform: 'teams',
    threadTarget,
    // No Teams incidents channel bound: nothing to post.
    async home(tx, _e, ctx, visibility) {
      const shared = await getSetting(tx, INCIDENTS_CHANNEL_KEY);
      if (visibility === 'public') return shared;
      const own = await getSetting(tx, privateIncidentsChannelKey('teams'));
      if (own) return own;
      // Teams is in use (a bound incidents channel, or the declare typed in Teams) but has no
      // private place: refused, and the refusal rolls the declare back, so nothing is written.
      if (shared || ctx.scope.platform === 'teams') {
        throw new SitrepError(
          'INVALID',
          'a private incident needs a private Teams channel and none is bound: run `channel private-incidents` in one (admins), then declare again',
        );
      }
      return null;
    },
    opening: async () => [{ kind: 'root_post', payload: {} }],
    rootUpdate: { kind: 'root_update', payload: {} },
    render: teamsThreadRenderer,
    maintenance: {
      home: (tx) => getSetting(tx, INCIDENTS_CHANNEL_KEY),
      rootPost: { kind: 'root_post', payload: {} },
      rootUpdate: { kind: 'root_update', payload: {} },
    },
  });
}
