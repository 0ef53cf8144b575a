import { renderList, renderShow, renderTimeline, toShowJson } from '../render/incident.js';
import { toIso } from '../render/time.js';
import type { CommandContext, Reply } from './context.js';
import type { Command } from './grammar.js';
import { resolveIncident, visibleIncidents } from './store.js';
import { incRef, listIncidents } from '../../db/queries/incidents.js';
import { loadIncidentView } from '../../db/queries/views.js';
import { loadTimeline } from '../../db/queries/timeline.js';

export async function list(ctx: CommandContext, cmd: Extract<Command, { verb: 'list' }>): Promise<Reply> {
  const rows = await ctx.store.read(async (db) => await visibleIncidents(ctx, db, await listIncidents(db, cmd.filter)));
  const zone = ctx.policy.timezone;
  const items = rows.map((r) => ({
    id: incRef(r.id),
    title: r.title,
    status: r.status,
    severity: r.severity,
    startedAt: r.startedAt,
    resolvedAt: r.resolvedAt,
  }));
  return {
    text: renderList(items, zone, ctx.now(), cmd.filter),
    data: {
      incidents: rows.map((r) => ({
        id: incRef(r.id),
        title: r.title,
        status: r.status,
        severity: r.severity,
        lead: r.lead,
        started_at: toIso(r.startedAt, zone),
        resolved_at: r.resolvedAt === null ? null : toIso(r.resolvedAt, zone),
      })),
    },
  };
}

export async function show(ctx: CommandContext, cmd: Extract<Command, { verb: 'show' }>): Promise<Reply> {
  const view = await ctx.store.read(async (db) => await loadIncidentView(db, await resolveIncident(ctx, db, cmd.incident, 'show', { latestIfNoneOpen: true })));
  return { text: renderShow(view, ctx.policy.timezone, ctx.now()), data: toShowJson(view, ctx.policy.timezone) };
}

export async function timeline(ctx: CommandContext, cmd: Extract<Command, { verb: 'timeline' }>): Promise<Reply> {
  const { inc, events } = await ctx.store.read(async (db) => {
    const inc = await resolveIncident(ctx, db, cmd.incident, 'timeline', { latestIfNoneOpen: true });
    return { inc, events: await loadTimeline(db, inc.id) };
  });
  const zone = ctx.policy.timezone;
  return {
    text: renderTimeline({ id: incRef(inc.id), title: inc.title, startedAt: inc.startedAt, resolvedAt: inc.resolvedAt }, events, zone, ctx.now()),
    data: {
      id: incRef(inc.id),
      events: events.map((e) => ({
        occurred_at: toIso(e.occurredAt, zone),
        recorded_at: toIso(e.recordedAt, zone),
        kind: e.kind,
        actor: e.actor,
        text: e.text,
      })),
    },
  };
}
