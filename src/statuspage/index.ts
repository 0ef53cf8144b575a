import type { Db } from '../../db/client.js';
import type { Store } from '../../db/store.js';
import type { Capability } from '../capability.js';
import { addStatusPageRoutes } from './http.js';
import { StatusPageSnapshot } from './snapshot.js';

export { StatusPageSnapshot } from './snapshot.js';

export interface StatusPageDeps {
  /** SQLite: the read-only connection, read synchronously. */
  db: Db;
  /** PostgreSQL: the store, read asynchronously (db is then unused). */
  store?: Pick<Store, 'read'>;
  now: () => number;
  config: { zone: string; orgName: string; publicUrl: string };
}

/** The built-in status page: HTML (incident and maintenance pages), the Statuspage-compatible v2 API and the Atom and RSS feeds. */
export function createStatusPage(deps: StatusPageDeps): Capability & { snapshot: StatusPageSnapshot } {
  const snapshot = new StatusPageSnapshot(deps.store ? { store: deps.store } : { sync: deps.db }, deps.config, deps.now);
  return {
    snapshot,
    // Belt and braces for writes that reach no change listener: the snapshot is rebuilt on the
    // next read after anything public changed.
    outlets: [
      {
        name: 'status-page',
        onPublished: async () => snapshot.invalidate(),
        onIncidentChanged: async () => snapshot.invalidate(),
        onMaintenancePublished: async () => snapshot.invalidate(),
      },
    ],
    targets: [],
    routes: [(router) => addStatusPageRoutes(router, snapshot)],
    services: [],
    // In-process writes notify at once; the CLI's writes are noticed by the watcher's data_version poll.
    onChange: () => snapshot.invalidate(),
    collectors: [
      () => [
        {
          name: 'sitrep_statuspage_snapshot_rebuilds_total',
          help: 'Times the public status page state was loaded from the database',
          type: 'counter',
          values: [{ value: snapshot.rebuilds }],
        },
        {
          name: 'sitrep_statuspage_snapshot_rebuild_seconds_total',
          help: 'Time spent loading the public status page state',
          type: 'counter',
          values: [{ value: snapshot.rebuildMsTotal / 1000 }],
        },
        {
          name: 'sitrep_statuspage_snapshot_rebuild_seconds_max',
          help: 'Longest single load of the public status page state since start',
          type: 'gauge',
          values: [{ value: snapshot.rebuildMsMax / 1000 }],
        },
      ],
    ],
  };
}
