import type { Statement } from 'better-sqlite3';
import type { Db } from '../../db/client.js';
import type { Collector, Sample } from '../http/metrics.js';
import type { CircuitBreakers } from './policy.js';

// /metrics for deliveries. Two rules shape it:
// - Label values are target kinds only (slack, teams, webhook, statuspage). An outbox target or a
//   breaker key names a channel, a conversation or a host, which a public scrape must not hand out.
// - A scrape's cost does not grow with outbox history. Pending and dead rows are counted through
//   the (state, …) index, so only those rows are read. Delivered and folded rows, which pile up
//   as history, are never counted: this connection's own transitions are counted as they happen,
//   by a temporary trigger that adds to a temporary table in the same transaction as the change.
//   The worker delivers on this connection, so these are this process's counters (they start at
//   zero with it, as Prometheus counters do; several servers each report their own).

export const KINDS = ['slack', 'teams', 'webhook', 'statuspage'] as const;
export type Kind = (typeof KINDS)[number] | 'other';

/** The kind of an outbox target (`teams:19:…` → teams) or breaker key (`webhook:hooks.example.com` → webhook). */
export function kindOf(targetOrKey: string): Kind {
  const prefix = targetOrKey.split(':')[0] ?? '';
  return (KINDS as readonly string[]).includes(prefix) ? (prefix as Kind) : 'other';
}

// The same rule in SQL, so rows are grouped by kind without reading their targets out.
const KIND_SQL = (col: string) => `case when instr(${col}, ':') > 0 then substr(${col}, 1, instr(${col}, ':') - 1) else ${col} end`;

const SETUP = [
  `create temp table if not exists delivery_counts (kind text not null, outcome text not null, n integer not null, primary key (kind, outcome))`,
  `create temp trigger if not exists delivery_counts_on_outcome after update of state on main.outbox
     when new.state <> old.state and new.state in ('delivered', 'folded')
     begin
       insert into temp.delivery_counts (kind, outcome, n) values (${KIND_SQL('new.target')}, new.state, 1)
         on conflict (kind, outcome) do update set n = n + 1;
     end`,
];

interface Queries {
  live: Statement<[], { kind: string; state: string; n: number }>;
  counted: Statement<[], { kind: string; outcome: string; n: number }>;
}

/** /metrics: deliveries by kind and outcome, and how many upstreams of each kind have an open breaker. */
export function createOutboxCollector(db: Db, breakers: () => CircuitBreakers): Collector {
  const client = db.$client;
  for (const stmt of SETUP) client.exec(stmt);
  let q: Queries | null = null;
  const queries = (): Queries =>
    (q ??= {
      // One index range per state: only rows waiting, being sent or dead-lettered are read.
      live: client.prepare(`
        select ${KIND_SQL('target')} as kind, state, count(*) as n from outbox
        where state in ('pending', 'in_flight', 'dead')
        group by 1, 2`),
      counted: client.prepare('select kind, outcome, n from temp.delivery_counts'),
    });

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
    for (const r of queries().live.all()) add(r.state === 'dead' ? dead : pending, r.kind, r.n);
    for (const r of queries().counted.all()) add(r.outcome === 'delivered' ? delivered : folded, r.kind, r.n);
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
        name: 'sitrep_delivery_breakers_open',
        help: 'Upstreams whose circuit breaker is open (probed, not hammered), by target kind',
        type: 'gauge',
        values: values(open),
      },
    ];
    return samples;
  };
}
