import { DateTime } from './luxon.js';
import { SitrepError } from '../domain/errors.js';

const TIME_HELP = 'write a time like 7:32am, 07:32, 2021-12-07T07:32 or 2021-12-07T15:32:00Z';

/**
 * Parses `started:` / `at:` values. A time without a zone is in `zone`. A bare clock time means its
 * most recent occurrence (so at 00:10, `11:50pm` is last night, not tonight); with `prefer` future
 * (`starts:` / `ends:`, times still to come) it means its next occurrence at or after `now`.
 */
export function parseTime(input: string, zone: string, now: number, prefer: 'past' | 'future' = 'past'): number {
  const s = input.trim();
  const clock = /^(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$/i.exec(s);
  if (clock) {
    let hour = Number(clock[1]);
    const minute = clock[2] ? Number(clock[2]) : 0;
    const ampm = clock[3]?.toLowerCase();
    if (!clock[2] && !ampm) throw new SitrepError('INVALID', `"${input}" is not a time; ${TIME_HELP}`);
    if (ampm) {
      if (hour < 1 || hour > 12) throw new SitrepError('INVALID', `"${input}" is not a time; ${TIME_HELP}`);
      if (ampm === 'am' && hour === 12) hour = 0;
      if (ampm === 'pm' && hour !== 12) hour += 12;
    }
    if (hour > 23 || minute > 59) throw new SitrepError('INVALID', `"${input}" is not a time; ${TIME_HELP}`);
    const today = DateTime.fromMillis(now, { zone }).set({ hour, minute, second: 0, millisecond: 0 });
    const t = prefer === 'past' ? (today.toMillis() > now ? today.minus({ days: 1 }) : today) : today.toMillis() < now ? today.plus({ days: 1 }) : today;
    return t.toMillis();
  }
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?)?(Z|[+-]\d{2}:?\d{2})?$/i.test(s)) {
    const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(s) && s.length > 10;
    const dt = hasZone ? DateTime.fromISO(s.replace(' ', 'T'), { setZone: true }) : DateTime.fromISO(s.replace(' ', 'T'), { zone });
    if (!dt.isValid) throw new SitrepError('INVALID', `"${input}" is not a valid date or time; ${TIME_HELP}`);
    return dt.toMillis();
  }
  throw new SitrepError('INVALID', `"${input}" is not a time; ${TIME_HELP}`);
}

// The zone's short name ("PST", "GMT+1") at an instant, as luxon's ZZZZ token gives it (the same
// Intl query, with the same options), but through one formatter per zone: luxon makes a new
// Intl.DateTimeFormat on every call, about 0.1 ms, which a 10,000-event timeline or a status page
// with a long history would pay once per line.
const zoneNameFormats = new Map<string, Intl.DateTimeFormat | null>();

function zoneName(ms: number, zone: string): string {
  let f = zoneNameFormats.get(zone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        timeZoneName: 'short',
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
      });
    } catch {
      // A zone luxon knows and Intl does not (a fixed offset such as UTC+3): luxon names it.
      f = null;
    }
    zoneNameFormats.set(zone, f);
  }
  const name = f?.formatToParts(ms).find((p) => p.type === 'timeZoneName')?.value;
  return name ?? DateTime.fromMillis(ms, { zone }).setLocale('en-US').toFormat('ZZZZ');
}

// UTC, the default zone, written out by hand: formatting through luxon (and so Intl) loads ICU's
// date data on first use, about a tenth of a CLI command's start-up, to print a month name and
// "UTC". Only the years whose four digits luxon prints as they are.
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => (n < 10 ? `0${n}` : String(n));
function utcParts(ms: number, zone: string): { date: string; year: number; clock: string } | null {
  if (zone !== 'UTC' && zone !== 'Etc/UTC') return null;
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  if (!(year >= 1000 && year <= 9999)) return null;
  return { date: `${MONTHS[d.getUTCMonth()]} ${two(d.getUTCDate())}`, year, clock: `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}` };
}

/** "Dec 07, 2021 - 14:28 PST", the status-page format, in the configured zone. */
export function formatPosted(ms: number, zone: string): string {
  const utc = utcParts(ms, zone);
  if (utc) return `${utc.date}, ${utc.year} - ${utc.clock} UTC`;
  return `${DateTime.fromMillis(ms, { zone }).setLocale('en-US').toFormat('LLL dd, yyyy - HH:mm')} ${zoneName(ms, zone)}`;
}

/** "14:28 PST" alone, or with the date when `withDate`. */
export function formatClock(ms: number, zone: string, withDate: boolean): string {
  const utc = utcParts(ms, zone);
  if (utc) return `${withDate ? `${utc.date} ${utc.clock}` : utc.clock} UTC`;
  const dt = DateTime.fromMillis(ms, { zone }).setLocale('en-US');
  return `${withDate ? dt.toFormat('LLL dd HH:mm') : dt.toFormat('HH:mm')} ${zoneName(ms, zone)}`;
}

/** ISO 8601 with the zone's offset, for --json. */
export function toIso(ms: number, zone: string): string {
  return DateTime.fromMillis(ms, { zone }).toISO({ suppressMilliseconds: true }) ?? new Date(ms).toISOString();
}

export function sameDay(a: number, b: number, zone: string): boolean {
  // The calendar dates compared as text: the same answer as hasSame(…, 'day'), at half the cost.
  return DateTime.fromMillis(a, { zone }).toISODate() === DateTime.fromMillis(b, { zone }).toISODate();
}

/** "6h 28m", "2d 3h", "45m", "0m". */
export function formatDuration(ms: number): string {
  const totalMinutes = Math.max(0, Math.floor(ms / 60_000));
  const days = Math.floor(totalMinutes / 1440);
  const hours = Math.floor((totalMinutes % 1440) / 60);
  const minutes = totalMinutes % 60;
  if (days > 0) return hours ? `${days}d ${hours}h` : `${days}d`;
  if (hours > 0) return `${hours}h ${minutes}m`;
  return `${minutes}m`;
}
