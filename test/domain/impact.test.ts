import { describe, expect, it } from 'vitest';
import type { ComponentStatus, IncidentStatus } from '../../src/domain/enums.js';
import { impactOf, longestGap, publicBands, type AnnouncedUpdate } from '../../src/domain/impact.js';

// The public picture of an incident from its published updates: bands per component, each
// component's impact, and the longest wait between two updates.

const M = 60_000;
const u = (at: number, status: IncidentStatus, components: Record<string, ComponentStatus> = {}): AnnouncedUpdate => ({
  at: at * M,
  status,
  components: Object.entries(components).map(([slug, s]) => ({ slug, status: s })),
});
const bands = (updates: AnnouncedUpdate[], end: number) =>
  Object.fromEntries([...publicBands(updates, end * M)].map(([slug, b]) => [slug, b.map((x) => [x.status, x.from / M, x.to / M])]));

describe('publicBands', () => {
  const cases: Array<[string, AnnouncedUpdate[], number, Record<string, Array<[ComponentStatus, number, number]>>]> = [
    ['one status to the end of an open incident', [u(0, 'investigating', { web: 'major_outage' })], 30, { web: [['major_outage', 0, 30]] }],
    [
      'a repeated status is one band; a change starts the next',
      [u(0, 'investigating', { web: 'major_outage' }), u(5, 'investigating', { web: 'major_outage' }), u(10, 'identified', { web: 'partial_outage' })],
      20,
      {
        web: [
          ['major_outage', 0, 10],
          ['partial_outage', 10, 20],
        ],
      },
    ],
    [
      'a component first named later was operational before',
      [u(0, 'investigating', { web: 'degraded_performance' }), u(10, 'identified', { web: 'degraded_performance', sms: 'major_outage' })],
      15,
      {
        web: [['degraded_performance', 0, 15]],
        sms: [
          ['operational', 0, 10],
          ['major_outage', 10, 15],
        ],
      },
    ],
    [
      'resolved hands every component back as operational, even one it does not name (kept as the last, empty band)',
      [u(0, 'investigating', { web: 'major_outage', sms: 'partial_outage' }), u(60, 'resolved', { web: 'major_outage' })],
      60,
      {
        web: [
          ['major_outage', 0, 60],
          ['operational', 60, 60],
        ],
        sms: [
          ['partial_outage', 0, 60],
          ['operational', 60, 60],
        ],
      },
    ],
    [
      'two changes at the same instant leave only the later',
      [u(0, 'investigating', { web: 'major_outage' }), u(0, 'investigating', { web: 'partial_outage' }), u(9, 'monitoring', { web: 'operational' })],
      12,
      {
        web: [
          ['partial_outage', 0, 9],
          ['operational', 9, 12],
        ],
      },
    ],
  ];
  it.each(cases)('%s', (_name, updates, end, expected) => {
    expect(bands(updates, end)).toEqual(expected);
  });
});

describe('impactOf', () => {
  it('worst status, first impaired, back to operational, and impaired time (gaps of operational not counted)', () => {
    const b = publicBands(
      [
        u(0, 'investigating', { web: 'degraded_performance' }),
        u(10, 'identified', { web: 'major_outage' }),
        u(30, 'monitoring', { web: 'operational' }),
        u(40, 'monitoring', { web: 'partial_outage' }),
        u(50, 'resolved'),
      ],
      50 * M,
    ).get('web')!;
    expect(impactOf(b)).toEqual({ worst: 'major_outage', from: 0, to: 50 * M, impairedMs: 40 * M });
  });

  it('is still impaired (to null) when no update shows it back', () => {
    const b = publicBands([u(0, 'investigating', { web: 'partial_outage' })], 25 * M).get('web')!;
    expect(impactOf(b)).toEqual({ worst: 'partial_outage', from: 0, to: null, impairedMs: 25 * M });
  });

  it('is null for a component only ever shown operational', () => {
    expect(impactOf(publicBands([u(0, 'investigating', { web: 'operational' })], 5 * M).get('web')!)).toBeNull();
  });
});

describe('longestGap', () => {
  it.each([
    ['none with one update', [0], null],
    ['none with no update', [], null],
    ['the longest of several, in any order', [0, 4, 41, 52, 65, 97, 185, 319, 386], { from: 185, to: 319, ms: 134 }],
    ['the earliest of equal gaps', [0, 10, 20], { from: 0, to: 10, ms: 10 }],
  ] as const)('%s', (_name, times, expected) => {
    expect(longestGap([...times].reverse())).toEqual(expected);
  });
});
