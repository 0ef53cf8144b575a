import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { formatClock, formatPosted, sameDay } from '../../src/render/time.js';

// formatPosted and formatClock name the zone through a cached Intl formatter instead of luxon's
// ZZZZ token (which builds a new one per call), and sameDay compares calendar dates as text: the
// answers must be luxon's own, in every kind of zone and across daylight-saving changes.

const ZONES = [
  'UTC',
  'Etc/UTC',
  'America/Los_Angeles',
  'America/St_Johns',
  'America/Sao_Paulo',
  'Europe/London',
  'Europe/Berlin',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'Pacific/Kiritimati',
  'Etc/GMT+5',
];

/** Every 30 minutes through the days when zones change their clocks, and a spread over decades. */
function instants(): number[] {
  const out: number[] = [];
  for (const year of [2021, 2038]) {
    for (const [month, day] of [
      [3, 13],
      [3, 27],
      [4, 3],
      [9, 25],
      [10, 30],
      [11, 6],
    ] as const) {
      const start = Date.UTC(year, month - 1, day);
      for (let h = 0; h < 2 * 24 * 2; h++) out.push(start + h * 30 * 60_000);
    }
  }
  for (let i = 0; i < 200; i++) out.push(Date.UTC(1980, 0, 1) + Math.floor((((i * 7919) % 200) / 200) * 60 * 365.25 * 86_400_000) + i * 61_000);
  return out;
}

describe('zone names and days, as luxon gives them', () => {
  const all = instants();
  for (const zone of ZONES) {
    it(`${zone}: formatPosted, formatClock and sameDay`, async () => {
      const anchor = Date.UTC(2026, 2, 8, 9, 30);
      for (const ms of all) {
        const dt = DateTime.fromMillis(ms, { zone }).setLocale('en-US');
        expect(formatPosted(ms, zone)).toBe(dt.toFormat('LLL dd, yyyy - HH:mm ZZZZ'));
        expect(formatClock(ms, zone, true)).toBe(dt.toFormat('LLL dd HH:mm ZZZZ'));
        expect(formatClock(ms, zone, false)).toBe(dt.toFormat('HH:mm ZZZZ'));
        expect(sameDay(ms, anchor, zone)).toBe(dt.hasSame(DateTime.fromMillis(anchor, { zone }), 'day'));
        expect(sameDay(ms, ms + 3_600_000, zone)).toBe(dt.hasSame(DateTime.fromMillis(ms + 3_600_000, { zone }), 'day'));
      }
    });
  }

  it('a fixed-offset zone that only luxon understands is still named', async () => {
    const ms = Date.UTC(2026, 0, 5, 12, 0);
    expect(formatClock(ms, 'UTC+3', false)).toBe(DateTime.fromMillis(ms, { zone: 'UTC+3' }).setLocale('en-US').toFormat('HH:mm ZZZZ'));
  });
});
