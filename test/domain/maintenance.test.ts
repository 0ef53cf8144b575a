import { describe, expect, it } from 'vitest';
import { MAINTENANCE_STATUSES, type ComponentStatus, type MaintenanceStatus } from '../../src/domain/enums.js';
import { SitrepError } from '../../src/domain/errors.js';
import {
  MAINTENANCE_ACTIONS,
  checkMaintenanceTransition,
  checkSchedule,
  componentStatusDuring,
  dueTransitions,
  isActiveMaintenance,
  isMaintenanceOpen,
  isUpcomingMaintenance,
  maintenanceCommand,
  maintenanceContributions,
  maintenanceRef,
  nextDueAt,
  noticeFor,
  parseMaintenanceRef,
  rollUpWithMaintenance,
  statuspageMaintenanceStatus,
  updateAction,
  type DueTransition,
  type MaintenanceAction,
  type MaintenanceTimes,
} from '../../src/domain/maintenance.js';

const thrown = (f: () => unknown): SitrepError => {
  try {
    f();
  } catch (e) {
    if (e instanceof SitrepError) return e;
    throw e;
  }
  throw new Error('expected a SitrepError');
};

describe('maintenance transition table', () => {
  // Every action from every status: the status it leads to, or the refusal (a one-line CONFLICT).
  type Outcome = MaintenanceStatus | RegExp;
  const table: Record<MaintenanceAction, Record<MaintenanceStatus, Outcome>> = {
    start: {
      scheduled: 'in_progress',
      in_progress: /^M-3 is already in progress$/,
      verifying: /^M-3 is verifying; it cannot start from there \(next: `maintenance update M-3 status:in_progress <text>` or `maintenance complete M-3`\)$/,
      completed: /^M-3 is already completed; nothing more can happen to it/,
      cancelled: /^M-3 was cancelled; nothing more can happen to it/,
    },
    verify: {
      scheduled: /^M-3 has not started yet; it cannot go to verifying from there \(next: `maintenance start M-3` or `maintenance cancel M-3`\)$/,
      in_progress: 'verifying',
      verifying: /^M-3 is already verifying$/,
      completed: /already completed/,
      cancelled: /was cancelled/,
    },
    resume: {
      scheduled: /has not started yet/,
      in_progress: /^M-3 is already in progress$/,
      verifying: 'in_progress',
      completed: /already completed/,
      cancelled: /was cancelled/,
    },
    complete: {
      scheduled: /^M-3 has not started yet; it cannot complete from there \(next: `maintenance start M-3` or `maintenance cancel M-3`\)$/,
      in_progress: 'completed',
      verifying: 'completed',
      completed: /already completed/,
      cancelled: /was cancelled/,
    },
    cancel: {
      scheduled: 'cancelled',
      in_progress: /^M-3 is in progress; it cannot be cancelled from there \(next: .*`maintenance complete M-3`\)$/,
      verifying: /^M-3 is verifying; it cannot be cancelled from there/,
      completed: /already completed/,
      cancelled: /was cancelled/,
    },
    update: {
      scheduled: 'scheduled',
      in_progress: 'in_progress',
      verifying: 'verifying',
      completed: /already completed; nothing more can happen to it \(schedule new work with `maintenance schedule`\)/,
      cancelled: /was cancelled/,
    },
  };
  const cases = MAINTENANCE_ACTIONS.flatMap((a) => MAINTENANCE_STATUSES.map((s): [MaintenanceAction, MaintenanceStatus, Outcome] => [a, s, table[a][s]]));

  it.each(cases)('%s from %s → %s', (action, from, outcome) => {
    if (typeof outcome === 'string') {
      expect(checkMaintenanceTransition('M-3', from, action)).toBe(outcome);
      return;
    }
    const e = thrown(() => checkMaintenanceTransition('M-3', from, action));
    expect(e.code).toBe('CONFLICT');
    expect(e.message).toMatch(outcome);
    expect(e.message).not.toMatch(/\n/);
  });

  it('names the command for every action as it is typed', () => {
    expect(MAINTENANCE_ACTIONS.map((a) => maintenanceCommand(a, 'M-3'))).toEqual([
      'maintenance start M-3',
      'maintenance update M-3 status:verifying <text>',
      'maintenance update M-3 status:in_progress <text>',
      'maintenance complete M-3',
      'maintenance cancel M-3',
      'maintenance update M-3 <text>',
    ]);
  });

  const updates: Array<[MaintenanceStatus, MaintenanceStatus | undefined, MaintenanceAction]> = [
    ['scheduled', undefined, 'update'],
    ['in_progress', undefined, 'update'],
    ['in_progress', 'in_progress', 'update'],
    ['scheduled', 'in_progress', 'start'],
    ['verifying', 'in_progress', 'resume'],
    ['in_progress', 'verifying', 'verify'],
    ['verifying', 'completed', 'complete'],
    ['scheduled', 'cancelled', 'cancel'],
  ];
  it.each(updates)('maintenance update on a %s maintenance with status:%s is %s', (current, status, action) => {
    expect(updateAction(current, status)).toBe(action);
  });

  it('refuses going back to scheduled in one line', () => {
    const e = thrown(() => updateAction('in_progress', 'scheduled'));
    expect(e.code).toBe('INVALID');
    expect(e.message).toBe('a maintenance cannot go back to scheduled; to change its times, cancel it and schedule it again');
  });

  it.each(MAINTENANCE_STATUSES.map((s): [MaintenanceStatus, boolean] => [s, s !== 'completed' && s !== 'cancelled']))('%s is open: %s', (s, open) => {
    expect(isMaintenanceOpen(s)).toBe(open);
  });
});

