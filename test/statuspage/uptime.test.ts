import { describe, expect, it } from 'vitest';
import { computeUptime, uptimeWindow } from '../../src/statuspage/uptime.js';

// Pure: public status history → 90 daily bars and an uptime percentage (Statuspage weighting).
const ZONE = 'America/Los_Angeles';
const at = (iso: string) => Date.parse(iso);

describe('uptime bars', () => {
  const now = at('2021-12-09T18:00:00Z');
  const win = uptimeWindow(now, ZONE, 90);

  it('has 90 days ending today in the zone, labelled like the page', async () => {
    expect(win.dayStarts).toHaveLength(90);
    expect(win.dates.at(-1)).toBe('2021-12-09');
    expect(win.labels.at(-3)).toBe('Dec 07, 2021');
    expect(win.tomorrow).toBe(at('2021-12-10T08:00:00Z'));
  });

  it('marks each day with the worst status it saw and weights partial outages at 30%', async () => {
    const u = computeUptime(win, 'operational', [
      { at: at('2021-12-07T16:00:00Z'), status: 'major_outage' }, // 08:00 PST
      { at: at('2021-12-07T17:00:00Z'), status: 'partial_outage' },
      { at: at('2021-12-07T19:00:00Z'), status: 'degraded_performance' },
      { at: at('2021-12-07T22:28:00Z'), status: 'operational' },
    ]);
    const byDate = Object.fromEntries(u.days.map((d) => [d.date, d]));
    expect(byDate['2021-12-07']!.worst).toBe('major_outage');
    expect(byDate['2021-12-07']!.downMinutes).toBeCloseTo(60 + 0.3 * 120);
    expect(byDate['2021-12-06']!.worst).toBe('operational');
    expect(byDate['2021-12-08']!.worst).toBe('operational');
    const minutes = (now - win.dayStarts[0]!) / 60_000;
    expect(u.percent).toBe(Math.floor((1 - 96 / minutes) * 10_000) / 100);
  });

  it('carries a status across midnight and from before the window', async () => {
    const u = computeUptime(win, 'partial_outage', [{ at: at('2021-09-20T12:00:00Z'), status: 'operational' }]);
    expect(u.days[0]!.worst).toBe('partial_outage');
    const o = computeUptime(win, 'operational', [
      { at: at('2021-12-08T07:00:00Z'), status: 'major_outage' },
      { at: at('2021-12-08T09:00:00Z'), status: 'operational' },
    ]);
    expect(o.days.filter((d) => d.worst === 'major_outage').map((d) => d.date)).toEqual(['2021-12-07', '2021-12-08']);
  });

  it('a status set and replaced at the same instant still marks its day', async () => {
    const t = at('2021-12-08T20:00:00Z');
    const u = computeUptime(win, 'operational', [
      { at: t, status: 'major_outage' },
      { at: t, status: 'operational' },
    ]);
    expect(u.days.find((d) => d.date === '2021-12-08')!.worst).toBe('major_outage');
    expect(u.percent).toBe(100);
  });
});
