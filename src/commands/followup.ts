import { editFollowup, findFollowup, insertFollowup, listFollowups, markFollowupDone } from '../../db/queries/followups.js';
import type { ReadConn } from '../../db/store.js';
import { displayUser } from '../domain/actor.js';
import { SitrepError } from '../domain/errors.js';
import type { CommandContext, Reply } from './context.js';
import type { Command } from './grammar.js';
import { maySeeIncident, recordEvent, resolveIncident, touchIncident, visibleIncidents } from './store.js';
import { findIncident, incRef } from '../../db/queries/incidents.js';

async function listOf(ctx: CommandContext, db: ReadConn, incident: number | undefined): Promise<Reply> {
  // A private incident the person may not see is not there: named, it is "not found"; in the whole
  // list its follow-ups are left out.
  const id = incident === undefined ? undefined : (await resolveIncident(ctx, db, incident, 'followup list')).id;
  const rows = await listFollowups(db, id);
  const seen = new Set(
    (await visibleIncidents(ctx, db, await Promise.all([...new Set(rows.map((f) => f.incidentId))].map(async (i) => (await findIncident(db, i))!)))).map(
      (i) => i.id,
    ),
  );
  const items = rows
    .filter((f) => seen.has(f.incidentId))
    .map((f) => ({ id: `F-${f.id}`, incident: incRef(f.incidentId), text: f.text, owner: f.owner, done: f.state === 'done' }));
  const text = items.length
    ? items
        .map((f) => `${f.id.padEnd(5)} ${f.incident.padEnd(7)} ${f.done ? 'done' : 'open'}  ${f.text}${f.owner ? ` (owner ${displayUser(f.owner)})` : ''}`)
        .join('\n')
    : incident === undefined
      ? 'No follow-ups.'
      : `No follow-ups on ${incRef(incident)}.`;
  return { text, data: { followups: items } };
}

export async function followup(ctx: CommandContext, cmd: Extract<Command, { verb: 'followup' }>): Promise<Reply> {
  if (cmd.action === 'list') {
    const incident = cmd.incident;
    return ctx.store.read((db) => listOf(ctx, db, incident));
  }
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
      case 'edit': {
        const row = await findFollowup(tx, cmd.id);
        const fid = `F-${cmd.id}`;
        // A follow-up of a private incident the person may not see is answered as one never made.
        const inc = row ? await findIncident(tx, row.incidentId) : undefined;
        if (!row || !inc || !(await maySeeIncident(ctx, tx, inc))) throw new SitrepError('NOT_FOUND', `there is no ${fid}`);
        const next = { text: cmd.text ?? row.text, owner: cmd.owner ?? row.owner };
        if (next.text === row.text && next.owner === row.owner) throw new SitrepError('CONFLICT', `${fid} already says that; nothing changed`);
        await editFollowup(tx, cmd.id, next);
        const changed = [
          next.text !== row.text ? `now: ${next.text}` : null,
          next.owner !== row.owner ? `owner ${next.owner ? displayUser(next.owner) : 'none'}` : null,
        ]
          .filter(Boolean)
          .join('; ');
        await recordEvent(tx, ctx, {
          incidentId: row.incidentId,
          kind: 'followup_edited',
          occurredAt: cmd.at ?? now,
          text: `Follow-up ${fid} edited (${changed}; was: ${row.text})`,
          payload: { followupId: row.id, previous: row.text, owner: next.owner, previousOwner: row.owner },
        });
        await touchIncident(tx, ctx, row.incidentId);
        return { text: `${fid} edited.`, data: { id: fid, incident: incRef(row.incidentId), text: next.text, owner: next.owner } };
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
