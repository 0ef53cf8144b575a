import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { subscriptions } from '../../db/schema.js';
import { checkHost, refuseAddress, type AddressPolicy } from '../../src/mirror/address.js';
import { signWebhook } from '../../src/mirror/signing.js';
import { scheduledRetryDelay } from '../../src/mirror/policy.js';
import type { DeliveryResult, OutboxMessage, Target } from '../../src/mirror/target.js';

// Signed outgoing webhooks. One attempt per call: the worker owns retries, order and the 30 s
// budget (it aborts `signal`), on the Standard Webhooks schedule given here. 2xx is success. 410
// Gone is a permanent failure that disables the subscription (the receiver says the endpoint is
// gone for good; the delivery is dead-lettered and reported, `deliveries retry` re-sends it).
// Every other status, a timeout or a dropped connection is retried.

/** Every address a host name resolves to (the system resolver unless one is passed in). */
export type Resolver = (hostname: string, family: number | undefined) => Promise<LookupAddress[]>;

export interface WebhookTargetDeps extends AddressPolicy {
  db: Db;
  now: () => number;
  userAgent?: string;
  resolve?: Resolver;
}

const systemResolver: Resolver = (hostname, family) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, ...(family ? { family } : {}) }, (err, addresses) => (err ? reject(err) : resolve(addresses)));
  });

const subscriptionIdOf = (target: string): number | null => {
  const m = /^webhook:S-(\d+)$/.exec(target);
  return m ? Number(m[1]) : null;
};

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The connection's own lookup: the socket connects only to an address returned here, so checking
 * here judges the address actually connected to, on every connection (a name whose DNS changed
 * since it was subscribed, or that resolves to several addresses, is judged afresh). One refused
 * address refuses the name: a connection may try any of them.
 */
function guardedLookup(policy: AddressPolicy, resolver: Resolver): LookupFunction {
  return (hostname, options, callback) => {
    const family = typeof options.family === 'number' && options.family !== 0 ? options.family : undefined;
    resolver(hostname, family).then(
      (list) => {
        for (const a of list) {
          const why = refuseAddress(a.address, hostname, policy);
          if (why) return callback(Object.assign(new Error(why), { code: 'EADDRREFUSED' }), '', 0);
        }
        if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
        const first = list[0];
        if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
        callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}

export function createWebhookTarget(deps: WebhookTargetDeps): Target {
  const lookup = guardedLookup(deps, deps.resolve ?? systemResolver);
  const subscriptionFor = (target: string) => {
    const id = subscriptionIdOf(target);
    return id === null ? undefined : deps.db.select().from(subscriptions).where(eq(subscriptions.id, id)).get();
  };
  return {
    folds: true,
    handles: (target) => subscriptionIdOf(target) !== null,
    nextRetryDelayMs: (attempts, retryAfterMs, random) => scheduledRetryDelay(attempts, retryAfterMs, random),
    breakerKey(target) {
      const sub = subscriptionFor(target);
      try {
        return sub ? `webhook:${new URL(sub.target.slice('webhook:'.length)).host}` : target;
      } catch {
        return target;
      }
    },
    async deliver(msg: OutboxMessage, signal: AbortSignal): Promise<DeliveryResult> {
      const sub = subscriptionFor(msg.target);
      if (!sub || sub.kind !== 'webhook' || !sub.secret) {
        return { kind: 'failed', error: `${msg.target.slice('webhook:'.length)} no longer exists (unsubscribed)` };
      }
      let url: URL;
      try {
        url = new URL(sub.target.slice('webhook:'.length));
      } catch {
        return { kind: 'failed', error: 'the subscription URL is not valid' };
      }
      // A literal address is connected to without a lookup, so it is judged here; a name is judged
      // by the connection's lookup, once resolved.
      const why = checkHost(url.hostname, deps);
      if (why) return { kind: 'failed', error: why };

      const stored = msg.payload.body;
      const base = stored && typeof stored === 'object' ? (stored as Record<string, unknown>) : {};
      const now = deps.now();
      const meta = base.meta && typeof base.meta === 'object' ? (base.meta as Record<string, unknown>) : {};
      const body = JSON.stringify({
        ...base,
        meta: { ...meta, generated_at: new Date(now).toISOString() },
        // Not in Statuspage's format: what a late or folded delivery must say about itself.
        sitrep: {
          delivery_id: msg.deliveryId,
          incident_id: msg.incidentId === null ? null : `INC-${msg.incidentId}`,
          update_id: typeof msg.payload.updateId === 'string' ? msg.payload.updateId : null,
          folded: msg.folded,
          fold_notice: msg.foldNotice ?? null,
          delayed: Boolean(msg.delayNotice),
          delay_notice: msg.delayNotice ?? null,
          approved_at: msg.approvedAt === null ? null : new Date(msg.approvedAt).toISOString(),
        },
      });
      const timestamp = Math.floor(now / 1000);
      const headers = {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'user-agent': deps.userAgent ?? 'Sitrep-Webhooks/1',
        'webhook-id': msg.deliveryId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(sub.secret, msg.deliveryId, timestamp, body),
      };
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      return new Promise<DeliveryResult>((resolve) => {
        let done = false;
        const finish = (r: DeliveryResult) => {
          if (!done) {
            done = true;
            resolve(r);
          }
        };
        const req = send(url, { method: 'POST', headers, lookup, signal, agent: false }, (res: IncomingMessage) => {
          const status = res.statusCode ?? 0;
          res.resume();
          res.on('error', () => undefined);
          if (status >= 200 && status < 300) return finish({ kind: 'delivered', remoteRef: `HTTP ${status}` });
          if (status === 410) {
            return finish({ kind: 'failed', error: 'HTTP 410 Gone: the receiver says this endpoint no longer exists', gone: true });
          }
          const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(res.headers['retry-after'], deps.now()) : undefined;
          const error = status >= 300 && status < 400 ? `HTTP ${status} (redirects are not followed)` : `HTTP ${status}`;
          finish(retryAfterMs === undefined ? { kind: 'retry', error } : { kind: 'retry', error, retryAfterMs });
        });
        req.on('error', (err: NodeJS.ErrnoException) => {
          if (err.code === 'EADDRREFUSED') return finish({ kind: 'failed', error: err.message });
          if (signal.aborted) return finish({ kind: 'retry', error: 'aborted' });
          const code = err.code ? ` (${err.code})` : '';
          const what = err.code === 'ECONNRESET' || /socket hang up/.test(err.message) ? 'connection closed before an answer' : err.message;
          finish({ kind: 'retry', error: `${what}${code}` });
        });
        req.end(body);
      });
    },
  };
}
