import { DateTime } from '../render/luxon.js';
import { componentRank } from '../domain/components.js';
import type { ComponentStatus } from '../domain/enums.js';

// Pure: turns a component's public status history into per-day bars. No I/O, time passed in.

export interface UptimeDay {
  /** yyyy-mm-dd in the page's zone. */
  date: string;
  /** "Dec 07, 2021" */
  label: string;
  /** The worst status the component had at any moment of that day. */
  worst: ComponentStatus;
  /** Minutes weighted by severity (major outage counts fully, partial outage 30%). */
  downMinutes: number;
}

export interface Uptime {
  days: UptimeDay[];
  /** Percentage over the window, two decimals, Statuspage-style weighting. */
  percent: number;
}

// Statuspage weights a partial outage at 30% of a major one; degraded performance and maintenance
// do not count as downtime. Changing this changes every uptime figure customers have seen.
const WEIGHT: Readonly<Record<ComponentStatus, number>> = {
  operational: 0,
  under_maintenance: 0,
  degraded_performance: 0,
  partial_outage: 0.3,
  major_outage: 1,
};

export interface WindowSpec {
  /** Start of each day (ms) in zone, oldest first; the window ends at `end`. */
  dayStarts: number[];
  /** yyyy-mm-dd and "Dec 07, 2021" of each day, computed once: luxon is slow per call. */
  dates: string[];
  labels: string[];
  /** Start of tomorrow: when the window moves (luxon handles DST: a day is not always 24 h). */
  tomorrow: number;
  end: number;
}

// The days only move at midnight: reuse them until then (a rebuild runs on every change).
let cached: { zone: string; days: number; from: number; until: number; win: WindowSpec } | null = null;

export function uptimeWindow(now: number, zone: string, days: number): WindowSpec {
  if (cached && cached.zone === zone && cached.days === days && now >= cached.from && now < cached.until) {
    return { ...cached.win, end: now };
  }
  const today = DateTime.fromMillis(now, { zone }).startOf('day');
  const win: WindowSpec = { dayStarts: [], dates: [], labels: [], tomorrow: today.plus({ days: 1 }).toMillis(), end: now };
  for (let i = days - 1; i >= 0; i--) {
    const d = today.minus({ days: i }).setLocale('en-US');
    win.dayStarts.push(d.toMillis());
    win.dates.push(d.toISODate() ?? '');
    win.labels.push(d.toFormat('LLL dd, yyyy'));
  }
  cached = { zone, days, from: today.toMillis(), until: win.tomorrow, win };
  return win;
}

/**
 * `before` is the status in force when the window opens (the last change before it); `changes`
 * are the rolled-up public statuses inside the window, in time order.
 */
export function computeUptime(win: WindowSpec, before: ComponentStatus, changes: ReadonlyArray<{ at: number; status: ComponentStatus }>): Uptime {
  const start = win.dayStarts[0] ?? win.end;
  const points: Array<{ at: number; status: ComponentStatus }> = [{ at: start, status: before }];
  for (const c of changes) if (c.at >= start && c.at <= win.end) points.push(c);
  const days: UptimeDay[] = win.dayStarts.map((_d, i) => ({
    date: win.dates[i]!,
    label: win.labels[i]!,
    worst: 'operational',
    downMinutes: 0,
  }));
  let weighted = 0;
  const n = win.dayStarts.length;
  let d = 0;
  for (let i = 0; i < points.length; i++) {
    const status = points[i]!.status;
    // Operational time changes nothing: the day stays green and nothing counts as down.
    if (status === 'operational') continue;
    const from = points[i]!.at;
    const to = i + 1 < points.length ? points[i + 1]!.at : win.end;
    while (d + 1 < n && win.dayStarts[d + 1]! <= from) d++;
    for (let k = d; k < n; k++) {
      const ds = win.dayStarts[k]!;
      const de = k + 1 < n ? win.dayStarts[k + 1]! : win.end;
      // A status set and replaced at the same instant still marks the day it happened in.
      if (ds > to || (ds === to && from !== to)) break;
      const a = Math.max(from, ds);
      const b = Math.min(to, de);
      if (b < a || (b === a && from !== to)) continue;
      const day = days[k]!;
      if (componentRank(status) > componentRank(day.worst)) day.worst = status;
      const minutes = ((b - a) / 60_000) * WEIGHT[status];
      day.downMinutes += minutes;
      weighted += minutes;
    }
  }
  const total = Math.max(1, (win.end - start) / 60_000);
  const percent = Math.max(0, Math.floor((1 - weighted / total) * 10_000) / 100);
  return { days, percent };
}
