import { asc, desc, eq, ne } from 'drizzle-orm';
import { incidents } from '../../db/schema.js';
import { renderList, renderShow, renderTimeline, toShowJson } from '../render/incident.js';
import { toIso } from '../render/time.js';
import type { CommandContext, Reply } from './context.js';
import type { Command } from './grammar.js';
import { resolveIncident } from './store.js';
import { incRef } from '../../db/queries/incidents.js';
import { loadIncidentView } from '../../db/queries/views.js';
import { loadTimeline } from '../../db/queries/timeline.js';

export function list(ctx: CommandContext, cmd: Extract<Command, { verb: 'list' }>): Reply {
  const q = ctx.db.select().from(incidents);
  const rows = (
    cmd.filter === 'open'
      ? q.where(ne(incidents.status, 'resolved')).orderBy(asc(incidents.id))
      : cmd.filter === 'resolved'
        ? q.where(eq(incidents.status, 'resolved')).orderBy(desc(incidents.id))
        : q.orderBy(desc(incidents.id))
  ).all();
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

export function show(ctx: CommandContext, cmd: Extract<Command, { verb: 'show' }>): Reply {
  const inc = resolveIncident(ctx, ctx.db, cmd.incident, 'show', { latestIfNoneOpen: true });
  const view = loadIncidentView(ctx.db, inc);
  return { text: renderShow(view, ctx.policy.timezone, ctx.now()), data: toShowJson(view, ctx.policy.timezone) };
}

export function timeline(ctx: CommandContext, cmd: Extract<Command, { verb: 'timeline' }>): Reply {
  const inc = resolveIncident(ctx, ctx.db, cmd.incident, 'timeline', { latestIfNoneOpen: true });
  const events = loadTimeline(ctx.db, inc.id);
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
