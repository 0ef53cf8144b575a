import type { Db } from '../../db/client.js';
import type { Store } from '../../db/store.js';
import type { Capability } from '../../src/capability.js';
import type { Config } from '../../src/config.js';
import type { Logger } from '../../src/logger.js';
import { createStatuspageOutlet } from './outlet.js';
import { createStatuspageTarget } from './target.js';

export { createStatuspageOutlet } from './outlet.js';
export { createStatuspageTarget } from './target.js';
export { STATUSPAGE_TARGET } from './payload.js';

export interface StatuspageIoDeps {
  db: Db;
  /** Given on PostgreSQL: the target reads through it (see createStatuspageTarget). */
  store?: Pick<Store, 'read'>;
  log: Logger;
  now: () => number;
  config: Config['statuspage'];
}

/** The Atlassian Statuspage mirror (when configured): an outlet that enqueues and a target that sends. */
export function createStatuspageIo(deps: StatuspageIoDeps): Capability {
  if (!deps.config.enabled) return { outlets: [], targets: [], routes: [], services: [] };
  return {
    outlets: [createStatuspageOutlet()],
    targets: [
      createStatuspageTarget({
        db: deps.db,
        ...(deps.store ? { store: deps.store } : {}),
        log: deps.log,
        now: deps.now,
        apiUrl: deps.config.apiUrl,
        apiKey: deps.config.apiKey ?? '',
        pageId: deps.config.pageId ?? '',
        requestIntervalMs: Math.ceil(1000 / deps.config.requestsPerSecond),
      }),
    ],
    routes: [],
    services: [],
  };
}