describe('automatic transitions', () => {
  const START = Date.parse('2026-12-07T22:00:00Z');
  const END = Date.parse('2026-12-07T23:30:00Z');
  const MIN = 60_000;
  const m = (over: Partial<MaintenanceTimes> = {}): MaintenanceTimes => ({
    status: 'scheduled',
    startsAt: START,
    endsAt: END,
    startedAt: null,
    autoStart: true,
    autoComplete: true,
    ...over,
  });
  const start: DueTransition = { action: 'start', at: START, to: 'in_progress' };
  const complete: DueTransition = { action: 'complete', at: END, to: 'completed' };

  const cases: Array<[string, MaintenanceTimes, number, DueTransition[], number | null]> = [
    ['scheduled, before its start', m(), START - MIN, [], START],
    ['scheduled, at its start', m(), START, [start], START],
    ['scheduled, during its window', m(), START + MIN, [start], START],
    ['scheduled, the whole window missed (nothing was running)', m(), END + MIN, [start, complete], START],
    ['scheduled, at its end exactly', m(), END, [start, complete], START],
    ['scheduled without auto start, during its window', m({ autoStart: false }), START + MIN, [], null],
    ['scheduled without auto start, after its window', m({ autoStart: false }), END + MIN, [], null],
    ['scheduled without auto complete, after its window', m({ autoComplete: false }), END + MIN, [start], START],
    ['in progress, before its end', m({ status: 'in_progress', startedAt: START }), END - MIN, [], END],
    ['in progress, at its end', m({ status: 'in_progress', startedAt: START }), END, [complete], END],
    ['started early by hand, after its end', m({ status: 'in_progress', startedAt: START - 30 * MIN }), END + MIN, [complete], END],
    ['verifying, after its end', m({ status: 'verifying', startedAt: START }), END + MIN, [complete], END],
    ['in progress without auto complete', m({ status: 'in_progress', startedAt: START, autoComplete: false }), END + MIN, [], null],
    ['started by hand only after its window ended', m({ status: 'in_progress', startedAt: END + MIN }), END + 2 * MIN, [], null],
    ['completed', m({ status: 'completed', startedAt: START }), END + MIN, [], null],
    ['cancelled', m({ status: 'cancelled' }), END + MIN, [], null],
  ];

  it.each(cases)('%s', (_name, maintenance, now, due, next) => {
    expect(dueTransitions(maintenance, now)).toEqual(due);
    expect(nextDueAt(maintenance)).toBe(next);
  });

  it('is not due again once applied: the status it leads to has nothing left at the same instant', () => {
    for (const [, maintenance, now] of cases) {
      let current = maintenance;
      for (const step of dueTransitions(current, now)) {
        current = { ...current, status: step.to, startedAt: step.action === 'start' ? step.at : current.startedAt };
      }
      expect(dueTransitions(current, now)).toEqual([]);
    }
  });

  it('words the notices nobody wrote as Statuspage does', () => {
    expect(noticeFor('start')).toBe('Scheduled maintenance is currently in progress. We will provide updates as necessary.');
    expect(noticeFor('complete')).toBe('The scheduled maintenance has been completed.');
    expect(noticeFor('cancel')).toBe('The scheduled maintenance has been cancelled.');
  });
});

