import { and, desc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { webApi } from '@slack/bolt';
import type { Db } from '../../db/client.js';
import { incidentThreads, outbox } from '../../db/schema.js';
import { getIncident } from '../../src/commands/store.js';
import { loadIncidentView } from '../../src/commands/views.js';
import type { DeliveryResult, OutboxMessage, Target } from '../../src/mirror/target.js';
import { channelLink, rootMessage } from './blocks.js';
import { SLACK_THREAD_PREFIX, slackThreadRows } from './outlet.js';

// Delivers the rows the Slack outlet wrote. Tries once and says what happened; the outbox worker
// owns retries (honouring Retry-After), ordering and deadlines. The WebClient it is given must be
// built with retryConfig {retries: 0} and rejectRateLimitedCalls: true, or a 429 would stall the
// whole client queue instead of coming back here as a `retry`.

const blocksPayload = z.object({ text: z.string(), blocks: z.array(z.record(z.string(), z.unknown())) });
const threadReplyPayload = blocksPayload.extend({ broadcast: z.boolean().default(false) });
const createChannelPayload = z.object({ name: z.string().min(1), users: z.array(z.string()).default([]) });
const ephemeralPayload = z.object({ channel: z.string(), user: z.string(), text: z.string(), thread_ts: z.string().optional() });

export interface SlackTargetDeps {
  db: Db;
  client: webApi.WebClient;
  timezone: string;
  now: () => number;
}

/** Slack errors that are about Slack, not about the message: worth trying again. */
const TRANSIENT = new Set(['ratelimited', 'rate_limited', 'internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'team_added_to_org']);

/** Maps a WebClient error to a delivery result. Exported for tests. */
export function toDeliveryResult(err: unknown): DeliveryResult {
  const e = err as { code?: string; retryAfter?: number; statusCode?: number; headers?: Record<string, unknown>; data?: { error?: string }; message?: string };
  switch (e?.code) {
    case 'slack_webapi_rate_limited_error':
      return { kind: 'retry', error: 'rate limited (429)', retryAfterMs: Math.max(0, (e.retryAfter ?? 1) * 1000) };
    case 'slack_webapi_http_error': {
      const status = e.statusCode ?? 0;
      const ra = Number(e.headers?.['retry-after']);
      if (status === 429 || status === 408 || status >= 500) {
        return { kind: 'retry', error: `HTTP ${status}`, ...(Number.isFinite(ra) && ra >= 0 ? { retryAfterMs: ra * 1000 } : {}) };
      }
      return { kind: 'failed', error: `HTTP ${status}` };
    }
    case 'slack_webapi_platform_error': {
      const code = e.data?.error ?? 'unknown_error';
      return TRANSIENT.has(code) ? { kind: 'retry', error: code } : { kind: 'failed', error: code };
    }
    case 'slack_webapi_request_error':
    case 'slack_webapi_timeout_error':
      return { kind: 'retry', error: e.message ?? 'request failed' };
    default:
      return { kind: 'retry', error: e?.message ?? String(err) };
  }
}

import { raceAbort } from '../../src/mirror/target.js';
export { raceAbort };

export function createSlackTarget(deps: SlackTargetDeps): Target {
  const { db, client } = deps;

  /** Where the incident's thread lives: its dedicated channel once created, else the incidents channel. */
  function thread(incidentId: number) {
    const rows = slackThreadRows(db, incidentId);
    return rows.find((r) => r.dedicated) ?? rows.find((r) => !r.dedicated);
  }

  /** No root ts yet: worth waiting for only while its post (or channel) is still on its way. */
  function noRoot(incidentId: number): DeliveryResult {
    const waiting = db
      .select({ id: outbox.id })
      .from(outbox)
      .where(and(eq(outbox.incidentId, incidentId), sql`${outbox.kind} in ('root_post', 'create_channel')`, sql`${outbox.state} in ('pending', 'in_flight')`))
      .get();
    return waiting
      ? { kind: 'retry', error: 'the root message is not posted yet' }
      : { kind: 'failed', error: 'the incident has no root message in Slack (its post failed; `deliveries` lists it)' };
  }

  function setRoot(incidentId: number, channel: string, ts: string): void {
    db.update(incidentThreads)
      .set({ rootRef: ts })
      .where(and(eq(incidentThreads.incidentId, incidentId), eq(incidentThreads.platform, 'slack'), eq(incidentThreads.channel, channel)))
      .run();
  }

  async function createChannel(incidentId: number, p: z.infer<typeof createChannelPayload>): Promise<DeliveryResult> {
    let row = slackThreadRows(db, incidentId).find((r) => r.dedicated);
    // A retry after the channel was created (say, the invite failed) must not create a second one.
    if (!row) {
      let channelId: string | undefined;
      for (let attempt = 1; attempt <= 10 && !channelId; attempt++) {
        const name = attempt === 1 ? p.name : `${p.name.slice(0, 76)}-${attempt}`;
        try {
          const res = await client.conversations.create({ name, is_private: false });
          channelId = res.channel?.id;
        } catch (err) {
          if ((err as { data?: { error?: string } }).data?.error === 'name_taken') continue;
          throw err;
        }
      }
      if (!channelId) return { kind: 'failed', error: `name_taken: ${p.name} and 9 variants are taken` };
      db.insert(incidentThreads).values({ incidentId, platform: 'slack', channel: channelId, rootRef: null, dedicated: true, createdAt: deps.now() }).run();
      row = slackThreadRows(db, incidentId).find((r) => r.dedicated)!;
    }
    if (p.users.length) {
      try {
        await client.conversations.invite({ channel: row.channel, users: p.users.join(',') });
      } catch (err) {
        const code = (err as { data?: { error?: string } }).data?.error;
        // Already there, or the declarer is the bot itself: the channel is usable either way.
        if (!['already_in_channel', 'cant_invite_self', 'user_not_found'].includes(code ?? '')) throw err;
      }
    }
    return { kind: 'delivered', remoteRef: row.channel };
  }

  async function deliverOnce(msg: OutboxMessage): Promise<DeliveryResult> {
    const incidentId = msg.incidentId;
    if (incidentId === null && msg.kind !== 'ephemeral') return { kind: 'failed', error: `${msg.kind} without an incident` };
    switch (msg.kind) {
      case 'create_channel':
        return createChannel(incidentId!, createChannelPayload.parse(msg.payload));
      case 'root_post': {
        const dedicated = z.object({ dedicated: z.boolean().default(false) }).parse(msg.payload).dedicated;
        const row = dedicated ? slackThreadRows(db, incidentId!).find((r) => r.dedicated) : slackThreadRows(db, incidentId!).find((r) => !r.dedicated);
        if (!row) return { kind: 'retry', error: 'the incident channel is not created yet' };
        if (row.rootRef) return { kind: 'delivered', remoteRef: row.rootRef };
        const view = loadIncidentView(db, getIncident(db, incidentId!));
        const m = rootMessage(view, deps.timezone, deps.now());
        const res = await client.chat.postMessage({ channel: row.channel, text: m.text, blocks: m.blocks as never, unfurl_links: false });
        if (!res.ts) return { kind: 'retry', error: 'chat.postMessage returned no ts' };
        setRoot(incidentId!, row.channel, res.ts);
        return { kind: 'delivered', remoteRef: res.ts };
      }
      case 'root_update': {
        const row = thread(incidentId!);
        if (!row) return { kind: 'failed', error: 'the incident has no Slack thread' };
        if (!row.rootRef) return noRoot(incidentId!);
        const view = loadIncidentView(db, getIncident(db, incidentId!));
        const m = rootMessage(view, deps.timezone, deps.now());
        await client.chat.update({ channel: row.channel, ts: row.rootRef, text: m.text, blocks: m.blocks as never });
        return { kind: 'delivered', remoteRef: row.rootRef };
      }
      case 'thread_reply': {
        const p = threadReplyPayload.parse(msg.payload);
        const row = thread(incidentId!);
        if (!row) return { kind: 'failed', error: 'the incident has no Slack thread' };
        if (!row.rootRef) return noRoot(incidentId!);
        const res = await client.chat.postMessage({
          channel: row.channel,
          thread_ts: row.rootRef,
          text: p.text,
          blocks: p.blocks as never,
          reply_broadcast: p.broadcast,
          unfurl_links: false,
        });
        return { kind: 'delivered', ...(res.ts ? { remoteRef: res.ts } : {}) };
      }
      case 'link_post': {
        const rows = slackThreadRows(db, incidentId!);
        const home = rows.find((r) => !r.dedicated);
        const own = rows.find((r) => r.dedicated);
        if (!home) return { kind: 'failed', error: 'the incident has no incidents-channel row' };
        if (!own) return { kind: 'retry', error: 'the incident channel is not created yet' };
        if (home.rootRef) return { kind: 'delivered', remoteRef: home.rootRef };
        const inc = getIncident(db, incidentId!);
        const m = channelLink(`INC-${inc.id}`, inc.title, own.channel);
        const res = await client.chat.postMessage({ channel: home.channel, text: m.text, blocks: m.blocks as never });
        // Replies under the link message count as the incident's thread too.
        if (res.ts) setRoot(incidentId!, home.channel, res.ts);
        return { kind: 'delivered', ...(res.ts ? { remoteRef: res.ts } : {}) };
      }
      case 'approval_update': {
        const p = blocksPayload.extend({ draftId: z.number() }).parse(msg.payload);
        const row = thread(incidentId!);
        // The approval request is the delivered thread reply that carried this draft's buttons.
        const request = db
          .select({ ts: outbox.remoteRef })
          .from(outbox)
          .where(
            and(
              eq(outbox.target, msg.target),
              eq(outbox.incidentId, incidentId!),
              eq(outbox.kind, 'thread_reply'),
              eq(outbox.state, 'delivered'),
              sql`json_extract(${outbox.payload}, '$.draftId') = ${p.draftId}`,
            ),
          )
          .orderBy(desc(outbox.id))
          .get();
        if (!row || !request?.ts) return { kind: 'delivered' }; // never posted: nothing to edit
        await client.chat.update({ channel: row.channel, ts: request.ts, text: p.text, blocks: p.blocks as never });
        return { kind: 'delivered', remoteRef: request.ts };
      }
      case 'ephemeral': {
        const p = ephemeralPayload.parse(msg.payload);
        await client.chat.postEphemeral({ channel: p.channel, user: p.user, text: p.text, ...(p.thread_ts ? { thread_ts: p.thread_ts } : {}) });
        return { kind: 'delivered' };
      }
      default:
        return { kind: 'failed', error: `unknown Slack message kind ${msg.kind}` };
    }
  }

  return {
    handles: (target) => target.startsWith(SLACK_THREAD_PREFIX),
    async deliver(msg, signal) {
      const attempt = deliverOnce(msg).catch((err: unknown): DeliveryResult => {
        if (err instanceof z.ZodError) return { kind: 'failed', error: `bad ${msg.kind} payload: ${err.issues[0]?.message ?? 'invalid'}` };
        return toDeliveryResult(err);
      });
      return raceAbort(attempt, signal);
    },
  };
}
