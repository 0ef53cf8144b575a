import type { WriteTx } from '../../db/store.js';
import { savePublicPostmortem } from '../../db/queries/postmortems.js';
import type { IncidentStatus } from '../domain/enums.js';
import { planPublication } from '../domain/publication.js';
import { checkCustomerFacing } from '../domain/visibility.js';
import type { CommandContext, PublishedRecord } from './context.js';
import type { ComponentChange } from './grammar.js';
import { recordEvent, touchIncident } from './store.js';
import {
  applyComponentChanges,
  componentsBySlug,
  getIncident,
  incRef,
  incidentComponentIds,
  incidentComponentRows,
  patchIncident,
  recomputeComponents,
  setIncidentComponentPublicStatus,
} from '../../db/queries/incidents.js';
import { changeStatus } from './status.js';
import { insertDraft, markDraftPublished, type DraftRow } from '../../db/queries/drafts.js';

/** The incident's public chart (GET /incidents/INC-n/chart.svg), linked wherever its postmortem goes. */
export const chartUrl = (publicUrl: string, incidentId: number) => `${publicUrl}/incidents/${incRef(incidentId)}/chart.svg`;

/**
 * Publishing is one transaction: the update becomes published, the incident's public status and
 * component statuses change (so the built-in page changes), and every outlet enqueues what must
 * leave (Statuspage, customer channels, the thread). Nothing here touches the network.
 */
export async function publishDraft(
  tx: WriteTx,
  ctx: CommandContext,
  draft: DraftRow,
  opts: { approver: string | null; body?: string; displayAt?: number },
): Promise<PublishedRecord> {
  const now = ctx.now();
  const body = opts.body ?? draft.body;
  const displayAt = opts.displayAt ?? draft.displayAt;
  const incident = await getIncident(tx, draft.incidentId);
  // The verbs refuse customer text on a private incident before drafting; this is the last gate
  // before anything is public, so no path around them can publish one.
  checkCustomerFacing(incRef(incident.id), incident, 'publish');
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

  await markDraftPublished(tx, draft.id, { body, approver: opts.approver, at: now, displayAt });

  if (draft.isPostmortem) {
    // A postmortem changes no status; it is shown above the updates on the incident's page.
    await savePublicPostmortem(tx, draft.incidentId, body, displayAt, now);
    await recordEvent(tx, ctx, {
      incidentId: draft.incidentId,
      kind: 'postmortem_published',
      occurredAt: displayAt,
      // The thread reply (Slack, Teams) carries the picture of the incident as a link.
      text: `Published postmortem D-${draft.id}: ${body}\nChart: ${chartUrl(ctx.policy.publicUrl, draft.incidentId)}`,
      payload: { draftId: draft.id, approver: opts.approver },
    });
    for (const o of ctx.outlets) await o.onPublished?.(tx, record, ctx);
    await touchIncident(tx, ctx, draft.incidentId);
    return record;
  }

  const changes = draft.componentChanges;
  const plan = planPublication({
    incident: { status: incident.status, components: (await incidentComponentRows(tx, draft.incidentId)).map((c) => c.slug) },
    update: { status: draft.status, components: changes, postmortem: false },
  });
  if (plan.moveTo) await changeStatus(tx, ctx, incident, plan.moveTo, displayAt);
  if (plan.internal.length) await applyComponentChanges(tx, draft.incidentId, plan.internal, displayAt);

  const bySlug = await componentsBySlug(
    tx,
    plan.public.map((c) => c.slug),
  );
  for (const ch of plan.public) await setIncidentComponentPublicStatus(tx, draft.incidentId, bySlug.get(ch.slug)!.id, ch.status, now);
  await patchIncident(tx, draft.incidentId, { publicStatus: plan.publicStatus ?? incident.publicStatus, publishedAt: incident.publishedAt ?? now }, now);
  await recomputeComponents(tx, await incidentComponentIds(tx, draft.incidentId), 'public', displayAt, draft.incidentId);

  await recordEvent(tx, ctx, {
    incidentId: draft.incidentId,
    kind: 'published',
    occurredAt: displayAt,
    text: `Published D-${draft.id} (${draft.status}): ${body}`,
    payload: { draftId: draft.id, status: draft.status, approver: opts.approver, components: changes },
  });
  for (const o of ctx.outlets) await o.onPublished?.(tx, record, ctx);
  await touchIncident(tx, ctx, draft.incidentId);
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
export async function proposeUpdate(tx: WriteTx, ctx: CommandContext, p: Proposal): Promise<{ draft: DraftRow; published: boolean }> {
  checkCustomerFacing(incRef(p.incidentId), await getIncident(tx, p.incidentId), p.isPostmortem ? 'postmortem publish' : 'draft');
  const row = await insertDraft(tx, {
    incidentId: p.incidentId,
    body: p.body,
    status: p.status,
    componentChanges: p.componentChanges,
    template: p.template ?? null,
    isPostmortem: p.isPostmortem ?? false,
    author: ctx.actor,
    createdAt: ctx.now(),
    displayAt: p.displayAt,
  });
  if (ctx.policy.approval === 'off') {
    await publishDraft(tx, ctx, row, { approver: null });
    return { draft: row, published: true };
  }
  await recordEvent(tx, ctx, {
    incidentId: p.incidentId,
    kind: 'draft_created',
    occurredAt: p.displayAt,
    text: `Drafted D-${row.id} (${p.label}): ${p.body}`,
    payload: { draftId: row.id, status: p.status, components: p.componentChanges, postmortem: p.isPostmortem ?? false },
  });
  for (const o of ctx.outlets) await o.onDraftCreated?.(tx, row.id, ctx);
  await touchIncident(tx, ctx, p.incidentId);
  return { draft: row, published: false };
}
