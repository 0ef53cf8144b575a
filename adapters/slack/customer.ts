import { z } from 'zod';
import type { webApi } from '@slack/bolt';
import type { Outlet } from '../../src/commands/context.js';
import { getIncident, incRef } from '../../src/commands/store.js';
import { enqueue } from '../../src/mirror/enqueue.js';
import { subscribersFor } from '../../src/mirror/subscriptions.js';
import type { DeliveryResult, Target } from '../../src/mirror/target.js';
import type { Block } from './blocks.js';
import { dateToken, escapeMrkdwn } from './mrkdwn.js';
import { raceAbort, toDeliveryResult } from './target.js';

// Customer channels (`subscribe slack:C123`): each published customer-facing update is posted
// there. Unlike the internal thread, nothing from user text may become a mention or a ping here,
// so every piece of text is fully escaped. These rows are customer-facing: the worker folds
// several waiting ones into the newest and marks late ones with a "Delayed:" notice.

export const isCustomerChannelTarget = (target: string) => /^slack:[CDG][A-Z0-9]+$/.test(target);

const STATUS_EMOJI: Record<string, string> = {
  investigating: ':red_circle:',
  identified: ':large_orange_circle:',
  monitoring: ':large_blue_circle:',
  resolved: ':white_check_mark:',
};

export function customerMessage(u: { incident: string; title: string; status: string; body: string; at: number; url: string }, zone: string) {
  const status = u.status.charAt(0).toUpperCase() + u.status.slice(1);
  const blocks: Block[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*${STATUS_EMOJI[u.status] ?? ''} ${escapeMrkdwn(u.title)}: ${status}*\n${escapeMrkdwn(u.body)}` } },
    { type: 'context', elements: [{ type: 'mrkdwn', text: `${u.incident} · posted ${dateToken(u.at, zone)} · <${u.url}|status page>` }] },
  ];
  return { text: `${u.title}: ${status}. ${u.body}`.replace(/[<>&]/g, ' ').slice(0, 3000), blocks };
}

export function createSlackCustomerOutlet(opts: { deadlineMs: number }): Outlet {
  return {
    name: 'slack-customer-channels',
    onPublished(tx, update, ctx) {
      const subs = subscribersFor(tx, update.incidentId, 'slack');
      if (!subs.length) return;
      const inc = getIncident(tx, update.incidentId);
      const msg = customerMessage(
        {
          incident: incRef(inc.id),
          title: inc.title,
          status: update.status,
          body: update.body,
          at: update.displayAt,
          url: `${ctx.policy.publicUrl}/incidents/${incRef(inc.id)}`,
        },
        ctx.policy.timezone,
      );
      for (const s of subs) {
        enqueue(tx, ctx.now(), {
          incidentId: update.incidentId,
          target: s.target,
          kind: 'slack.customer_update',
          payload: { ...msg, updateId: `D-${update.updateId}` },
          customerFacing: true,
          approvedAt: update.approvedAt,
          deadlineAt: update.approvedAt + opts.deadlineMs,
        });
      }
    },
  };
}

const payloadSchema = z.object({ text: z.string(), blocks: z.array(z.record(z.string(), z.unknown())) });

export function createSlackCustomerTarget(client: webApi.WebClient): Target {
  return {
    folds: true,
    handles: isCustomerChannelTarget,
    async deliver(msg, signal) {
      const parsed = payloadSchema.safeParse(msg.payload);
      if (!parsed.success) return { kind: 'failed', error: 'bad customer update payload' };
      const notices = [msg.delayNotice, msg.foldNotice].filter((n): n is string => Boolean(n)).map((n) => escapeMrkdwn(n));
      const blocks = notices.length ? [...parsed.data.blocks, { type: 'context', elements: [{ type: 'mrkdwn', text: `_${notices.join(' ')}_` }] }] : parsed.data.blocks;
      const attempt = client.chat
        .postMessage({
          channel: msg.target.slice('slack:'.length),
          text: notices.length ? `${notices.join(' ')} ${parsed.data.text}` : parsed.data.text,
          blocks: blocks as never,
          unfurl_links: false,
          unfurl_media: false,
        })
        .then(
          (res): DeliveryResult => ({ kind: 'delivered', ...(res.ts ? { remoteRef: res.ts } : {}) }),
          (err: unknown) => toDeliveryResult(err),
        );
      return raceAbort(attempt, signal);
    },
  };
}
