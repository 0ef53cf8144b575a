import type { Db } from '../../db/client.js';
import { openDeliveryCounts } from '../../db/queries/outbox.js';
import type { Collector, Sample } from '../http/metrics.js';
import type { CircuitBreakers } from './policy.js';

// /metrics for deliveries. Two rules shape it:
// - Label values are target kinds only (slack, teams, webhook, statuspage). An outbox target or a
//   breaker key names a channel, a conversation or a host, which a public scrape must not hand out.
// - A scrape's cost does not grow with outbox history. Pending and dead rows are counted through
//   the (state, …) index, so only those rows are read. Delivered and folded rows, which pile up
//   as history, are never counted: this connection's own transitions are counted as they happen,
//   by a temporary trigger that adds to a temporary table in the same transaction as the change
//   (db/queries/outbox.ts).
//   The worker delivers on this connection, so these are this process's counters (they start at
//   zero with it, as Prometheus counters do; several servers each report their own).

export const KINDS = ['slack', 'teams', 'webhook', 'statuspage', 'pagerduty'] as const;
export type Kind = (typeof KINDS)[number] | 'other';

/**
 * The kind of an outbox target (`teams:19:…` → teams, a maintenance's lane `statuspage|M-3` →
 * statuspage) or breaker key (`webhook:hooks.example.com` → webhook).
 */
export function kindOf(targetOrKey: string): Kind {
  const prefix = targetOrKey.split(/[:|]/)[0] ?? '';
  return (KINDS as readonly string[]).includes(prefix) ? (prefix as Kind) : 'other';
}

/** /metrics: deliveries by kind and outcome, and how many upstreams of each kind have an open breaker. */
export function createOutboxCollector(
  db: Db,
  breakers: () => CircuitBreakers,
  /** PostgreSQL: the rows waiting, being sent or dead, as last loaded in the background (src/pg-gauges.ts). */
  liveCounts?: () => Array<{ kind: string; state: string; n: number }>,
): Collector {
  const scrape = openDeliveryCounts(db);

  return () => {
    const zero = () => new Map<Kind, number>(KINDS.map((k) => [k, 0]));
    const pending = zero();
    const dead = zero();
    const delivered = zero();
    const folded = zero();
    const add = (m: Map<Kind, number>, kind: string, n: number) => {
      const k = kindOf(kind);
      m.set(k, (m.get(k) ?? 0) + n);
    };
    const scraped = scrape();
    const live = liveCounts ? liveCounts() : scraped.live;
    const counted = scraped.counted;
    for (const r of live) add(r.state === 'dead' ? dead : pending, r.kind, r.n);
    for (const r of counted) add(r.outcome === 'delivered' ? delivered : folded, r.kind, r.n);
    const open = zero();
    for (const key of breakers().openKeys()) add(open, key, 1);

    const values = (m: Map<Kind, number>) => [...m.entries()].map(([kind, value]) => ({ labels: { kind }, value }));
    const samples: Sample[] = [
      { name: 'sitrep_deliveries_pending', help: 'Outbox messages waiting or being sent, by target kind', type: 'gauge', values: values(pending) },
      {
        name: 'sitrep_deliveries_failed',
        help: 'Outbox messages dead-lettered (deadline passed or refused) and not retried, by target kind',
        type: 'gauge',
        values: values(dead),
      },
      { name: 'sitrep_deliveries_delivered_total', help: 'Outbox messages this process delivered, by target kind', type: 'counter', values: values(delivered) },
      {
        name: 'sitrep_deliveries_folded_total',
        help: 'Customer messages this process folded into a newer one sent in their place, by target kind',
        type: 'counter',
        values: values(folded),
      },
      {
        name: 'sitrep_upstream_breaker_open',
        help: 'Upstreams whose circuit breaker is open, by target kind (0 when every breaker of the kind is closed)',
        type: 'gauge',
        values: values(open),
      },
      {
        name: 'sitrep_delivery_breakers_open',
        help: 'Upstreams whose circuit breaker is open (probed, not hammered), by target kind',
        type: 'gauge',
        values: values(open),
      },
    ];
    return samples;
  };
}
