import { setIncidentRole, setIncidentSeverity } from '../../db/queries/incidents.js';
import { SitrepError } from '../domain/errors.js';
import { displayUser } from '../domain/actor.js';
import type { CommandContext, Reply } from './context.js';
import type { Command } from './grammar.js';
import { describeChanges, recordEvent, resolveIncident, touchIncident } from './store.js';
import { applyComponentChanges, componentsBySlug, incRef } from '../../db/queries/incidents.js';

export async function note(ctx: CommandContext, cmd: Extract<Command, { verb: 'note' }>): Promise<Reply> {
  return ctx.store.transaction(async (tx) => {
    const inc = await resolveIncident(ctx, tx, cmd.incident, 'note');
    await recordEvent(tx, ctx, { incidentId: inc.id, kind: 'note', occurredAt: cmd.at ?? ctx.now(), text: cmd.text, payload: {} });
    await touchIncident(tx, ctx, inc.id);
    return { text: `Noted on ${incRef(inc.id)}.`, data: { id: incRef(inc.id) } };
  });
}

export async function severity(ctx: CommandContext, cmd: Extract<Command, { verb: 'severity' }>): Promise<Reply> {
  return ctx.store.transaction(async (tx) => {
    const inc = await resolveIncident(ctx, tx, cmd.incident, 'severity');
    const id = incRef(inc.id);
    if (inc.severity === cmd.severity) throw new SitrepError('CONFLICT', `${id} is already sev${cmd.severity}`);
    await setIncidentSeverity(tx, inc.id, cmd.severity, ctx.now());
    await recordEvent(tx, ctx, {
      incidentId: inc.id,
      kind: 'severity_changed',
      occurredAt: cmd.at ?? ctx.now(),
      text: `Severity sev${inc.severity} → sev${cmd.severity}`,
      payload: { from: inc.severity, to: cmd.severity },
    });
    await touchIncident(tx, ctx, inc.id);
    return { text: `${id} is now sev${cmd.severity}.`, data: { id, severity: cmd.severity } };
  });
}

export async function assign(ctx: CommandContext, cmd: Extract<Command, { verb: 'assign' }>): Promise<Reply> {
  return ctx.store.transaction(async (tx) => {
    const inc = await resolveIncident(ctx, tx, cmd.incident, 'assign');
    const id = incRef(inc.id);
    if (inc[cmd.role] === cmd.user) throw new SitrepError('CONFLICT', `${displayUser(cmd.user)} is already ${cmd.role} of ${id}`);
    await setIncidentRole(tx, inc.id, cmd.role, cmd.user, ctx.now());
    await recordEvent(tx, ctx, {
      incidentId: inc.id,
      kind: 'role_assigned',
      occurredAt: cmd.at ?? ctx.now(),
      text: `${displayUser(cmd.user)} is now ${cmd.role}${inc[cmd.role] ? ` (was ${displayUser(inc[cmd.role])})` : ''}`,
      payload: { role: cmd.role, user: cmd.user, previous: inc[cmd.role] },
    });
    await touchIncident(tx, ctx, inc.id);
    return { text: `${displayUser(cmd.user)} is ${cmd.role} of ${id}.`, data: { id, role: cmd.role, user: cmd.user } };
  });
}

export async function setComponents(ctx: CommandContext, cmd: Extract<Command, { verb: 'components' }>): Promise<Reply> {
  return ctx.store.transaction(async (tx) => {
    const inc = await resolveIncident(ctx, tx, cmd.incident, 'components');
    const id = incRef(inc.id);
    if (inc.status === 'resolved') throw new SitrepError('CONFLICT', `${id} is resolved; \`reopen ${id}\` before changing its components`);
    await componentsBySlug(
      tx,
      cmd.changes.map((c) => c.slug),
    );
    const at = cmd.at ?? ctx.now();
    const changes = await applyComponentChanges(tx, inc.id, cmd.changes, at);
    await recordEvent(tx, ctx, {
      incidentId: inc.id,
      kind: 'components_changed',
      occurredAt: at,
      text: `Components: ${describeChanges(changes)}`,
      payload: { components: changes },
    });
    await touchIncident(tx, ctx, inc.id);
    return { text: `${id}: ${describeChanges(changes)}. Internal until a customer update is published.`, data: { id, components: changes } };
  });
}
