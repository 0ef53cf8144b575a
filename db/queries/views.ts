import type { DbOrTx } from '../client.js';
import type { TimelineEvent } from '../../src/domain/events.js';
import type { IncidentView } from '../../src/render/incident.js';
import { findCustomerText, findDraft, lastPublishedUpdate, pendingDrafts } from './drafts.js';
import { incidentComponentRows, incRef, type IncidentRow } from './incidents.js';

export async function loadIncidentView(db: DbOrTx, inc: IncidentRow): Promise<IncidentView> {
  const last = await lastPublishedUpdate(db, inc.id);
  const drafts = await pendingDrafts(db, inc.id);
  return {
    id: incRef(inc.id),
    number: inc.id,
    title: inc.title,
    status: inc.status,
    severity: inc.severity,
    lead: inc.lead,
    roles: { commander: inc.commander, comms: inc.comms, scribe: inc.scribe },
    startedAt: inc.startedAt,
    declaredAt: inc.declaredAt,
    identifiedAt: inc.identifiedAt,
    monitoringAt: inc.monitoringAt,
    resolvedAt: inc.resolvedAt,
    publicStatus: inc.publicStatus,
    components: (await incidentComponentRows(db, inc.id)).map((c) => ({ slug: c.slug, name: c.name, status: c.status, publicStatus: c.publicStatus })),
    lastCustomerUpdate: last ? { id: `D-${last.id}`, body: last.body, status: last.status, at: last.displayAt } : null,
    pendingDrafts: drafts.map((d) => ({ id: `D-${d.id}`, author: d.author, status: d.status, body: d.body })),
  };
}

export interface DraftDecision {
  draftId: number;
  id: string;
  decision: 'published' | 'rejected';
  by: string | null;
  body: string;
  reason?: string;
}

/** For a `published` or `draft_rejected` event: the draft and who decided, for chat approval cards. */
export async function draftDecisionOf(db: DbOrTx, e: TimelineEvent): Promise<DraftDecision | null> {
  if (e.kind !== 'published' && e.kind !== 'draft_rejected') return null;
  const d = await findDraft(db, e.payload.draftId);
  if (!d) return null;
  return {
    draftId: d.id,
    id: `D-${d.id}`,
    decision: e.kind === 'published' ? 'published' : 'rejected',
    by: d.approver,
    body: d.body,
    ...(d.rejectReason ? { reason: d.rejectReason } : {}),
  };
}

/**
 * For a maintenance's `published` or `draft_rejected` event: its D-n and who decided, for the
 * approval request in its thread. Null for a text that never had one: a fixed notice, or one
 * published at once under SITREP_APPROVAL=off (no approver).
 */
export async function maintenanceDraftDecisionOf(db: DbOrTx, e: { kind: string; payload: Record<string, unknown> }): Promise<DraftDecision | null> {
  if (e.kind !== 'published' && e.kind !== 'draft_rejected') return null;
  const draftId = e.payload.draftId;
  if (typeof draftId !== 'number') return null;
  const t = await findCustomerText(db, draftId);
  if (t?.owner !== 'maintenance') return null;
  const d = t.row;
  if (e.kind === 'published' && d.approver === null) return null;
  return {
    draftId: d.id,
    id: `D-${d.id}`,
    decision: e.kind === 'published' ? 'published' : 'rejected',
    by: d.approver,
    body: d.body,
    ...(d.rejectReason ? { reason: d.rejectReason } : {}),
  };
}

/** A maintenance's D-n still waiting for approval, as its approval request shows it. */
export async function maintenanceDraftForApproval(db: DbOrTx, draftId: number): Promise<{ id: string; author: string; status: string; body: string } | null> {
  const t = await findCustomerText(db, draftId);
  if (t?.owner !== 'maintenance' || t.row.state !== 'draft') return null;
  return { id: `D-${t.row.id}`, author: t.row.author, status: t.row.maintenanceStatus, body: t.row.body };
}
