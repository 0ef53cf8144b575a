import type { ComponentStatus, Impact, Severity } from './enums.js';

// Worse statuses rank higher. under_maintenance sits between operational and degraded: planned
// work is less bad than any unplanned impact, but it still outranks "all good".
const RANK: Readonly<Record<ComponentStatus, number>> = {
  operational: 0,
  under_maintenance: 1,
  degraded_performance: 2,
  partial_outage: 3,
  major_outage: 4,
};

export function componentRank(status: ComponentStatus): number {
  return RANK[status];
}

export function worstStatus(statuses: Iterable<ComponentStatus>): ComponentStatus {
  let worst: ComponentStatus = 'operational';
  for (const s of statuses) if (RANK[s] > RANK[worst]) worst = s;
  return worst;
}

/**
 * A component's current status is the worst that any open incident affecting it has set, or any
 * maintenance in progress on it (maintenanceContributions in maintenance.ts). Resolving one
 * incident, or completing one maintenance, removes only its own contribution.
 */
export function rollUp(contributions: ReadonlyArray<{ componentId: number; status: ComponentStatus }>): Map<number, ComponentStatus> {
  const out = new Map<number, ComponentStatus>();
  for (const c of contributions) {
    const prev = out.get(c.componentId) ?? 'operational';
    out.set(c.componentId, RANK[c.status] > RANK[prev] ? c.status : prev);
  }
  return out;
}

const IMPACT_RANK: Readonly<Record<Impact, number>> = { none: 0, minor: 1, major: 2, critical: 3 };

/** Incident impact from severity, as Statuspage's impact field (sev1 critical … sev4 none). */
export function impactForSeverity(sev: Severity): Impact {
  switch (sev) {
    case 1:
      return 'critical';
    case 2:
      return 'major';
    case 3:
      return 'minor';
    case 4:
      return 'none';
  }
}

/** Statuspage's component → indicator mapping. */
export function impactForComponentStatus(status: ComponentStatus): Impact {
  switch (status) {
    case 'operational':
    case 'under_maintenance':
      return 'none';
    case 'degraded_performance':
      return 'minor';
    case 'partial_outage':
      return 'major';
    case 'major_outage':
      return 'critical';
  }
}

/**
 * The overall indicator the way Statuspage derives it: the worst of the unresolved incidents'
 * impacts and the components' statuses.
 */
export function overallIndicator(componentStatuses: Iterable<ComponentStatus>, openIncidentImpacts: Iterable<Impact>): Impact {
  let worst: Impact = 'none';
  for (const s of componentStatuses) {
    const i = impactForComponentStatus(s);
    if (IMPACT_RANK[i] > IMPACT_RANK[worst]) worst = i;
  }
  for (const i of openIncidentImpacts) if (IMPACT_RANK[i] > IMPACT_RANK[worst]) worst = i;
  return worst;
}

export function indicatorDescription(indicator: Impact): string {
  switch (indicator) {
    case 'none':
      return 'All Systems Operational';
    case 'minor':
      return 'Minor Service Outage';
    case 'major':
      return 'Partial System Outage';
    case 'critical':
      return 'Major System Outage';
  }
}

/** "SMS Routing" → "sms-routing". Returns '' when nothing usable is left. */
export function slugify(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
}
