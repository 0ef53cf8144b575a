import type { IncidentStatus } from './enums.js';
import { SitrepError } from './errors.js';

// The lifecycle as data. Forward one step at a time; any open state may go straight to resolved;
// reopen (resolved → investigating) is its own verb so a typo cannot reopen an incident.
export const TRANSITIONS: Readonly<Record<IncidentStatus, readonly IncidentStatus[]>> = {
  investigating: ['identified', 'resolved'],
  identified: ['monitoring', 'resolved'],
  monitoring: ['resolved'],
  resolved: [],
};

export function isOpen(status: IncidentStatus): boolean {
  return status !== 'resolved';
}

export function canTransition(from: IncidentStatus, to: IncidentStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/**
 * Checks a status change and explains a refusal in terms of what to type instead.
 * Returns false when `to` equals `from` (nothing to change), true when it is a legal step.
 */
export function checkTransition(ref: string, from: IncidentStatus, to: IncidentStatus): boolean {
  if (from === to) {
    if (from === 'resolved') throw new SitrepError('CONFLICT', `${ref} is already resolved; use \`reopen ${ref}\``);
    return false;
  }
  if (canTransition(from, to)) return true;
  if (from === 'resolved') {
    throw new SitrepError('CONFLICT', `${ref} is already resolved; use \`reopen ${ref}\` first`);
  }
  const next = TRANSITIONS[from].filter((s) => s !== 'resolved');
  const hint = next.length ? `status:${next[0]}` : `resolve ${ref}`;
  throw new SitrepError('CONFLICT', `${ref} is ${from}; it cannot go to ${to} from there (next: ${hint}, or \`resolve ${ref}\`)`);
}

export function checkReopen(ref: string, from: IncidentStatus): void {
  if (from !== 'resolved') {
    throw new SitrepError('CONFLICT', `${ref} is still open (${from}); only a resolved incident can be reopened`);
  }
}

/** The timestamp column that records the first time an incident reached a status. */
export function milestoneFor(status: IncidentStatus): 'identifiedAt' | 'monitoringAt' | 'resolvedAt' | null {
  switch (status) {
    case 'investigating':
      return null;
    case 'identified':
      return 'identifiedAt';
    case 'monitoring':
      return 'monitoringAt';
    case 'resolved':
      return 'resolvedAt';
  }
}
