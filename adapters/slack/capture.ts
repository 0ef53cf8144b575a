import type { WriteTx } from '../../db/store.js';
import { isOwnPost } from '../../db/queries/outbox.js';
import { threadRootIn, threadsInChannel } from '../../db/queries/threads.js';
import { incRef } from '../../db/queries/incidents.js';
import type { Scope } from '../../src/commands/context.js';
import type { Runner } from '../../src/commands/runner.js';
import { pin } from '../../src/commands/pin.js';
import { fromSlackText, tsToMs } from './mrkdwn.js';

// Putting a Slack message on an incident's timeline. Two ways in, one way through:
// - the "Add to timeline" message shortcut carries the message (text, author, ts), so it is
//   recorded at once, in the request's own transaction;
// - a 📌 reaction carries only the message's channel and ts, so its text is read with
//   conversations.replies first — by the outbox (target `slack:history`, history.ts), which retries
//   a rate-limited read after its Retry-After instead of dropping the pin.
// Both end here, in the one `pin` verb, keyed by the message: however it is pinned, and however
// often, a message is on the timeline once.

/** The incident a channel (and thread) belongs to, if any: the thread's, or the dedicated channel's. */
export async function slackScope(db: WriteTx, channel: string, threadTs?: string): Promise<Scope> {
  const rows = await threadsInChannel(db, 'slack', channel);
  const hit = (threadTs ? rows.find((r) => r.rootRef === threadTs) : undefined) ?? rows.find((r) => r.dedicated);
  return { platform: 'slack', channel, ...(threadTs ? { threadRef: threadTs } : {}), ...(hit ? { incidentId: hit.incidentId } : {}) };
}

/** Whether any incident's thread or channel is in `channel`: a 📌 anywhere else is not looked at. */
export async function hasIncidentThreads(db: WriteTx, channel: string): Promise<boolean> {
  return (await threadsInChannel(db, 'slack', channel)).length > 0;
}

/** A Slack message as the shortcut payload or conversations.replies gives it. */
export interface SlackMessage {
  channel: string;
  ts: string;
  threadTs?: string | undefined;
  user?: string | undefined;
  botId?: string | undefined;
  /** As Slack sends it (mrkdwn, entities escaped). */
  text: string;
}

export type PinOutcome =
  | { kind: 'pinned'; incidentId: number }
  | { kind: 'already'; incidentId: number }
  /** Not in an incident's thread or dedicated channel. */
  | { kind: 'elsewhere' }
  /** The incident's root card (or its link post): not an event. */
  | { kind: 'root'; incidentId: number }
  /** One of Sitrep's own thread replies: already a timeline event. */
  | { kind: 'own'; incidentId: number }
  | { kind: 'refused'; incidentId: number; message: string };

/** The key a message's pin is recorded under, shared by both ways in. */
export const pinKey = (channel: string, ts: string) => `pin:${channel}:${ts}`;

/**
 * Records `msg` on its incident's timeline as pinned by `pinnedBy` (a user ref), once per message,
 * inside `tx`. Reads and writes only the database.
 */
export async function recordSlackPin(runner: Runner, tx: WriteTx, msg: SlackMessage, pinnedBy: string): Promise<PinOutcome> {
  // A top-level message is the root of its own thread (Slack sets thread_ts only once it has replies).
  const scope = await slackScope(tx, msg.channel, msg.threadTs ?? msg.ts);
  const incidentId = scope.incidentId;
  if (incidentId === undefined) return { kind: 'elsewhere' };
  if ((await threadRootIn(tx, incidentId, msg.channel)) === msg.ts) return { kind: 'root', incidentId };
  if (await isOwnPost(tx, msg.ts, 'slack:')) return { kind: 'own', incidentId };
  const author = msg.user ? `slack:${msg.user}` : `slack:${msg.botId ?? 'unknown'}`;
  const done = await runner.once(
    { platform: 'slack', id: pinKey(msg.channel, msg.ts) },
    (inner) =>
      runner.invoke(
        (ctx) =>
          pin(ctx, {
            incidentId,
            author,
            postedAt: tsToMs(msg.ts),
            text: fromSlackText(msg.text),
            source: { source: 'slack', channel: msg.channel, ts: msg.ts },
          }),
        pinnedBy,
        scope,
        {},
        inner,
      ),
    { within: tx },
  );
  if (done === 'duplicate') return { kind: 'already', incidentId };
  if (!done.ok) return { kind: 'refused', incidentId, message: done.error.message };
  return { kind: 'pinned', incidentId };
}

/** One line for the person who used the shortcut. */
export function pinAnswer(o: PinOutcome): string {
  switch (o.kind) {
    case 'pinned':
      return `:pushpin: Added to ${incRef(o.incidentId)}'s timeline.`;
    case 'already':
    case 'own':
      return `That message is already on ${incRef(o.incidentId)}'s timeline.`;
    case 'root':
      return `That is ${incRef(o.incidentId)}'s own card: use Add to timeline on a message in its thread.`;
    case 'elsewhere':
      return "This message is not in an incident's thread or channel: use Add to timeline on a message there.";
    case 'refused':
      return `:warning: Not added to ${incRef(o.incidentId)}'s timeline: ${o.message}`;
  }
}
