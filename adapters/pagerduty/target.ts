import type { DeliveryResult, OutboxMessage, Target } from '../../src/mirror/target.js';
import { parseRetryAfter } from '../../src/mirror/policy.js';
import { PAGERDUTY_TARGET, pagerDutyMessage } from './messages.js';

export interface PagerDutyTargetDeps {
  eventsUrl: string;
  routingKey: string;
  /** Named as the alert's source. */
  source: string;
}

/**
 * Sends Events API v2 events: trigger and resolve, both with dedup_key INC-n, so a repeat after a
 * lost answer is harmless. 202 is delivered; 429 and 5xx are retried (Retry-After honoured when
 * given); 400 is a permanent refusal. The routing key is added here, from the configuration.
 */
export function createPagerDutyTarget(deps: PagerDutyTargetDeps): Target {
  return {
    handles: (t) => t === PAGERDUTY_TARGET,
    async deliver(msg: OutboxMessage, signal: AbortSignal): Promise<DeliveryResult> {
      const m = pagerDutyMessage.safeParse({ kind: msg.kind, payload: msg.payload });
      if (!m.success) return { kind: 'failed', error: `not a PagerDuty message: ${msg.kind}` };
      const event =
        m.data.kind === 'pagerduty.resolve'
          ? { routing_key: deps.routingKey, event_action: 'resolve', dedup_key: m.data.payload.incident }
          : {
              routing_key: deps.routingKey,
              event_action: 'trigger',
              dedup_key: m.data.payload.incident,
              payload: {
                summary: m.data.payload.summary,
                source: deps.source,
                severity: m.data.payload.severity,
                component: 'sitrep',
                ...(m.data.payload.text ? { custom_details: { note: m.data.payload.text } } : {}),
              },
              ...(m.data.payload.link ? { links: [{ href: m.data.payload.link, text: `${m.data.payload.incident} in Sitrep` }] } : {}),
            };
      let res: Response;
      try {
        res = await fetch(deps.eventsUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event), signal });
      } catch (err) {
        return { kind: 'retry', error: `PagerDuty unreachable: ${err instanceof Error ? err.message : String(err)}` };
      }
      // The answer is small ({status, message, dedup_key}); read it so the connection is reused.
      const text = (await res.text().catch(() => '')).slice(0, 300);
      if (res.status === 202 || res.status === 200) return { kind: 'delivered', remoteRef: m.data.payload.incident };
      if (res.status === 429 || res.status >= 500) {
        const after = parseRetryAfter(res.headers.get('retry-after'));
        return { kind: 'retry', error: `PagerDuty answered ${res.status}`, ...(after === undefined ? {} : { retryAfterMs: after }) };
      }
      return { kind: 'failed', error: `PagerDuty refused the event (${res.status}): ${text.replace(/\s+/g, ' ')}` };
    },
  };
}
