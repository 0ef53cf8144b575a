import { describe, expect, it } from 'vitest';
import { draftIdOf, parseTimelineEvent, type TimelineEvent } from '../../src/domain/events.js';

const good: TimelineEvent[] = [
  {
    kind: 'declared',
    payload: {
      title: 'DB down',
      severity: 2,
      lead: 'cli:ann',
      startedAt: 1,
      components: [{ slug: 'web', name: 'Web', from: null, to: 'major_outage' }],
      scope: { platform: 'cli' },
    },
  },
  { kind: 'update', payload: { body: 'x', from: 'investigating', to: 'identified', components: [] } },
  { kind: 'severity_changed', payload: { from: 3, to: 1 } },
  { kind: 'role_assigned', payload: { role: 'comms', user: 'cli:bob', previous: null } },
  { kind: 'note', payload: {} },
  { kind: 'draft_created', payload: { draftId: 4, status: 'resolved', components: [{ slug: 'web', status: 'operational' }], postmortem: false } },
  { kind: 'published', payload: { draftId: 4, status: 'resolved', approver: null, components: [] } },
  { kind: 'draft_rejected', payload: { draftId: 4, author: 'cli:ann', reason: 'no' } },
  { kind: 'pinned', payload: { source: 'slack', channel: 'C1', ts: '1.2', pinnedBy: 'slack:U1' } },
  { kind: 'delivery_failed', payload: { outboxId: 3, deliveryId: 'd-3', target: 'webhook:1', reason: '500' } },
];

describe('timeline events read back from storage', () => {
  it.each(good.map((e) => [e.kind, e] as const))('a well-formed %s parses to itself', (_kind, e) => {
    expect(parseTimelineEvent(e.kind, JSON.parse(JSON.stringify(e.payload)))).toEqual(e);
  });

  const bad: Array<[string, unknown, unknown]> = [
    ['an unknown kind', 'exploded', {}],
    ['a payload that is not an object', 'note', 'text'],
    ['an array payload', 'note', []],
    ['a draft id that is a string', 'published', { draftId: '4', status: 'resolved', approver: null, components: [] }],
    ['an unknown incident status', 'resolved', { from: 'sleeping' }],
    ['an unknown component status', 'draft_created', { draftId: 1, status: 'identified', components: [{ slug: 'a', status: 'on_fire' }], postmortem: false }],
    ['a missing field', 'severity_changed', { from: 3 }],
  ];
  it.each(bad)('%s is refused', (_what, kind, payload) => {
    expect(parseTimelineEvent(kind, payload)).toBeNull();
  });

  it('keeps fields it does not know', async () => {
    expect(parseTimelineEvent('note', { extra: 1 })).toEqual({ kind: 'note', payload: { extra: 1 } });
  });

  it('names the draft an event is about', async () => {
    expect(good.map(draftIdOf)).toEqual([null, null, null, null, null, 4, 4, 4, null, null]);
  });
});
