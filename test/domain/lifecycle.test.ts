import { describe, expect, it } from 'vitest';
import { checkReopen, checkTransition, canTransition } from '../../src/domain/lifecycle.js';
import { overallIndicator, rollUp, slugify, worstStatus } from '../../src/domain/components.js';
import { checkApproval } from '../../src/domain/approval.js';
import type { IncidentStatus } from '../../src/domain/enums.js';

describe('lifecycle transition table', () => {
  const cases: Array<[IncidentStatus, IncidentStatus, boolean]> = [
    ['investigating', 'identified', true],
    ['investigating', 'resolved', true],
    ['investigating', 'monitoring', false],
    ['identified', 'monitoring', true],
    ['identified', 'resolved', true],
    ['identified', 'investigating', false],
    ['monitoring', 'resolved', true],
    ['monitoring', 'identified', false],
    ['resolved', 'investigating', false],
    ['resolved', 'monitoring', false],
  ];
  it.each(cases)('%s → %s allowed: %s', (from, to, ok) => {
    expect(canTransition(from, to)).toBe(ok);
  });

  it('explains an illegal step and what to type instead', async () => {
    expect(() => checkTransition('INC-4', 'resolved', 'resolved')).toThrow('INC-4 is already resolved; use `reopen INC-4`');
    expect(() => checkTransition('INC-4', 'resolved', 'identified')).toThrow(/reopen INC-4/);
    expect(() => checkTransition('INC-4', 'investigating', 'monitoring')).toThrow(/status:identified/);
    expect(checkTransition('INC-4', 'identified', 'identified')).toBe(false);
    expect(() => checkReopen('INC-2', 'monitoring')).toThrow(/still open/);
  });
});

describe('component roll-up', () => {
  it('takes the worst status any open incident set', async () => {
    const m = rollUp([
      { componentId: 1, status: 'degraded_performance' },
      { componentId: 1, status: 'major_outage' },
      { componentId: 2, status: 'under_maintenance' },
      { componentId: 2, status: 'operational' },
    ]);
    expect(m.get(1)).toBe('major_outage');
    expect(m.get(2)).toBe('under_maintenance');
    expect(worstStatus(['partial_outage', 'degraded_performance'])).toBe('partial_outage');
  });

  it('derives the overall indicator as Statuspage does', async () => {
    expect(overallIndicator(['operational'], [])).toBe('none');
    expect(overallIndicator(['degraded_performance'], [])).toBe('minor');
    expect(overallIndicator(['partial_outage'], ['minor'])).toBe('major');
    expect(overallIndicator(['major_outage'], [])).toBe('critical');
    expect(overallIndicator(['operational'], ['critical'])).toBe('critical');
  });

  it('slugs names', async () => {
    expect(slugify('SMS Routing')).toBe('sms-routing');
    expect(slugify('  Phone Call Routing!! ')).toBe('phone-call-routing');
    expect(slugify('Café API')).toBe('cafe-api');
    expect(slugify('!!!')).toBe('');
  });
});

describe('approval policy', () => {
  const base = { actor: 'cli:bob', author: 'cli:alice', approvers: ['cli:bob'], draftId: 'D-1' } as const;
  it('lets an approver approve someone else’s draft', async () => {
    expect(() => checkApproval({ ...base, policy: 'required' })).not.toThrow();
  });
  it('refuses non-approvers and, under required, the author', async () => {
    expect(() => checkApproval({ ...base, actor: 'cli:eve', policy: 'required' })).toThrow(/may not approve D-1/);
    expect(() => checkApproval({ ...base, actor: 'cli:bob', author: 'cli:bob', policy: 'required' })).toThrow(/two-person/);
    expect(() => checkApproval({ ...base, actor: 'cli:bob', author: 'cli:bob', policy: 'self' })).not.toThrow();
  });
  it('gives no approval power to anyone not listed, and says how to list someone when nobody is', async () => {
    expect(() => checkApproval({ ...base, actor: 'cli:lee', policy: 'self' })).toThrow(/only approvers may/);
    expect(() => checkApproval({ ...base, actor: 'cli:lee', approvers: [], policy: 'required' })).toThrow(/nobody is an approver yet.*approver add @user/);
  });
});
