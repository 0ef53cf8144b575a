import { and, asc, desc, eq } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { customerUpdates, timelineEvents } from '../../db/schema.js';
import type { IncidentView, TimelineEntry } from '../render/incident.js';
import { incidentComponentRows, incRef, type IncidentRow } from './store.js';

export function loadIncidentView(db: DbOrTx, inc: IncidentRow): IncidentView {
  const last = db
    .select()
    .from(customerUpdates)
    .where(and(eq(customerUpdates.incidentId, inc.id), eq(customerUpdates.state, 'published')))
    .orderBy(desc(customerUpdates.displayAt), desc(customerUpdates.id))
    .get();
  const drafts = db
    .select()
    .from(customerUpdates)
    .where(and(eq(customerUpdates.incidentId, inc.id), eq(customerUpdates.state, 'draft')))
    .orderBy(asc(customerUpdates.id))
    .all();
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
    components: incidentComponentRows(db, inc.id).map((c) => ({ slug: c.slug, name: c.name, status: c.status, publicStatus: c.publicStatus })),
    lastCustomerUpdate: last ? { id: `D-${last.id}`, body: last.body, status: last.status, at: last.displayAt } : null,
    pendingDrafts: drafts.map((d) => ({ id: `D-${d.id}`, author: d.author, status: d.status, body: d.body })),
  };
}

export function loadTimeline(db: DbOrTx, incidentId: number): TimelineEntry[] {
  // Only the fields a timeline shows: a long incident has tens of thousands of events, and every
  // other column (the JSON payload above all) would be read and decoded for nothing.
  const e = timelineEvents;
  return db
    .select({ kind: e.kind, actor: e.actor, text: e.text, occurredAt: e.occurredAt, recordedAt: e.recordedAt })
    .from(e)
    .where(eq(e.incidentId, incidentId))
    .orderBy(asc(e.occurredAt), asc(e.id))
    .all();
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
export function draftDecisionOf(db: DbOrTx, e: { kind: string; payload: Record<string, unknown> }): DraftDecision | null {
  if ((e.kind !== 'published' && e.kind !== 'draft_rejected') || typeof e.payload.draftId !== 'number') return null;
  const d = db.select().from(customerUpdates).where(eq(customerUpdates.id, e.payload.draftId)).get();
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
