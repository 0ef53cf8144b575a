import type { KnownBlock } from '@slack/types';
import { z } from 'zod';
import { customerChannelMessage } from '../../src/mirror/customer-channels.js';

// Every outbox message Slack's outlets write and Slack's targets deliver: one `kind`, one payload
// shape. The outlets build these; the targets parse the stored row back with the same schemas, so
// a payload that does not fit is refused as a failed delivery instead of reaching Slack. Defaults
// keep rows written by older versions deliverable (a thread reply without `broadcast`, a root post
// without `dedicated`, a channel creation without `users`).

/** A Block Kit block as stored: an object with a string `type`; Slack itself judges the rest. */
const isBlock = (v: unknown): v is KnownBlock => typeof v === 'object' && v !== null && 'type' in v && typeof v.type === 'string';
const block = z.custom<KnownBlock>(isBlock, { message: 'a Block Kit block must be an object with a type' });
const blocks = z.object({ text: z.string(), blocks: z.array(block) });

const message = <K extends string, P extends z.ZodType>(kind: K, payload: P) => z.object({ kind: z.literal(kind), payload });

/** The incident's thread: lane `slack:thread:<incidents channel>`, or `slack:thread:private:INC-n` for a private incident (adapters/slack/target.ts). */
export const slackThreadMessage = z.discriminatedUnion('kind', [
  /**
   * The incident's own channel (`inc-12-checkout-errors`), with the declarer and the lead invited;
   * a private channel for a private incident (lane `slack:thread:private:INC-n`).
   */
  message('create_channel', z.object({ name: z.string().min(1), users: z.array(z.string()).default([]), private: z.boolean().default(false) })),
  /** The root card, rendered from the database when sent; in the dedicated channel when `dedicated`. */
  message('root_post', z.object({ dedicated: z.boolean().default(false) })),
  /** The root card again (chat.update), rendered from the database when sent. */
  message('root_update', z.object({})),
  /** A timeline event (`eventId`) or an approval request with buttons (`draftId`). */
  message('thread_reply', blocks.extend({ broadcast: z.boolean().default(false), eventId: z.number().optional(), draftId: z.number().optional() })),
  /** In the incidents channel when the incident lives in a dedicated one. */
  message('link_post', z.object({})),
  /** Replaces the approval request of `draftId` once decided. */
  message('approval_update', blocks.extend({ draftId: z.number() })),
  /** Only the person who typed a command sees it. */
  message('ephemeral', z.object({ channel: z.string(), user: z.string(), text: z.string(), thread_ts: z.string().optional() })),
]);
export type SlackThreadMessage = z.infer<typeof slackThreadMessage>;
export type SlackThreadKind = SlackThreadMessage['kind'];
export const SLACK_THREAD_KINDS: readonly string[] = slackThreadMessage.options.map((o) => o.shape.kind.value);

/** Customer channels: lane `slack:<channel id>` (adapters/slack/customer.ts). */
export const slackCustomerMessage = customerChannelMessage('slack');
export type SlackCustomerMessage = z.infer<typeof slackCustomerMessage>;

export type SlackOutboxMessage = SlackThreadMessage | SlackCustomerMessage | SlackHistoryMessage;

/**
 * Reads Slack must be asked for: lane `slack:history` (adapters/slack/history.ts), one lane for the
 * workspace, because conversations.replies is limited per app and workspace (one call a minute
 * for apps outside the Marketplace), not per channel.
 */
export const slackHistoryMessage = z.discriminatedUnion('kind', [
  /** A 📌 on `ts` in `channel` by `user`: read the message, then record the pin. */
  message('pin_read', z.object({ channel: z.string().min(1), ts: z.string().min(1), user: z.string().min(1) })),
]);
export type SlackHistoryMessage = z.infer<typeof slackHistoryMessage>;
