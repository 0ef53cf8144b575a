import type { ReadConn } from '../../db/store.js';
import type { CommandContext, Outlet } from '../../src/commands/context.js';
import { getIncident, incRef } from '../../db/queries/incidents.js';
import { privateChannelCandidate } from '../../src/domain/visibility.js';
import { getSetting } from '../../db/queries/settings.js';
import { threadRows } from '../../db/queries/threads.js';
import { createThreadOutlet } from '../../src/mirror/thread.js';
import type { ThreadRenderer } from '../../src/render/thread.js';
import { approvalDecided, approvalRequest, threadReply } from './blocks.js';
import type { SlackThreadMessage } from './messages.js';

// The incident's Slack thread: the one chat-thread outlet (src/mirror/thread.ts) with Slack's
// home channel, its opening rows (a dedicated channel when the declare command asks for one) and
// Block Kit rendering. The outbox worker delivers through the SlackTarget.

export const SLACK_THREAD_PREFIX = 'slack:thread:';
export const threadTarget = (incidentsChannel: string) => `${SLACK_THREAD_PREFIX}${incidentsChannel}`;
/**
 * A private incident's lane: its private channel is created by the target, so no channel id is
 * known when its rows are written, and it never lives under the shared incidents channel.
 */
export const privateThreadTarget = (incidentId: number) => `${SLACK_THREAD_PREFIX}private:${incRef(incidentId)}`;

export type SlackKind = SlackThreadMessage['kind'];

/** The incidents channel: `channel incidents` wins over SLACK_INCIDENTS_CHANNEL. */
export async function incidentsChannel(db: ReadConn, ctx: CommandContext): Promise<string | undefined> {
  return (await getSetting(db, 'incidents_channel:slack')) ?? ctx.policy.slackIncidentsChannel ?? undefined;
}

export const slackThreadRows = (db: ReadConn, incidentId: number) => threadRows(db, incidentId, 'slack');

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
/** The Slack users invited to an incident's own channel: its declarer and its lead. */
const invitees = (inc: { createdBy: string; lead: string | null }) => [
  ...new Set([slackUserId(inc.createdBy), slackUserId(inc.lead)].filter((u): u is string => Boolean(u))),
];

/** Block Kit for the thread's messages. */
export const slackThreadRenderer: ThreadRenderer<SlackThreadMessage> = {
  event: (m, zone) => ({ kind: 'thread_reply', payload: { ...threadReply(m.event, m.incident, zone), broadcast: m.broadcast, eventId: m.eventId } }),
  approvalRequest: (m) => ({ kind: 'thread_reply', payload: { ...approvalRequest(m.draft), broadcast: false, draftId: m.draftId } }),
  approvalDecided: (m) => ({ kind: 'approval_update', payload: { ...approvalDecided(m.decision), draftId: m.draftId } }),
};

export function createSlackOutlet(): Outlet {
  return createThreadOutlet<SlackThreadMessage>({
    platform: 'slack',
    threadTarget,
    async home(tx, _e, ctx) {
      const typedIn = ctx.scope.platform === 'slack' ? ctx.scope.channel : undefined;
      return (await incidentsChannel(tx, ctx)) ?? typedIn;
    },
    async opening(tx, e, visibility): Promise<SlackThreadMessage[]> {
      if (visibility === 'private') {
        // A private channel of its own, the declarer and the lead invited; root and thread there,
        // and nothing in the shared incidents channel (no link post).
        const inc = await getIncident(tx, e.incidentId);
        return [
          { kind: 'create_channel', payload: { name: privateChannelCandidate(inc.id, inc.title), users: invitees(inc), private: true } },
          { kind: 'root_post', payload: { dedicated: true } },
        ];
      }
      if (e.payload.dedicated !== true) return [{ kind: 'root_post', payload: { dedicated: false } }];
      const inc = await getIncident(tx, e.incidentId);
      const users = invitees(inc);
      return [
        { kind: 'create_channel', payload: { name: channelName(inc.id, inc.title), users, private: false } },
        { kind: 'root_post', payload: { dedicated: true } },
        { kind: 'link_post', payload: {} },
      ];
    },
    privateLane: privateThreadTarget,
    rootUpdate: { kind: 'root_update', payload: {} },
    render: slackThreadRenderer,
    maintenance: {
      async home(tx, ctx) {
        const typedIn = ctx.scope.platform === 'slack' ? ctx.scope.channel : undefined;
        return (await incidentsChannel(tx, ctx)) ?? typedIn;
      },
      rootPost: { kind: 'root_post', payload: { dedicated: false } },
      rootUpdate: { kind: 'root_update', payload: {} },
    },
  });
}
