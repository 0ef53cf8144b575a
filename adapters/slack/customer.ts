import { createHash } from 'node:crypto';
import { SlackApiError, preparePost, type PreparedPost, type SlackWebApi } from './web-api.js';
import type { Target } from '../../src/mirror/target.js';
import type { KnownBlock } from '@slack/types';
import { slackCustomerMessage } from './messages.js';
import { dateToken, escapeMrkdwn } from './mrkdwn.js';
import { SLACK_POST_INTERVAL_MS, SLACK_UPSTREAM_SHARE, channelPostGate, slackChannelPaceKey, toDeliveryResult } from './target.js';
import { raceAbort } from '../../src/mirror/target.js';
import { sendCustomerMessage, type CustomerPayload, type MaintenanceCustomerPayload } from '../../src/mirror/customer-channels.js';
import { formatPosted } from '../../src/render/time.js';

// Customer channels (`subscribe slack:C123`, Slack Connect shared channels included): one message
// per incident in each channel, kept current with chat.update, and each published update as a
// reply in its thread. Unlike the internal thread, nothing from user text may become a mention or
// a ping here, so every piece of text is fully escaped. Update rows are customer-facing: the worker
// folds several waiting ones into the newest and marks late ones with a "Delayed:" notice.

export const isCustomerChannelTarget = (target: string) => /^slack:[CDG][A-Z0-9]+$/.test(target);

const STATUS_EMOJI: Record<string, string> = {
  investigating: ':red_circle:',
  identified: ':large_orange_circle:',
  monitoring: ':large_blue_circle:',
  resolved: ':white_check_mark:',
};

/** Slack refuses section text over 3,000 characters: split on paragraphs, then lines, then hard. */
/**
 * Where to cut a run with no space in it: never inside an escaped entity (`&amp;` cut into `&a` and
 * `mp;` shows as garbage) and never between the two halves of a surrogate pair (a lone half is not
 * text, and Slack refuses it).
 */
function safeCut(window: string, max: number): number {
  let cut = max;
  const amp = window.lastIndexOf('&', cut - 1);
  if (amp >= 0 && amp > cut - 8 && !window.slice(amp, cut).includes(';')) cut = amp;
  const code = window.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  return cut > 0 ? cut : max;
}

export function splitSections(text: string, max = 3000): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest.length > max) {
    const window = rest.slice(0, max);
    let cut = window.lastIndexOf('\n\n');
    if (cut < max / 2) cut = window.lastIndexOf('\n');
    if (cut < max / 2) cut = window.lastIndexOf(' ');
    if (cut < max / 2) cut = safeCut(window, max);
    out.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).replace(/^\s+/, '');
  }
  if (rest) out.push(rest);
  return out;
}

const STATUS_LABEL = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** The incident's one message in the channel: title, current public status, affected components. */
export function customerRoot(p: CustomerPayload) {
  const affected = p.components.filter((c) => c.status !== 'operational');
  const comps = affected.length ? affected.map((c) => `${escapeMrkdwn(c.name)}: ${c.status.replace(/_/g, ' ')}`).join(' · ') : 'No components affected';
  const blocks: KnownBlock[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*${STATUS_EMOJI[p.status] ?? ''} ${escapeMrkdwn(p.title)}*\n*${STATUS_LABEL(p.status)}* · ${comps}` } },
    {
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `${p.incident} · last update ${dateToken(p.at, p.zone)} · <${p.url}|status page> · updates in the thread` }],
    },
  ];
  return { text: `${p.title}: ${STATUS_LABEL(p.status)}`.replace(/[<>&]/g, ' '), blocks };
}

/** One published update, as a thread reply; long bodies become several sections. */
export function customerReply(p: CustomerPayload, notices: string[]) {
  const sections = splitSections(escapeMrkdwn(p.body)).slice(0, 45);
  const blocks: KnownBlock[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*${STATUS_LABEL(p.status)}*` } },
    ...sections.map((t): KnownBlock => ({ type: 'section', text: { type: 'mrkdwn', text: t } })),
    { type: 'context', elements: [{ type: 'mrkdwn', text: `Posted ${dateToken(p.at, p.zone)}` }] },
  ];
  if (notices.length) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `_${notices.map(escapeMrkdwn).join(' ')}_` }] });
  const text = `${notices.length ? notices.join(' ') + ' ' : ''}${STATUS_LABEL(p.status)}: ${p.body}`.replace(/[<>&]/g, ' ').slice(0, 3900);
  return { text, blocks };
}

