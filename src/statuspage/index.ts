import type { Db } from '../../db/client.js';
import type { Outlet } from '../commands/context.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { App } from '../main.js';
import type { Target } from '../mirror/target.js';
import { addStatusPageRoutes } from './http.js';
import { StatusPageSnapshot } from './snapshot.js';

export { StatusPageSnapshot } from './snapshot.js';

/** What an external status-page mirror (adapters/statuspage-io) needs from the app. */
export interface MirrorDeps {
  db: Db;
  log: Logger;
  now: () => number;
  config: Config['statuspage'];
}

export interface StatusPagesOptions {
  /** Builds the Atlassian Statuspage outlet and target; passed in so src/ never imports adapters/. */
  statuspageIo?: (deps: MirrorDeps) => { outlet: Outlet; target: Target };
}

/**
 * The built-in status page (HTML, v2 API, Atom) and, when STATUSPAGE_API_KEY and
 * STATUSPAGE_PAGE_ID are set, the Atlassian Statuspage mirror.
 */
export function registerStatusPages(app: App, opts: StatusPagesOptions = {}): StatusPageSnapshot {
  const snapshot = new StatusPageSnapshot(
    app.db,
    { zone: app.config.timezone, orgName: app.config.orgName, publicUrl: app.config.publicUrl },
    app.now,
  );
  // In-process writes notify at once; the CLI's writes are noticed by the watcher's data_version poll.
  app.changes.onChange(() => snapshot.invalidate());
  // Belt and braces for surfaces that run commands without going through app.run.
  app.outlets.push({
    name: 'status-page',
    onPublished: () => snapshot.invalidate(),
    onIncidentChanged: () => snapshot.invalidate(),
  });
  app.routes.push((router) => addStatusPageRoutes(router, snapshot));
  app.collectors.push(() => [
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
  ]);
  if (app.config.statuspage.enabled && opts.statuspageIo) {
    const { outlet, target } = opts.statuspageIo({ db: app.db, log: app.log, now: app.now, config: app.config.statuspage });
    app.outlets.push(outlet);
    app.targets.push(target);
  }
  return snapshot;
}
