import { findFollowup, insertFollowup, markFollowupDone } from '../../db/queries/followups.js';
import { displayUser } from '../domain/actor.js';
import { SitrepError } from '../domain/errors.js';
import type { CommandContext, Reply } from './context.js';
import type { Command } from './grammar.js';
import { maySeeIncident, recordEvent, resolveIncident, touchIncident } from './store.js';
import { findIncident, incRef } from '../../db/queries/incidents.js';

export async function followup(ctx: CommandContext, cmd: Extract<Command, { verb: 'followup' }>): Promise<Reply> {
  return ctx.store.transaction(async (tx) => {
    const now = ctx.now();
    switch (cmd.action) {
      case 'add': {
        const inc = await resolveIncident(ctx, tx, cmd.incident, 'followup add');
        const row = await insertFollowup(tx, { incidentId: inc.id, text: cmd.text, owner: cmd.owner ?? null, createdBy: ctx.actor, createdAt: now });
        const fid = `F-${row.id}`;
        await recordEvent(tx, ctx, {
          incidentId: inc.id,
          kind: 'followup_added',
          occurredAt: cmd.at ?? now,
          text: `Follow-up ${fid}: ${cmd.text}${cmd.owner ? ` (owner ${displayUser(cmd.owner)})` : ''}`,
          payload: { followupId: row.id, owner: cmd.owner ?? null },
        });
        await touchIncident(tx, ctx, inc.id);
        return { text: `${fid} added to ${incRef(inc.id)}.`, data: { id: fid, incident: incRef(inc.id), text: cmd.text, owner: cmd.owner ?? null } };
      }
      case 'done': {
        const row = await findFollowup(tx, cmd.id);
        const fid = `F-${cmd.id}`;
        // A follow-up of a private incident the person may not see is answered as one never made.
        const inc = row ? await findIncident(tx, row.incidentId) : undefined;
        if (!row || !inc || !(await maySeeIncident(ctx, tx, inc))) throw new SitrepError('NOT_FOUND', `there is no ${fid}`);
        if (row.state === 'done') throw new SitrepError('CONFLICT', `${fid} is already done`);
        await markFollowupDone(tx, cmd.id, cmd.at ?? now);
        await recordEvent(tx, ctx, {
          incidentId: row.incidentId,
          kind: 'followup_done',
          occurredAt: cmd.at ?? now,
          text: `Follow-up ${fid} done: ${row.text}`,
          payload: { followupId: row.id },
        });
        return { text: `${fid} done.`, data: { id: fid, state: 'done' } };
      }
    }
  });
}
