import { and, eq } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { customerUpdates, incidentComponents, incidents, postmortems } from '../../db/schema.js';
import type { IncidentStatus } from '../domain/enums.js';
import { planPublication } from '../domain/publication.js';
import type { CommandContext, PublishedRecord } from './context.js';
import type { ComponentChange } from './grammar.js';
import { recordEvent, touchIncident } from './store.js';
import { applyComponentChanges, componentsBySlug, getIncident, incidentComponentRows, recomputeComponents } from '../../db/queries/incidents.js';
import { changeStatus } from './status.js';

import { toDraftRow, type DraftRow } from '../../db/queries/drafts.js';

/**
 * Publishing is one transaction: the update becomes published, the incident's public status and
 * component statuses change (so the built-in page changes), and every outlet enqueues what must
 * leave (Statuspage, customer channels, the thread). Nothing here touches the network.
 */
export function publishDraft(
  tx: Tx,
  ctx: CommandContext,
  draft: DraftRow,
  opts: { approver: string | null; body?: string; displayAt?: number },
): PublishedRecord {
  const now = ctx.now();
  const body = opts.body ?? draft.body;
  const displayAt = opts.displayAt ?? draft.displayAt;
  const incident = getIncident(tx, draft.incidentId);
  // What the outlets are told once this update is public.
  const record: PublishedRecord = {
    updateId: draft.id,
    incidentId: draft.incidentId,
    status: draft.status,
    body,
    displayAt,
    approvedAt: now,
    isPostmortem: draft.isPostmortem,
  };

  tx.update(customerUpdates)
    .set({ state: 'published', body, approver: opts.approver, approvedAt: now, publishedAt: now, displayAt })
    .where(eq(customerUpdates.id, draft.id))
    .run();

  if (draft.isPostmortem) {
    // A postmortem changes no status; it is shown above the updates on the incident's page.
    tx.insert(postmortems)
      .values({ incidentId: draft.incidentId, markdown: '', publicBody: body, publishedAt: displayAt, updatedAt: now })
      .onConflictDoUpdate({ target: postmortems.incidentId, set: { publicBody: body, publishedAt: displayAt, updatedAt: now } })
      .run();
    recordEvent(tx, ctx, {
      incidentId: draft.incidentId,
      kind: 'postmortem_published',
      occurredAt: displayAt,
      text: `Published postmortem D-${draft.id}: ${body}`,
      payload: { draftId: draft.id, approver: opts.approver },
    });
    for (const o of ctx.outlets) o.onPublished?.(tx, record, ctx);
    touchIncident(tx, ctx, draft.incidentId);
    return record;
  }

  const changes = draft.componentChanges;
  const plan = planPublication({
    incident: { status: incident.status, components: incidentComponentRows(tx, draft.incidentId).map((c) => c.slug) },
    update: { status: draft.status, components: changes, postmortem: false },
  });
  if (plan.moveTo) changeStatus(tx, ctx, incident, plan.moveTo, displayAt);
  if (plan.internal.length) applyComponentChanges(tx, draft.incidentId, plan.internal, displayAt);

  const bySlug = componentsBySlug(
    tx,
    plan.public.map((c) => c.slug),
  );
  for (const ch of plan.public) {
    const comp = bySlug.get(ch.slug)!;
    const existing = tx
      .select()
      .from(incidentComponents)
      .where(and(eq(incidentComponents.incidentId, draft.incidentId), eq(incidentComponents.componentId, comp.id)))
      .get();
    if (existing) {
      tx.update(incidentComponents)
        .set({ publicStatus: ch.status, updatedAt: now })
        .where(and(eq(incidentComponents.incidentId, draft.incidentId), eq(incidentComponents.componentId, comp.id)))
        .run();
    } else {
      tx.insert(incidentComponents)
        .values({ incidentId: draft.incidentId, componentId: comp.id, status: 'operational', publicStatus: ch.status, updatedAt: now })
        .run();
    }
  }
  tx.update(incidents)
    .set({ publicStatus: plan.publicStatus ?? incident.publicStatus, publishedAt: incident.publishedAt ?? now, updatedAt: now })
    .where(eq(incidents.id, draft.incidentId))
    .run();
  const affected = tx
    .select({ componentId: incidentComponents.componentId })
    .from(incidentComponents)
    .where(eq(incidentComponents.incidentId, draft.incidentId))
    .all()
    .map((r) => r.componentId);
  recomputeComponents(tx, affected, 'public', displayAt, draft.incidentId);

  recordEvent(tx, ctx, {
    incidentId: draft.incidentId,
    kind: 'published',
    occurredAt: displayAt,
    text: `Published D-${draft.id} (${draft.status}): ${body}`,
    payload: { draftId: draft.id, status: draft.status, approver: opts.approver, components: changes },
  });
  for (const o of ctx.outlets) o.onPublished?.(tx, record, ctx);
  touchIncident(tx, ctx, draft.incidentId);
  return record;
}

export interface Proposal {
  incidentId: number;
  body: string;
  status: IncidentStatus;
  componentChanges: ComponentChange[];
  displayAt: number;
  template?: string | null;
  isPostmortem?: boolean;
  /** How the draft is named in the timeline: "(identified)", "(postmortem)". */
  label: string;
}

/**
 * Every customer-facing text enters here (draft, resolve with text, postmortem publish): it becomes
 * a draft awaiting approval, or is published at once under SITREP_APPROVAL=off.
 */
export function proposeUpdate(tx: Tx, ctx: CommandContext, p: Proposal): { draft: DraftRow; published: boolean } {
  const now = ctx.now();
  const inserted = tx
    .insert(customerUpdates)
    .values({
      incidentId: p.incidentId,
      state: 'draft',
      body: p.body,
      status: p.status,
      componentChanges: p.componentChanges,
      template: p.template ?? null,
      isPostmortem: p.isPostmortem ?? false,
      author: ctx.actor,
      createdAt: now,
      displayAt: p.displayAt,
    })
    .returning()
    .get();
  const row = toDraftRow(inserted);
  if (ctx.policy.approval === 'off') {
    publishDraft(tx, ctx, row, { approver: null });
    return { draft: row, published: true };
  }
  recordEvent(tx, ctx, {
    incidentId: p.incidentId,
    kind: 'draft_created',
    occurredAt: p.displayAt,
    text: `Drafted D-${row.id} (${p.label}): ${p.body}`,
    payload: { draftId: row.id, status: p.status, components: p.componentChanges, postmortem: p.isPostmortem ?? false },
  });
  for (const o of ctx.outlets) o.onDraftCreated?.(tx, row.id, ctx);
  touchIncident(tx, ctx, p.incidentId);
  return { draft: row, published: false };
}
