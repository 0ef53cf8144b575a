import { incidentsStartedSince } from '../../db/queries/incidents.js';
import { publishedUpdateTimes } from '../../db/queries/drafts.js';
import { keptCadence } from '../domain/reminders.js';
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

const worst = (xs: number[]) => (xs.length ? Math.max(...xs) : null);

/**
 * Per severity: how many incidents, time to identify and to resolve (median and worst, from when
 * impact began), and how many kept or missed their update cadence (SITREP_UPDATE_CADENCE; public
 * incidents of a severity that has one).
 */
export async function stats(ctx: CommandContext, cmd: Extract<Command, { verb: 'stats' }>): Promise<Reply> {
  // A private incident counts only for those who may see it: a total that moved would tell the others.
  const { rows, times } = await ctx.store.read(async (db) => {
    const rows = await visibleIncidents(ctx, db, await incidentsStartedSince(db, cmd.since));
    return {
      rows,
      times: await publishedUpdateTimes(
        db,
        rows.map((r) => r.id),
      ),
    };
  });
  const now = ctx.now();
  const cadence = ctx.policy.cadenceMinutes ?? {};
  const out = [1, 2, 3, 4].map((sev) => {
    const of = rows.filter((r) => r.severity === sev);
    const tti = of.filter((r) => r.identifiedAt !== null).map((r) => r.identifiedAt! - r.startedAt);
    const ttr = of.filter((r) => r.resolvedAt !== null).map((r) => r.resolvedAt! - r.startedAt);
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
    const allowed = cadence[sev];
    const judged = allowed === undefined ? [] : of.filter((r) => r.visibility === 'public');
    const kept = judged.filter((r) =>
      keptCadence({ declaredAt: r.declaredAt, resolvedAt: r.resolvedAt, updates: times.get(r.id) ?? [] }, allowed! * 60_000, now),
    ).length;
    return {
      severity: sev,
      incidents: of.length,
      resolved: ttr.length,
      median_time_to_identify_ms: median(tti),
      worst_time_to_identify_ms: worst(tti),
      median_time_to_resolve_ms: median(ttr),
      worst_time_to_resolve_ms: worst(ttr),
      mean_time_to_resolve_ms: mean(ttr),
      cadence_minutes: allowed ?? null,
      cadence_kept: allowed === undefined ? null : kept,
      cadence_missed: allowed === undefined ? null : judged.length - kept,
    };
  });
  const f = (ms: number | null) => (ms === null ? '—' : formatDuration(ms));
  const lines = [`Incidents${cmd.since !== undefined ? ` since ${toIso(cmd.since, ctx.policy.timezone)}` : ''}: ${rows.length}`];
  for (const s of out) {
    if (!s.incidents) continue;
    const cad =
      s.cadence_minutes === null
        ? ''
        : ` · update cadence (every ${formatDuration(s.cadence_minutes * 60_000)}) kept by ${s.cadence_kept}, missed by ${s.cadence_missed}`;
    lines.push(
      `sev${s.severity}: ${s.incidents} incident(s), ${s.resolved} resolved · time to identify median ${f(s.median_time_to_identify_ms)}, worst ${f(s.worst_time_to_identify_ms)} · time to resolve median ${f(s.median_time_to_resolve_ms)}, worst ${f(s.worst_time_to_resolve_ms)}${cad}`,
    );
  }
  return {
    text: lines.join('\n'),
    data: { since: cmd.since === undefined ? null : toIso(cmd.since, ctx.policy.timezone), total: rows.length, by_severity: out },
  };
}
