import { z } from 'zod';
import { customerChannelMessage } from '../../src/mirror/customer-channels.js';
import type { AdaptiveCard } from './cards.js';

// Every outbox message Teams' outlets write and Teams' targets deliver: one `kind`, one payload
// shape. The outlets (and the inbound handler, for `reply`) build these; the targets parse the
// stored row back with the same schemas, so a payload that does not fit is refused as a failed
// delivery instead of reaching Teams. Defaults keep rows written by older versions deliverable.

/** An Adaptive Card as stored: an object of type AdaptiveCard; Teams itself judges the rest. */
const isCard = (v: unknown): v is AdaptiveCard => typeof v === 'object' && v !== null && 'type' in v && v.type === 'AdaptiveCard';
const card = z.custom<AdaptiveCard>(isCard, { message: 'an Adaptive Card must be an object of type AdaptiveCard' });
const cardPayload = z.object({ card, summary: z.string().default('') });

const message = <K extends string, P extends z.ZodType>(kind: K, payload: P) => z.object({ kind: z.literal(kind), payload });

/** The incident's thread (lane `teams:thread:<channel id>`) and answers to commands (adapters/teams/target.ts). */
export const teamsThreadMessage = z.discriminatedUnion('kind', [
  /** The root card, rendered from the database when sent. */
  message('root_post', z.object({})),
  /** The root card again (updateActivity), rendered from the database when sent. */
  message('root_update', z.object({})),
  /** A timeline event (`eventId`) or an approval card with buttons (`draftId`). */
  message('thread_reply', cardPayload.extend({ eventId: z.number().optional(), draftId: z.number().optional() })),
  /** Replaces the approval card of `draftId` once decided. */
  message('approval_update', cardPayload.extend({ draftId: z.number() })),
  /**
   * An answer to the person who typed a command, in the conversation (or thread) they used. A
   * webhook signing secret is never stored: `secretOf` names the subscription it is read from.
   */
  message('reply', z.object({ conversationId: z.string().min(1), serviceUrl: z.string().url(), text: z.string(), secretOf: z.number().int().optional() })),
]);
export type TeamsThreadMessage = z.infer<typeof teamsThreadMessage>;
export const TEAMS_THREAD_KINDS: readonly string[] = teamsThreadMessage.options.map((o) => o.shape.kind.value);

/** Customer channels: lane `teams:<conversation id>` (adapters/teams/customer.ts). */
export const teamsCustomerMessage = customerChannelMessage('teams');
export type TeamsCustomerMessage = z.infer<typeof teamsCustomerMessage>;

export type TeamsOutboxMessage = TeamsThreadMessage | TeamsCustomerMessage;
