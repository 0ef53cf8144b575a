import { getIncident, incRef } from '../../db/queries/incidents.js';
import { hasEventOfKind } from '../../db/queries/timeline.js';
import type { Outlet } from '../../src/commands/context.js';
import { enqueue } from '../../src/mirror/enqueue.js';
import { PAGERDUTY_TARGET, PD_SEVERITIES, type PagerDutyMessage } from './messages.js';

/** The alert's summary: the title, except for a private incident, whose title never leaves Sitrep. */
export function pageSummary(inc: { id: number; title: string; severity: number; visibility: string }): string {
  const head = inc.visibility === 'private' ? `Private incident ${incRef(inc.id)}` : `${incRef(inc.id)}: ${inc.title}`;
  // Events API v2 caps summary at 1,024 characters.
  return `[sev${inc.severity}] ${head}`.slice(0, 1024);
}

/**
 * A `paged` event (the automatic page at declare, or `page`) triggers the incident's alert; its
 * resolution resolves the alert if it was ever paged. One lane per incident keeps trigger before
 * resolve; the dedup key INC-n makes a repeat update the same alert instead of opening another.
 */
export function createPagerDutyOutlet(): Outlet {
  const put = (tx: Parameters<typeof enqueue>[0], now: number, incidentId: number, m: PagerDutyMessage) =>
    enqueue(tx, now, { incidentId, target: PAGERDUTY_TARGET, kind: m.kind, payload: m.payload });
  return {
    name: 'pagerduty',
    async onEvent(tx, e, ctx) {
      if (e.kind === 'paged') {
        const inc = await getIncident(tx, e.incidentId);
        const severity = PD_SEVERITIES[Math.min(Math.max(inc.severity, 1), 4) - 1]!;
        const isPrivate = inc.visibility === 'private';
        await put(tx, ctx.now(), inc.id, {
          kind: 'pagerduty.trigger',
          payload: {
            incident: incRef(inc.id),
            summary: pageSummary(inc),
            severity,
            text: isPrivate ? null : e.payload.text,
            link: isPrivate ? null : `${ctx.policy.publicUrl}/incidents/${incRef(inc.id)}`,
          },
        });
        return;
      }
      if (e.kind === 'resolved' && (await hasEventOfKind(tx, e.incidentId, 'paged'))) {
        await put(tx, ctx.now(), e.incidentId, { kind: 'pagerduty.resolve', payload: { incident: incRef(e.incidentId) } });
      }
    },
  };
}
