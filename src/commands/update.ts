import { SitrepError } from '../domain/errors.js';
import { checkTransition } from '../domain/lifecycle.js';
import { setsComponents } from '../domain/publication.js';
import type { CommandContext, Reply } from './context.js';
import type { Command } from './grammar.js';
import { changeStatus } from './status.js';
import { describeChanges, recordEvent, resolveIncident, touchIncident } from './store.js';
import { applyComponentChanges, componentsBySlug, incRef } from '../../db/queries/incidents.js';

/** Internal update: timeline and thread only. It never reaches the status page or customers. */
export async function update(ctx: CommandContext, cmd: Extract<Command, { verb: 'update' }>): Promise<Reply> {
  return ctx.store.transaction(async (tx) => {
    const inc = await resolveIncident(ctx, tx, cmd.incident, 'update');
    const id = incRef(inc.id);
    const at = cmd.at ?? ctx.now();
    const moves = cmd.status ? checkTransition(id, inc.status, cmd.status) : false;
    if (cmd.components && inc.status === 'resolved') {
      throw new SitrepError('CONFLICT', `${id} is resolved; \`reopen ${id}\` before changing its components`);
    }
    if (cmd.components)
      await componentsBySlug(
        tx,
        cmd.components.map((c) => c.slug),
      );
    if (at < inc.declaredAt && at < inc.startedAt) {
      throw new SitrepError('INVALID', `at: is before ${id} started; updates cannot predate the incident`);
    }
    if (moves) await changeStatus(tx, ctx, inc, cmd.status!, at);
    const changes = cmd.components && setsComponents(cmd.status ?? inc.status) ? await applyComponentChanges(tx, inc.id, cmd.components, at) : [];
    const prefix = [moves ? `[${inc.status} → ${cmd.status}]` : '', changes.length ? `[${describeChanges(changes)}]` : ''].filter(Boolean).join(' ');
    await recordEvent(tx, ctx, {
      incidentId: inc.id,
      kind: moves ? 'status_changed' : 'update',
      occurredAt: at,
      text: prefix ? `${prefix} ${cmd.text}` : cmd.text,
      payload: { body: cmd.text, from: inc.status, to: moves && cmd.status ? cmd.status : inc.status, components: changes },
    });
    await touchIncident(tx, ctx, inc.id);
    return {
      text: `${id} updated${moves ? ` (now ${cmd.status})` : ''}. Internal only: use \`draft\` for customer-facing wording.`,
      data: { id, status: moves ? cmd.status : inc.status },
    };
  });
}
