import type { webApi } from '@slack/bolt';
import type { DeliveryResult, Target } from '../../src/mirror/target.js';
import type { Block } from './blocks.js';
import { dateToken, escapeMrkdwn } from './mrkdwn.js';
import { toDeliveryResult } from './target.js';
import { raceAbort } from '../../src/mirror/target.js';
import { customerPayload, type CustomerPayload } from '../../src/mirror/customer-channels.js';

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
  const blocks: Block[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*${STATUS_EMOJI[p.status] ?? ''} ${escapeMrkdwn(p.title)}*\n*${STATUS_LABEL(p.status)}* · ${comps}` } },
    { type: 'context', elements: [{ type: 'mrkdwn', text: `${p.incident} · last update ${dateToken(p.at, p.zone)} · <${p.url}|status page> · updates in the thread` }] },
  ];
  return { text: `${p.title}: ${STATUS_LABEL(p.status)}`.replace(/[<>&]/g, ' '), blocks };
}

/** One published update, as a thread reply; long bodies become several sections. */
export function customerReply(p: CustomerPayload, notices: string[]) {
  const sections = splitSections(escapeMrkdwn(p.body)).slice(0, 45);
  const blocks: Block[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*${STATUS_LABEL(p.status)}*` } },
    ...sections.map((t): Block => ({ type: 'section', text: { type: 'mrkdwn', text: t } })),
    { type: 'context', elements: [{ type: 'mrkdwn', text: `Posted ${dateToken(p.at, p.zone)}` }] },
  ];
  if (notices.length) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `_${notices.map(escapeMrkdwn).join(' ')}_` }] });
  const text = `${notices.length ? notices.join(' ') + ' ' : ''}${STATUS_LABEL(p.status)}: ${p.body}`.replace(/[<>&]/g, ' ').slice(0, 3900);
  return { text, blocks };
}


export function createSlackCustomerTarget(client: webApi.WebClient): Target {
  const post = (args: Parameters<webApi.WebClient['chat']['postMessage']>[0]) => client.chat.postMessage(args);
  return {
    folds: true,
    handles: isCustomerChannelTarget,
    async deliver(msg, signal) {
      const parsed = customerPayload.safeParse(msg.payload);
      if (!parsed.success) return { kind: 'failed', error: 'bad customer update payload' };
      const p = parsed.data;
      const channel = msg.target.slice('slack:'.length);
      const root = customerRoot(p);
      const attempt = (async (): Promise<DeliveryResult> => {
        if (msg.kind === 'slack.customer_root') {
          const res = await post({ channel, text: root.text, blocks: root.blocks as never, unfurl_links: false, unfurl_media: false });
          return res.ts ? { kind: 'delivered', remoteRef: res.ts } : { kind: 'retry', error: 'chat.postMessage returned no ts' };
        }
        const notices = [msg.delayNotice, msg.foldNotice].filter((n): n is string => Boolean(n));
        const reply = customerReply(p, notices);
        let rootTs = msg.previousRemoteRef ?? null;
        if (rootTs) {
          // Edit first: a retry after a failed reply repeats an idempotent edit, never a post.
          await client.chat.update({ channel, ts: rootTs, text: root.text, blocks: root.blocks as never }).catch((err: unknown) => {
            const code = (err as { data?: { error?: string } }).data?.error;
            if (code === 'message_not_found' || code === 'cant_update_message' || code === 'edit_window_closed') return;
            throw err;
          });
        } else {
          // The root message could not be posted (dead-lettered): start the thread with this update.
          const res = await post({ channel, text: root.text, blocks: root.blocks as never, unfurl_links: false, unfurl_media: false });
          rootTs = res.ts ?? null;
        }
        const res = await post({ channel, ...(rootTs ? { thread_ts: rootTs } : {}), text: reply.text, blocks: reply.blocks as never, unfurl_links: false, unfurl_media: false });
        return { kind: 'delivered', remoteRef: rootTs ?? res.ts ?? '' };
      })().catch((err: unknown) => toDeliveryResult(err));
      return raceAbort(attempt, signal);
    },
  };
}
