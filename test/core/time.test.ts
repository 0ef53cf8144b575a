import { describe, expect, it } from 'vitest';
import { formatDuration, formatPosted, parseTime } from '../../src/render/time.js';

describe('time rendering', () => {
  it('renders status-page times in the configured zone', async () => {
    expect(formatPosted(Date.parse('2021-12-07T22:28:00Z'), 'America/Los_Angeles')).toBe('Dec 07, 2021 - 14:28 PST');
    expect(formatPosted(Date.parse('2021-07-07T22:28:00Z'), 'America/Los_Angeles')).toBe('Jul 07, 2021 - 15:28 PDT');
    expect(formatPosted(Date.parse('2021-12-07T22:28:00Z'), 'UTC')).toBe('Dec 07, 2021 - 22:28 UTC');
  });
  it('renders durations', async () => {
    expect(formatDuration((6 * 60 + 28) * 60_000)).toBe('6h 28m');
    expect(formatDuration(45 * 60_000 + 59_000)).toBe('45m');
    expect(formatDuration((26 * 60 + 5) * 60_000)).toBe('1d 2h');
  });
  it('takes a bare clock time as its most recent occurrence', async () => {
    const now = Date.parse('2021-12-08T08:10:00Z'); // 00:10 PST on Dec 08
    expect(new Date(parseTime('11:50pm', 'America/Los_Angeles', now)).toISOString()).toBe('2021-12-08T07:50:00.000Z');
    expect(new Date(parseTime('7:32am', 'America/Los_Angeles', now)).toISOString()).toBe('2021-12-07T15:32:00.000Z');
    expect(() => parseTime('13:00pm', 'UTC', now)).toThrow(/not a time/);
    expect(() => parseTime('2021-02-30T10:00', 'UTC', now)).toThrow(/not a valid date/);
  });
  it('takes a bare clock time as its next occurrence when the time is still to come (starts:, ends:)', () => {
    const now = Date.parse('2021-12-08T08:10:00Z'); // 00:10 PST on Dec 08
    const future = (s: string, from = now) => new Date(parseTime(s, 'America/Los_Angeles', from, 'future')).toISOString();
    expect(future('11:50pm')).toBe('2021-12-09T07:50:00.000Z');
    expect(future('00:05')).toBe('2021-12-09T08:05:00.000Z');
    expect(future('00:10')).toBe('2021-12-08T08:10:00.000Z');
    expect(future('7:32am')).toBe('2021-12-08T15:32:00.000Z');
    // From a later reference (ends: after starts:), past midnight.
    expect(future('01:00', Date.parse('2021-12-09T07:00:00Z'))).toBe('2021-12-09T09:00:00.000Z');
    // Dates are what they say in either direction.
    expect(future('2021-12-01T10:00')).toBe('2021-12-01T18:00:00.000Z');
  });
});
