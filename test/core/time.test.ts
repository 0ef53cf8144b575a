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
});