describe('schedule validation', () => {
  const NOW = Date.parse('2026-12-07T20:00:00Z');
  const H = 3_600_000;
  const cases: Array<[string, number | undefined, number | undefined, RegExp | null]> = [
    ['a window to come', NOW + H, NOW + 2 * H, null],
    ['starting now', NOW, NOW + H, null],
    ['starting within the minute of clock slack', NOW - 59_000, NOW + H, null],
    ['starts: in the past', NOW - 2 * 60_000, NOW + H, /^starts: is in the past; schedule maintenance for a time still to come \(e\.g\. starts:/],
    ['ends: before starts:', NOW + 2 * H, NOW + H, /^ends: is before starts:; a maintenance must end after it begins/],
    ['ends: equal to starts:', NOW + H, NOW + H, /^ends: is the same time as starts:/],
    ['no starts:', undefined, NOW + H, /^maintenance schedule needs starts:<time>, when the work begins/],
    ['no ends:', NOW + H, undefined, /^maintenance schedule needs ends:<time>, when the work ends/],
    ['neither', undefined, undefined, /^maintenance schedule needs starts:<time> and ends:<time>/],
  ];
  it.each(cases)('%s', (_name, startsAt, endsAt, error) => {
    const check = () => checkSchedule({ startsAt, endsAt, now: NOW });
    if (error === null) {
      expect(check()).toEqual({ startsAt, endsAt });
      return;
    }
    const e = thrown(check);
    expect(e.code).toBe('INVALID');
    expect(e.message).toMatch(error);
    expect(e.message).not.toMatch(/\n/);
  });
});

describe('M-n references', () => {
  it.each([
    ['M-3', 3],
    ['m-12', 12],
    ['#M-7', 7],
    ['M-123456789', 123456789],
    ['M-', null],
    ['M-1234567890', null],
    ['INC-3', null],
    ['M3', null],
    ['M-3x', null],
  ])('%s → %s', (raw, n) => {
    expect(parseMaintenanceRef(raw)).toBe(n);
  });

  it('round-trips', () => {
    for (const n of [1, 42, 999_999_999]) expect(parseMaintenanceRef(maintenanceRef(n))).toBe(n);
  });
});

describe('maintenance in the component roll-up', () => {
  it.each(
    MAINTENANCE_STATUSES.map((s): [MaintenanceStatus, ComponentStatus] => [s, s === 'in_progress' || s === 'verifying' ? 'under_maintenance' : 'operational']),
  )('a %s maintenance gives its components %s', (s, status) => {
    expect(componentStatusDuring(s)).toBe(status);
    expect(maintenanceContributions([{ status: s, componentIds: [1, 2] }])).toEqual(
      status === 'operational'
        ? []
        : [
            { componentId: 1, status },
            { componentId: 2, status },
          ],
    );
  });

  // Component 1 is under maintenance; what an open incident sets on it decides whether it shows.
  const cases: Array<[ComponentStatus, ComponentStatus]> = [
    ['operational', 'under_maintenance'],
    ['degraded_performance', 'degraded_performance'],
    ['partial_outage', 'partial_outage'],
    ['major_outage', 'major_outage'],
    ['under_maintenance', 'under_maintenance'],
  ];
  it.each(cases)('an incident setting %s on a component in maintenance rolls up to %s', (incident, shown) => {
    const m = rollUpWithMaintenance([{ componentId: 1, status: incident }], [{ status: 'in_progress', componentIds: [1] }]);
    expect(m.get(1)).toBe(shown);
  });

  it('leaves components alone before and after the work, and others always', () => {
    const m = rollUpWithMaintenance(
      [{ componentId: 3, status: 'degraded_performance' }],
      [
        { status: 'scheduled', componentIds: [1] },
        { status: 'completed', componentIds: [2] },
        { status: 'verifying', componentIds: [4] },
      ],
    );
    expect([m.get(1), m.get(2), m.get(3), m.get(4)]).toEqual([undefined, undefined, 'degraded_performance', 'under_maintenance']);
  });
});

describe('maintenance on the public API', () => {
  const cases: Array<[MaintenanceStatus, string, boolean, boolean]> = [
    ['scheduled', 'scheduled', true, false],
    ['in_progress', 'in_progress', false, true],
    ['verifying', 'verifying', false, true],
    ['completed', 'completed', false, false],
    ['cancelled', 'completed', false, false],
  ];
  it.each(cases)('%s is %s there; upcoming %s, active %s', (s, api, upcoming, active) => {
    expect(statuspageMaintenanceStatus(s)).toBe(api);
    expect(isUpcomingMaintenance(s)).toBe(upcoming);
    expect(isActiveMaintenance(s)).toBe(active);
  });
});
