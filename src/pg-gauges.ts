import { countIncidentsBySeverityAsync } from '../db/queries/incidents.js';
import { liveDeliveryCounts } from '../db/queries/outbox.js';
import type { Store } from '../db/store.js';
import type { Capability } from './capability.js';
import { Refreshed } from './refreshed.js';

// /metrics' database gauges on PostgreSQL. A collector is synchronous and PostgreSQL answers with
// a promise, so the counts are loaded in the background (at start, then after each change
// notification, at most every two seconds: src/refreshed.ts) and the collectors read the last
// counts loaded. A change made by any replica or the CLI reaches them through the change watcher.

export type IncidentCounts = Array<{ severity: number; declared: number; open: number }>;
export type LiveDeliveries = Array<{ kind: string; state: string; n: number }>;

export interface PgGauges {
  incidents(): IncidentCounts;
  deliveries(): LiveDeliveries;
  /** Refreshes on every change; started and stopped with the server. */
  capability: Capability;
}

export function createPgGauges(store: Pick<Store, 'read'>, minIntervalMs = 2_000): PgGauges {
  const incidents = new Refreshed<IncidentCounts>(() => store.read((db) => countIncidentsBySeverityAsync(db)), [], minIntervalMs);
  const deliveries = new Refreshed<LiveDeliveries>(() => store.read((db) => liveDeliveryCounts(db)), [], minIntervalMs);
  const refresh = () => {
    incidents.refresh();
    deliveries.refresh();
  };
  return {
    incidents: () => incidents.value,
    deliveries: () => deliveries.value,
    capability: {
      outlets: [],
      targets: [],
      routes: [],
      services: [
        {
          start: refresh,
          stop: async () => {
            incidents.stop();
            deliveries.stop();
          },
        },
      ],
      onChange: refresh,
    },
  };
}