const MAINTENANCE_EMOJI: Record<string, string> = {
  scheduled: ':calendar:',
  in_progress: ':hammer_and_wrench:',
  verifying: ':mag:',
  completed: ':white_check_mark:',
  cancelled: ':no_entry_sign:',
};
const maintenanceStatusTitle = (s: string) => STATUS_LABEL(s.replace(/_/g, ' '));

/** The maintenance's window, in SITREP_TIMEZONE: "Dec 07, 2026 - 22:00 UTC to Dec 07, 2026 - 23:30 UTC". */
const windowText = (p: MaintenanceCustomerPayload) => `${formatPosted(p.startsAt, p.zone)} to ${formatPosted(p.endsAt, p.zone)}`;

/** A scheduled maintenance's one message in the channel: title, status, window, components. */
export function maintenanceCustomerRoot(p: MaintenanceCustomerPayload) {
  const comps = p.components.length ? p.components.map(escapeMrkdwn).join(' · ') : 'No specific components';
  const blocks: KnownBlock[] = [
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `*${MAINTENANCE_EMOJI[p.status] ?? ''} Scheduled maintenance: ${escapeMrkdwn(p.title)}*\n*${maintenanceStatusTitle(p.status)}* · ${escapeMrkdwn(windowText(p))}\nComponents: ${comps}`,
      },
    },
    {
      type: 'context',
      elements: [
        { type: 'mrkdwn', text: `${p.maintenance} · last update ${escapeMrkdwn(formatPosted(p.at, p.zone))} · <${p.url}|status page> · updates in the thread` },
      ],
    },
  ];
  return { text: `Scheduled maintenance: ${p.title}: ${maintenanceStatusTitle(p.status)}`.replace(/[<>&]/g, ' '), blocks };
}

