import type { MirrorDeps } from '../../src/statuspage/index.js';
import type { Outlet } from '../../src/commands/context.js';
import type { Target } from '../../src/mirror/target.js';
import { createStatuspageOutlet } from './outlet.js';
import { createStatuspageTarget } from './target.js';

export { createStatuspageOutlet } from './outlet.js';
export { createStatuspageTarget } from './target.js';
export { STATUSPAGE_TARGET } from './payload.js';

/** The Atlassian Statuspage mirror: an outlet that enqueues and a target that sends. */
export function createStatuspageIo(deps: MirrorDeps): { outlet: Outlet; target: Target } {
  return {
    outlet: createStatuspageOutlet(),
    target: createStatuspageTarget({
      db: deps.db,
      log: deps.log,
      now: deps.now,
      apiUrl: deps.config.apiUrl,
      apiKey: deps.config.apiKey ?? '',
      pageId: deps.config.pageId ?? '',
      requestIntervalMs: Math.ceil(1000 / deps.config.requestsPerSecond),
    }),
  };
}
