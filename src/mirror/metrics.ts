import { sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import type { Collector, Sample } from '../http/metrics.js';
import type { CircuitBreakers } from './policy.js';

/** /metrics: outbox rows by target and outcome, and which upstreams' breakers are open. */
export function createOutboxCollector(db: Db, breakers: () => CircuitBreakers): Collector {
  return () => {
    const rows = db.all<{ target: string; state: string; n: number }>(sql`select target, state, count(*) as n from outbox group by target, state order by target`);
    const by = (states: string[]) => {
      const m = new Map<string, number>();
      for (const r of rows) if (states.includes(r.state)) m.set(r.target, (m.get(r.target) ?? 0) + r.n);
      for (const r of rows) if (!m.has(r.target)) m.set(r.target, 0);
      return [...m.entries()].map(([target, value]) => ({ labels: { target }, value }));
    };
    const samples: Sample[] = [
      { name: 'sitrep_deliveries_pending', help: 'Outbox messages waiting or being sent, by target', type: 'gauge', values: by(['pending', 'in_flight']) },
      { name: 'sitrep_deliveries_delivered', help: 'Outbox messages delivered, by target', type: 'gauge', values: by(['delivered']) },
      { name: 'sitrep_deliveries_failed', help: 'Outbox messages dead-lettered (deadline passed or refused), by target', type: 'gauge', values: by(['dead']) },
      { name: 'sitrep_deliveries_folded', help: 'Customer messages superseded by a newer one sent in their place, by target', type: 'gauge', values: by(['folded']) },
      {
        name: 'sitrep_delivery_breaker_open',
        help: 'Upstreams whose circuit breaker is open (probed, not hammered)',
        type: 'gauge',
        values: breakers().openKeys().map((key) => ({ labels: { upstream: key }, value: 1 })),
      },
    ];
    return samples;
  };
}
