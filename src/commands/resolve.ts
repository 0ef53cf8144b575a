import { awaitingApprovalNote } from '../domain/approval.js';
import { SitrepError } from '../domain/errors.js';
import { checkCustomerFacing } from '../domain/visibility.js';
import { checkReopen, checkTransition } from '../domain/lifecycle.js';
import { announcedComponents } from '../domain/publication.js';
import { formatDuration } from '../render/time.js';
import type { CommandContext, Reply } from './context.js';
import type { Command } from './grammar.js';
import { proposeUpdate } from './publish.js';
import { changeStatus } from './status.js';
import { recordEvent, resolveIncident, touchIncident } from './store.js';
import { incidentComponentRows, incRef, patchIncident } from '../../db/queries/incidents.js';
import { listApprovers } from '../../db/queries/settings.js';

export async function resolve(ctx: CommandContext, cmd: Extract<Command, { verb: 'resolve' }>): Promise<Reply> {
  return ctx.store.transaction(async (tx) => {
    const inc = await resolveIncident(ctx, tx, cmd.incident, 'resolve');
    const id = incRef(inc.id);
    if (cmd.text) checkCustomerFacing(id, inc, 'resolve with customer text');
    checkTransition(id, inc.status, 'resolved');
    const at = cmd.at ?? ctx.now();
    if (at < inc.startedAt) throw new SitrepError('INVALID', `at: is before ${id} started`);
    await changeStatus(tx, ctx, inc, 'resolved', at);
    await recordEvent(tx, ctx, {
      incidentId: inc.id,
      kind: 'resolved',
      occurredAt: at,
      text: `Resolved after ${formatDuration(at - inc.startedAt)}; affected components back to operational`,
      payload: { from: inc.status },
    });
    let draftNote = '';
    let draftId: string | undefined;
    if (cmd.text) {
      // Customer text on resolve follows the same approval policy as any draft.
      const { draft, published } = await proposeUpdate(tx, ctx, {
        incidentId: inc.id,
        body: cmd.text,
        status: 'resolved',
        componentChanges: announcedComponents(
          'resolved',
          (await incidentComponentRows(tx, inc.id)).map((c) => ({ slug: c.slug, status: c.status })),
        ),
        displayAt: at,
        label: 'resolved',
      });
      draftId = `D-${draft.id}`;
      draftNote = published
        ? ` Customer update ${draftId} published.`
        : ` Customer update ${draftId} awaits approval: ${awaitingApprovalNote({ policy: ctx.policy.approval, approvers: await listApprovers(tx), author: ctx.actor, draftId })}.`;
    }
    await touchIncident(tx, ctx, inc.id);
    return {
      text: `${id} resolved after ${formatDuration(at - inc.startedAt)}.${draftNote}`,
      data: { id, status: 'resolved', ...(draftId ? { draft: draftId } : {}) },
    };
  });
}

export async function reopen(ctx: CommandContext, cmd: Extract<Command, { verb: 'reopen' }>): Promise<Reply> {
  return ctx.store.transaction(async (tx) => {
    if (cmd.incident === undefined && ctx.scope.incidentId === undefined) {
      throw new SitrepError('INVALID', 'say which incident: `reopen INC-n`');
    }
    const inc = await resolveIncident(ctx, tx, cmd.incident, 'reopen');
    const id = incRef(inc.id);
    checkReopen(id, inc.status);
    const at = cmd.at ?? ctx.now();
    await changeStatus(tx, ctx, { ...inc, resolvedAt: null }, 'investigating', at);
    // resolved_at is kept in the timeline; the open incident has none.
    await patchIncident(tx, inc.id, { resolvedAt: null }, ctx.now());
    await recordEvent(tx, ctx, { incidentId: inc.id, kind: 'reopened', occurredAt: at, text: 'Reopened: back to investigating', payload: {} });
    await touchIncident(tx, ctx, inc.id);
    return { text: `${id} reopened (investigating). Set affected components again with \`components ${id} …\`.`, data: { id, status: 'investigating' } };
  });
}
