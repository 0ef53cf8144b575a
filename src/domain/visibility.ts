import { slugify } from './components.js';
import type { Role, Visibility } from './enums.js';
import { SitrepError } from './errors.js';

// Private incidents: the name of the Slack private channel Sitrep creates for one, who may see one
// (need to know), and the refusal of anything that would speak of one to customers.

/** Slack refuses channel names longer than this. */
export const SLACK_CHANNEL_NAME_MAX = 80;

/** Suffixes tried after the plain name (`-2` … `-100`) before giving up. */
export const CHANNEL_NAME_TRIES = 100;

/**
 * The `attempt`-th name to try for the private channel of INC-`incidentId`: `inc-12-db-credentials-leak`,
 * then `inc-12-db-credentials-leak-2`, `-3`, …. Only what Slack allows in a name (lowercase letters,
 * digits, hyphens), at most 80 characters, the incident number always kept whole, never ending in
 * a hyphen. A title with nothing usable in it (emoji, another script) gives `inc-12`.
 */
export function privateChannelCandidate(incidentId: number, title: string, attempt = 1): string {
  const suffix = attempt > 1 ? `-${attempt}` : '';
  const base = `inc-${incidentId}`;
  const slug = slugify(title);
  const room = SLACK_CHANNEL_NAME_MAX - base.length - suffix.length - 1;
  const cut = room > 0 ? slug.slice(0, room).replace(/-+$/, '') : '';
  return `${base}${cut ? `-${cut}` : ''}${suffix}`;
}

/**
 * The first candidate name that `isTaken` does not report taken. Throws CONFLICT with one line when
 * every try is taken.
 */
export function privateChannelName(incidentId: number, title: string, isTaken: (name: string) => boolean): string {
  for (let attempt = 1; attempt <= CHANNEL_NAME_TRIES; attempt++) {
    const name = privateChannelCandidate(incidentId, title, attempt);
    if (!isTaken(name)) return name;
  }
  const first = privateChannelCandidate(incidentId, title);
  throw new SitrepError('CONFLICT', `Slack channels ${first} to ${first}-${CHANNEL_NAME_TRIES} are all taken; archive or rename one and declare again`);
}

/** What need-to-know looks at on an incident. */
export interface Confidential {
  visibility: Visibility;
  /** The incident's role holders (null: the role is not held). */
  roles: Readonly<Record<Role, string | null>>;
  /** Who declared it: they knew of it first, so they always may. */
  declaredBy?: string;
}

/** Who is asking, and what Sitrep knows about the people around the incident. */
export interface Audience {
  /** SITREP_ADMINS as configured. Empty grants nobody a look: it opens management, never privacy. */
  admins: readonly string[];
  /** User refs of the members of the incident's private channel (Slack), or of the bound private-incidents channel (Teams). */
  channelMembers: Iterable<string>;
}

/**
 * Need to know: a public incident is everyone's to see; a private one only its admins', its role
 * holders' and the members of its private channel's. To anyone else it does not exist, and the
 * caller answers exactly as for an id that was never used.
 */
export function maySee(incident: Confidential, viewer: string, audience: Audience): boolean {
  if (incident.visibility === 'public') return true;
  if (audience.admins.includes(viewer)) return true;
  if (Object.values(incident.roles).includes(viewer)) return true;
  if (incident.declaredBy === viewer) return true;
  for (const member of audience.channelMembers) if (member === viewer) return true;
  return false;
}

/**
 * The one answer for an incident id that was never used and for a private incident the asker may
 * not see: the same words, so the answer tells nothing about which it is.
 */
export function incidentNotFound(ref: string): SitrepError {
  return new SitrepError('NOT_FOUND', `${ref} not found; \`list all\` lists the incidents`);
}

/** Whether anything about the incident may reach a public surface (page, API, feeds, Statuspage, webhooks, customer channels, /metrics). */
export function isPublicIncident(incident: { visibility: Visibility }): boolean {
  return incident.visibility === 'public';
}

/**
 * Refuses a customer-facing command (`draft`, `resolve` with text, `postmortem publish`) on a private
 * incident, with one line saying what to use instead.
 */
export function checkCustomerFacing(ref: string, incident: { visibility: Visibility }, command: string): void {
  if (isPublicIncident(incident)) return;
  throw new SitrepError(
    'CONFLICT',
    `${ref} is private: nothing about it reaches customers, so \`${command}\` is refused (\`update\` and \`note\` keep its timeline)`,
  );
}