/** One of a maintenance's public texts, as a thread reply; long bodies become several sections. */
export function maintenanceCustomerReply(p: MaintenanceCustomerPayload, notices: string[]) {
  const sections = splitSections(escapeMrkdwn(p.body)).slice(0, 45);
  const blocks: KnownBlock[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*${maintenanceStatusTitle(p.status)}*` } },
    ...sections.map((t): KnownBlock => ({ type: 'section', text: { type: 'mrkdwn', text: t } })),
    { type: 'context', elements: [{ type: 'mrkdwn', text: `Posted ${escapeMrkdwn(formatPosted(p.at, p.zone))}` }] },
  ];
  if (notices.length) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `_${notices.map(escapeMrkdwn).join(' ')}_` }] });
  const text = `${notices.length ? notices.join(' ') + ' ' : ''}${maintenanceStatusTitle(p.status)}: ${p.body}`.replace(/[<>&]/g, ' ').slice(0, 3900);
  return { text, blocks };
}

/**
 * What each root message was last made to show, so an edit that would change nothing is not sent.
 * The first update of an incident is enqueued with the root post in the same transaction, from the
 * same payload: without this, every channel would get an edit identical to the post it just had,
 * one more call per channel against Slack's per-workspace limit for chat.update. Kept in memory and
 * bounded: after a restart (or for roots older than the bound) the edit is simply sent again, which
 * is harmless.
 */
class RootShown {
  private readonly shown = new Map<string, string>();
  constructor(private readonly max = 20_000) {}

  static digest(root: { text: string; blocks: unknown }): string {
    return createHash('sha256')
      .update(JSON.stringify([root.text, root.blocks]))
      .digest('base64');
  }

  same(channel: string, ts: string, digest: string): boolean {
    return this.shown.get(`${channel} ${ts}`) === digest;
  }

  set(channel: string, ts: string, digest: string): void {
    const key = `${channel} ${ts}`;
    this.shown.delete(key);
    this.shown.set(key, digest);
    if (this.shown.size > this.max) this.shown.delete(this.shown.keys().next().value!);
  }
}

/** A customer-channel row's message, rendered once for every channel that gets the same one. */
interface Rendered {
  part: 'root' | 'update';
  root: { text: string; blocks: KnownBlock[] };
  rootDigest: string;
  rootPost: PreparedPost;
  /** The update as a thread reply, with the worker's notices (the same for most rows of one fan-out). */
  reply(notices: string[]): PreparedPost;
}

/** A few entries: the messages of the fan-outs under way, not one per channel. */
const RENDERED_KEPT = 64;
const REPLIES_KEPT = 8;

/**
 * One approved update reaches every subscribed channel with the same payload: it is validated,
 * rendered, digested and serialised once, and each channel's post only adds its channel and thread
 * to that JSON. Keyed by the payload as stored, so two messages share a rendering only when they
 * would render the same. Bounded (oldest dropped first).
 */
class RenderCache {
  private readonly entries = new Map<string, Rendered | null>();

  get(kind: string, payload: Record<string, unknown>): Rendered | null {
    const key = `${kind}\u0000${JSON.stringify(payload)}`;
    const known = this.entries.get(key);
    if (known !== undefined) return known;
    const made = render(kind, payload);
    this.entries.set(key, made);
    if (this.entries.size > RENDERED_KEPT) this.entries.delete(this.entries.keys().next().value!);
    return made;
  }
}

/** Null when the payload does not fit its kind (the row then fails, as it would every time). */
function render(kind: string, payload: Record<string, unknown>): Rendered | null {
  const parsed = slackCustomerMessage.safeParse({ kind, payload });
  if (!parsed.success) return null;
  const m = parsed.data;
  const incident = m.kind === 'slack.customer_root' || m.kind === 'slack.customer_update';
  // An incident's message and updates, or a scheduled maintenance's (its own lane).
  const root = incident ? customerRoot(m.payload) : maintenanceCustomerRoot(m.payload);
  const replies = new Map<string, PreparedPost>();
  return {
    part: m.kind === 'slack.customer_root' || m.kind === 'slack.maintenance_root' ? 'root' : 'update',
    root,
    rootDigest: RootShown.digest(root),
    rootPost: preparePost({ text: root.text, blocks: root.blocks, unfurl_links: false, unfurl_media: false }),
    reply(notices) {
      const key = notices.join('\n');
      let post = replies.get(key);
      if (!post) {
        const r =
          m.kind === 'slack.customer_root' || m.kind === 'slack.customer_update'
            ? customerReply(m.payload, notices)
            : maintenanceCustomerReply(m.payload, notices);
        post = preparePost({ text: r.text, blocks: r.blocks, unfurl_links: false, unfurl_media: false });
        if (replies.size >= REPLIES_KEPT) replies.delete(replies.keys().next().value!);
        replies.set(key, post);
      }
      return post;
    },
  };
}

export function createSlackCustomerTarget(client: SlackWebApi): Target {
  // Shared with the internal thread's target: both post through this client, maybe to one channel.
  const gate = channelPostGate(client);
  const shown = new RootShown();
  const rendered = new RenderCache();
  const post = (channel: string, threadTs: string | undefined, message: PreparedPost, signal: AbortSignal) =>
    gate.post(channel, signal, () => client.chat.postMessage({ channel, thread_ts: threadTs, prepared: message }));
  const channelOf = (target: string) => target.slice('slack:'.length);
  return {
    folds: true,
    handles: isCustomerChannelTarget,
    upstreamShare: SLACK_UPSTREAM_SHARE,
    // One message per row (the root, or the update's reply), so rows start one per interval.
    pace: (msg) => ({ key: slackChannelPaceKey(channelOf(msg.target)), intervalMs: SLACK_POST_INTERVAL_MS }),
    async deliver(msg, signal) {
      const r = rendered.get(msg.kind, msg.payload);
      if (!r) return { kind: 'failed', error: 'bad customer update payload' };
      const channel = channelOf(msg.target);
      const { root, rootDigest } = r;
      const attempt = sendCustomerMessage(msg, r.part, {
        noReference: 'chat.postMessage returned no ts',
        async postRoot() {
          const res = await post(channel, undefined, r.rootPost, signal);
          if (res.ts) shown.set(channel, res.ts, rootDigest);
          return res.ts;
        },
        async editRoot(ts) {
          if (shown.same(channel, ts, rootDigest)) return;
          await client.chat.update({ channel, ts, text: root.text, blocks: root.blocks }).then(
            () => shown.set(channel, ts, rootDigest),
            (err: unknown) => {
              const code = err instanceof SlackApiError ? err.data?.error : undefined;
              if (code === 'message_not_found' || code === 'cant_update_message' || code === 'edit_window_closed') return;
              throw err;
            },
          );
        },
        async postUpdate(rootTs, notices) {
          const res = await post(channel, rootTs || undefined, r.reply(notices), signal);
          return res.ts;
        },
      }).catch((err: unknown) => toDeliveryResult(err));
      return raceAbort(attempt, signal);
    },
  };
}
