import { DateTime } from 'luxon';
import { componentRank } from '../domain/components.js';
import type { ComponentStatus } from '../domain/enums.js';

// Pure: turns a component's public status history into per-day bars. No I/O, time passed in.

export interface UptimeDay {
  /** yyyy-mm-dd in the page's zone. */
  date: string;
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
  end: number;
}

export function uptimeWindow(now: number, zone: string, days: number): WindowSpec {
  const today = DateTime.fromMillis(now, { zone }).startOf('day');
  const dayStarts: number[] = [];
  for (let i = days - 1; i >= 0; i--) dayStarts.push(today.minus({ days: i }).toMillis());
  return { dayStarts, end: now };
}

/**
 * `before` is the status in force when the window opens (the last change before it); `changes`
 * are the rolled-up public statuses inside the window, in time order.
 */
export function computeUptime(
  win: WindowSpec,
  zone: string,
  before: ComponentStatus,
  changes: ReadonlyArray<{ at: number; status: ComponentStatus }>,
): Uptime {
  const start = win.dayStarts[0] ?? win.end;
  const points: Array<{ at: number; status: ComponentStatus }> = [{ at: start, status: before }];
  for (const c of changes) if (c.at >= start && c.at <= win.end) points.push(c);
  const days: UptimeDay[] = win.dayStarts.map((d) => ({
    date: DateTime.fromMillis(d, { zone }).toISODate() ?? '',
    worst: 'operational',
    downMinutes: 0,
  }));
  let weighted = 0;
  for (let i = 0; i < points.length; i++) {
    const from = points[i]!.at;
    const to = i + 1 < points.length ? points[i + 1]!.at : win.end;
    const status = points[i]!.status;
    for (let d = 0; d < win.dayStarts.length; d++) {
      const ds = win.dayStarts[d]!;
      const de = d + 1 < win.dayStarts.length ? win.dayStarts[d + 1]! : win.end;
      const a = Math.max(from, ds);
      const b = Math.min(to, de);
      // A status that starts and ends at the same instant still marks the day it happened in.
      if (b < a || (b === a && !(from === to && from >= ds && from < de))) continue;
      const day = days[d]!;
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
