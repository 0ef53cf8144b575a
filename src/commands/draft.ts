import { awaitingApprovalNote, checkApproval, checkPending, checkRejection } from '../domain/approval.js';
import { displayUser } from '../domain/actor.js';
import { announcedComponents } from '../domain/publication.js';
import { checkCustomerFacing } from '../domain/visibility.js';
import type { CommandContext, Reply } from './context.js';
import type { Command } from './grammar.js';
import { proposeUpdate, publishDraft } from './publish.js';
import { recordEvent, resolveIncident, touchIncident, visibleDraft } from './store.js';
import { componentsBySlug, incRef, incidentComponentRows } from '../../db/queries/incidents.js';
import { findCustomerText, markDraftRejected } from '../../db/queries/drafts.js';
import { approveMaintenanceText, rejectMaintenanceText } from './maintenance.js';
import { listApprovers } from '../../db/queries/settings.js';
import { renderTemplate, templateStatus } from './template.js';

/**
 * Proposes customer-facing wording. Without `components:` the draft carries the incident's current
 * component statuses, so the approver sees exactly what customers will be shown.
 */
export async function draft(ctx: CommandContext, cmd: Extract<Command, { verb: 'draft' }>): Promise<Reply> {
  return ctx.store.transaction(async (tx) => {
    const inc = await resolveIncident(ctx, tx, cmd.incident, 'draft');
    const id = incRef(inc.id);
    checkCustomerFacing(id, inc, 'draft');
    const status = cmd.status ?? (cmd.template ? await templateStatus(tx, cmd.template) : null) ?? inc.status;
    if (cmd.components)
      await componentsBySlug(
        tx,
        cmd.components.map((c) => c.slug),
      );
    const changes = cmd.components ?? (await incidentComponentRows(tx, inc.id)).map((c) => ({ slug: c.slug, status: c.status }));
    const body = cmd.template ? await renderTemplate(tx, ctx, cmd.template, inc, status, cmd.text) : cmd.text;
    const { draft: row, published } = await proposeUpdate(tx, ctx, {
      incidentId: inc.id,
      body,
      status,
      componentChanges: announcedComponents(status, changes),
      displayAt: cmd.at ?? ctx.now(),
      template: cmd.template ?? null,
      label: status,
    });
    const did = `D-${row.id}`;
    if (published) {
      return { text: `${did} published for ${id} (SITREP_APPROVAL=off).`, data: { id: did, incident: id, state: 'published', body } };
    }
    return {
      text: `${did} drafted for ${id}; ${awaitingApprovalNote({ policy: ctx.policy.approval, approvers: await listApprovers(tx), author: ctx.actor, draftId: did })}.`,
      data: { id: did, incident: id, state: 'draft', body },
    };
  });
}

const checkDraftPending = (d: { id: number; state: string }) => checkPending(d, 'draft a new update');

export async function approve(ctx: CommandContext, cmd: Extract<Command, { verb: 'approve' }>): Promise<Reply> {
  return ctx.store.transaction(async (tx) => {
    const t = await findCustomerText(tx, cmd.draft);
    if (t?.owner === 'maintenance')
      return approveMaintenanceText(tx, ctx, t.row, { ...(cmd.text ? { text: cmd.text } : {}), ...(cmd.at !== undefined ? { at: cmd.at } : {}) });
    const d = await visibleDraft(ctx, tx, cmd.draft);
    const did = `D-${d.id}`;
    checkDraftPending(d);
    checkApproval({ policy: ctx.policy.approval, actor: ctx.actor, author: d.author, approvers: await listApprovers(tx), draftId: did });
    const at = cmd.at;
    const pub = await publishDraft(tx, ctx, d, {
      approver: ctx.actor,
      ...(cmd.text ? { body: cmd.text } : {}),
      ...(at !== undefined ? { displayAt: at } : {}),
    });
    if (cmd.text) {
      await recordEvent(tx, ctx, {
        incidentId: d.incidentId,
        kind: 'draft_approved',
        text: `${did} approved with rewording by ${displayUser(ctx.actor)} (was: ${d.body})`,
        payload: { draftId: d.id, original: d.body },
      });
    }
    return {
      text: `${did} approved and published for ${incRef(d.incidentId)}.`,
      data: { id: did, incident: incRef(d.incidentId), state: 'published', body: pub.body },
    };
  });
}

export async function reject(ctx: CommandContext, cmd: Extract<Command, { verb: 'reject' }>): Promise<Reply> {
  return ctx.store.transaction(async (tx) => {
    const t = await findCustomerText(tx, cmd.draft);
    if (t?.owner === 'maintenance') return rejectMaintenanceText(tx, ctx, t.row, { reason: cmd.reason, ...(cmd.at !== undefined ? { at: cmd.at } : {}) });
    const d = await visibleDraft(ctx, tx, cmd.draft);
    const did = `D-${d.id}`;
    checkDraftPending(d);
    checkRejection({ actor: ctx.actor, author: d.author, approvers: await listApprovers(tx), draftId: did });
    const now = ctx.now();
    await markDraftRejected(tx, d.id, { reason: cmd.reason, by: ctx.actor, at: now });
    await recordEvent(tx, ctx, {
      incidentId: d.incidentId,
      kind: 'draft_rejected',
      occurredAt: cmd.at ?? now,
      text: `${did} by ${displayUser(d.author)} rejected: ${cmd.reason}`,
      payload: { draftId: d.id, author: d.author, reason: cmd.reason },
    });
    await touchIncident(tx, ctx, d.incidentId);
    return { text: `${did} rejected; ${displayUser(d.author)} is told why.`, data: { id: did, state: 'rejected', author: d.author, reason: cmd.reason } };
  });
}
