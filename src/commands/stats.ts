import { incidentsStartedSince } from '../../db/queries/incidents.js';
import { formatDuration, toIso } from '../render/time.js';
import type { CommandContext, Reply } from './context.js';
import type { Command } from './grammar.js';
import { visibleIncidents } from './store.js';

function median(xs: number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Time to identify and to resolve per severity, measured from when impact began. */
export async function stats(ctx: CommandContext, cmd: Extract<Command, { verb: 'stats' }>): Promise<Reply> {
  // A private incident counts only for those who may see it: a total that moved would tell the others.
  const rows = await ctx.store.read(async (db) => await visibleIncidents(ctx, db, await incidentsStartedSince(db, cmd.since)));
  const out = [1, 2, 3, 4].map((sev) => {
    const of = rows.filter((r) => r.severity === sev);
    const tti = of.filter((r) => r.identifiedAt !== null).map((r) => r.identifiedAt! - r.startedAt);
    const ttr = of.filter((r) => r.resolvedAt !== null).map((r) => r.resolvedAt! - r.startedAt);
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
    return {
      severity: sev,
      incidents: of.length,
      resolved: ttr.length,
      median_time_to_identify_ms: median(tti),
      median_time_to_resolve_ms: median(ttr),
      mean_time_to_resolve_ms: mean(ttr),
    };
  });
  const f = (ms: number | null) => (ms === null ? '—' : formatDuration(ms));
  const lines = [`Incidents${cmd.since !== undefined ? ` since ${toIso(cmd.since, ctx.policy.timezone)}` : ''}: ${rows.length}`];
  for (const s of out) {
    if (!s.incidents) continue;
    lines.push(
      `sev${s.severity}: ${s.incidents} incident(s), ${s.resolved} resolved · median time to identify ${f(s.median_time_to_identify_ms)} · median time to resolve ${f(s.median_time_to_resolve_ms)}`,
    );
  }
  return {
    text: lines.join('\n'),
    data: { since: cmd.since === undefined ? null : toIso(cmd.since, ctx.policy.timezone), total: rows.length, by_severity: out },
  };
}
