import type { Capability } from '../../src/capability.js';
import type { Config } from '../../src/config.js';
import { createPagerDutyOutlet } from './outlet.js';
import { createPagerDutyTarget } from './target.js';

export { PAGERDUTY_TARGET } from './messages.js';

/** PagerDuty paging (when PAGERDUTY_ROUTING_KEY is set): an outlet that enqueues, a target that sends. */
export function createPagerDuty(deps: { config: Config['pagerDuty']; orgName: string }): Capability {
  if (!deps.config.routingKey) return { outlets: [], targets: [], routes: [], services: [] };
  return {
    outlets: [createPagerDutyOutlet()],
    targets: [createPagerDutyTarget({ eventsUrl: deps.config.eventsUrl, routingKey: deps.config.routingKey, source: `Sitrep (${deps.orgName})` })],
    routes: [],
    services: [],
  };
}
