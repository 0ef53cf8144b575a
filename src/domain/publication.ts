import type { ComponentStatus, IncidentStatus } from './enums.js';
import { canTransition } from './lifecycle.js';

// The publication rule, in one place: which incident status and which component statuses an
// announcement (a draft, a resolve, a published update, a Statuspage PATCH) carries, and what
// publishing it does to the incident. Draft, resolve, publish, status, the Statuspage outlet and
// the status page model all ask here, so "resolved puts components back to operational" cannot
// drift between them.

export interface ComponentStatusChange {
  slug: string;
  status: ComponentStatus;
}

/**
 * What entering `status` does to every component the incident affects: resolved hands them all
 * back as operational; any other status leaves them as they are (null).
 */
export function componentsReleasedTo(status: IncidentStatus): ComponentStatus | null {
  switch (status) {
    case 'resolved':
      return 'operational';
    case 'investigating':
    case 'identified':
    case 'monitoring':
      return null;
  }
}

/** Whether an announcement of `status` may set component statuses of its own (not once resolved). */
export function setsComponents(status: IncidentStatus): boolean {
  return componentsReleasedTo(status) === null;
}

/** The status a component shows under an incident in `incidentStatus` that gives it `status`. */
export function componentStatusUnder(incidentStatus: IncidentStatus, status: ComponentStatus): ComponentStatus {
  return componentsReleasedTo(incidentStatus) ?? status;
}

/**
 * The component statuses an announcement of `status` carries: the ones given, except that a
 * resolved announcement carries each of them as operational.
 */
export function announcedComponents<T extends { status: ComponentStatus }>(status: IncidentStatus, components: readonly T[]): T[] {
  return components.map((c) => ({ ...c, status: componentStatusUnder(status, c.status) }));
}

/**
 * The public components of an incident as the outside world (Statuspage) is told them: every
 * component that has a public status, shown under the announced incident status.
 */
export function publicComponents<T extends { publicStatus: ComponentStatus | null }>(
  status: IncidentStatus,
  components: readonly T[],
): Array<T & { status: ComponentStatus }> {
  return components.flatMap((c) => (c.publicStatus === null ? [] : [{ ...c, status: componentStatusUnder(status, c.publicStatus) }]));
}

export interface PublicationInput {
  incident: {
    status: IncidentStatus;
    /** Slugs of the components the incident already affects. */
    components: readonly string[];
  };
  update: {
    status: IncidentStatus;
    components: readonly ComponentStatusChange[];
    postmortem: boolean;
  };
}

export interface Publication {
  /** The incident's internal status follows the announcement when that is a legal step forward. */
  moveTo: IncidentStatus | null;
  /** Internal component statuses the announcement sets (none once the incident is resolved). */
  internal: ComponentStatusChange[];
  /** Public component statuses to store, in order (a slug may repeat; the last one stands). */
  public: ComponentStatusChange[];
  /** The incident's public status after publication; null leaves it as it is (a postmortem). */
  publicStatus: IncidentStatus | null;
}

/**
 * What publishing one customer-facing update does. A postmortem changes no status. Otherwise the
 * internal state follows what was announced when that is a legal step forward, so the thread and
 * the page never disagree about whether an incident is resolved; a resolved announcement puts
 * every component of the incident back to operational, publicly as well as internally.
 */
export function planPublication(p: PublicationInput): Publication {
  const { incident, update } = p;
  if (update.postmortem) return { moveTo: null, internal: [], public: [], publicStatus: null };
  const moveTo = update.status !== incident.status && canTransition(incident.status, update.status) ? update.status : null;
  const after = moveTo ?? incident.status;
  const internal = setsComponents(update.status) && setsComponents(after) ? update.components.map((c) => ({ ...c })) : [];
  const announced = announcedComponents(update.status, update.components).map((c) => ({ slug: c.slug, status: c.status }));
  const released = componentsReleasedTo(update.status);
  const named = new Set(announced.map((c) => c.slug));
  const others = released === null ? [] : incident.components.filter((s) => !named.has(s)).map((slug) => ({ slug, status: released }));
  return { moveTo, internal, public: [...announced, ...others], publicStatus: update.status };
}
