import { z } from 'zod';
import type { Store } from '../../db/store.js';
import type { Runner } from '../../src/commands/runner.js';
import type { Logger } from '../../src/logger.js';
import { raceAbort, type DeliveryResult, type OutboxMessage, type Target } from '../../src/mirror/target.js';
import { recordSlackPin } from './capture.js';
import { slackHistoryMessage } from './messages.js';
import { SLACK_UPSTREAM_SHARE, toDeliveryResult } from './target.js';
import type { SlackWebApi } from './web-api.js';

// The reads a 📌 needs, through the outbox. A reaction event names only the message (channel, ts),
// so its text, author and thread are read with conversations.replies — which Slack limits to one
// call a minute for apps created after May 2025 outside the Marketplace. Read inline, a second 📌
// within that minute was dropped; as an outbox row it is retried after the 429's Retry-After,
// as long as it takes, and never lost. After the read the pin is recorded through the runner, in a
// transaction of its own, as an inbound event would be: this target enqueues nothing itself, and
// the pin's thread reply (for other platforms) comes from the outlets like any verb's.

export const SLACK_HISTORY_TARGET = 'slack:history';

export interface SlackHistoryDeps {
  client: SlackWebApi;
  runner: Runner;
  store: Store;
  log: Logger;
}

const repliesSchema = z.object({
  messages: z
    .array(
      z.object({ ts: z.string(), thread_ts: z.string().optional(), user: z.string().optional(), bot_id: z.string().optional(), text: z.string().default('') }),
    )
    .default([]),
});

export function createSlackHistoryTarget(deps: SlackHistoryDeps): Target {
  const { client, runner, store, log } = deps;

  async function deliverOnce(msg: OutboxMessage): Promise<DeliveryResult> {
    const m = slackHistoryMessage.parse({ kind: msg.kind, payload: msg.payload });
    switch (m.kind) {
      case 'pin_read': {
        const { channel, ts, user } = m.payload;
        // A 429 (with its Retry-After) or a 5xx comes back as `retry`; a message that is gone or a
        // channel the bot cannot read is `failed`, kept as a dead letter that `deliveries` lists.
        const res = repliesSchema.parse(await client.conversations.replies({ channel, ts, inclusive: true, limit: 1 }));
        const found = res.messages.find((x) => x.ts === ts);
        if (!found) return { kind: 'failed', error: `message ${ts} in ${channel} was not found (deleted?)` };
        const outcome = await store.transaction((tx) =>
          recordSlackPin(runner, tx, { channel, ts, threadTs: found.thread_ts, user: found.user, botId: found.bot_id, text: found.text }, `slack:${user}`),
        );
        runner.notify();
        if (outcome.kind === 'refused') {
          log.warn({ platform: 'slack', incidentId: outcome.incidentId, error: outcome.message }, 'a pinned message could not be put on the timeline');
          return { kind: 'failed', error: outcome.message };
        }
        // Nothing to send anywhere: the row is done once the pin is recorded (or needs none).
        return { kind: 'delivered' };
      }
    }
  }

  return {
    handles: (target) => target === SLACK_HISTORY_TARGET,
    // The same upstream as every other Slack call: one breaker, one share of the worker's slots.
    breakerKey: () => 'slack',
    upstreamShare: SLACK_UPSTREAM_SHARE,
    async deliver(msg, signal) {
      const attempt = deliverOnce(msg).catch((err: unknown): DeliveryResult => {
        if (err instanceof z.ZodError) return { kind: 'failed', error: `bad ${msg.kind} payload: ${err.issues[0]?.message ?? 'invalid'}` };
        return toDeliveryResult(err);
      });
      return raceAbort(attempt, signal);
    },
  };
}
