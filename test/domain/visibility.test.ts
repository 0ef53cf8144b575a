import { describe, expect, it } from 'vitest';
import type { Role } from '../../src/domain/enums.js';
import { SitrepError } from '../../src/domain/errors.js';
import {
  SLACK_CHANNEL_NAME_MAX,
  checkCustomerFacing,
  maySee,
  privateChannelCandidate,
  privateChannelName,
  type Audience,
  type Confidential,
} from '../../src/domain/visibility.js';

const SLACK_NAME = /^[a-z0-9_-]+$/;

describe('the private channel name', () => {
  const cases: Array<[number, string, string]> = [
    [12, 'DB credentials leak', 'inc-12-db-credentials-leak'],
    [12, '  DB   credentials -- leak!!  ', 'inc-12-db-credentials-leak'],
    [3, 'Café façade naïve', 'inc-3-cafe-facade-naive'],
    [3, 'Login_Service: token/JWT leak (prod)', 'inc-3-login-service-token-jwt-leak-prod'],
    [7, '🔥🔥🔥', 'inc-7'],
    [7, '認証情報の漏洩', 'inc-7'],
    [7, '', 'inc-7'],
  ];
  it.each(cases)('INC-%s "%s" → %s', (id, title, name) => {
    expect(privateChannelCandidate(id, title)).toBe(name);
  });

  const long = 'Leaked credentials of the primary database cluster found in a public repository mirror on a third party site';
  const ids = [1, 12, 123456789];
  it.each(ids)('stays within Slack’s limits for INC-%s with a long title, on every attempt', (id) => {
    for (const attempt of [1, 2, 9, 10, 99, 100, 1000]) {
      const name = privateChannelCandidate(id, long, attempt);
      expect(name.length).toBeLessThanOrEqual(SLACK_CHANNEL_NAME_MAX);
      expect(name).toMatch(SLACK_NAME);
      expect(name.startsWith(`inc-${id}-`)).toBe(true);
      expect(name.endsWith('-')).toBe(false);
      expect(name.endsWith(attempt > 1 ? `-${attempt}` : 'leaked-credentials-of-the-primary-database-cluster-found-in')).toBe(true);
    }
  });

  it('takes a suffix on collision, the first one free', () => {
    const taken = new Set(['inc-12-db-credentials-leak', 'inc-12-db-credentials-leak-2']);
    expect(privateChannelName(12, 'DB credentials leak', (n) => taken.has(n))).toBe('inc-12-db-credentials-leak-3');
    expect(privateChannelName(12, 'DB credentials leak', () => false)).toBe('inc-12-db-credentials-leak');
  });

  it('gives up in one line when every try is taken', () => {
    let asked = 0;
    const e = (() => {
      try {
        privateChannelName(12, 'DB credentials leak', () => {
          asked++;
          return true;
        });
      } catch (err) {
        return err;
      }
      return null;
    })();
    expect(e).toBeInstanceOf(SitrepError);
    expect((e as SitrepError).message).toBe(
      'Slack channels inc-12-db-credentials-leak to inc-12-db-credentials-leak-100 are all taken; archive or rename one and declare again',
    );
    expect(asked).toBe(100);
  });
});

describe('need to know', () => {
  const roles = (over: Partial<Record<Role, string>> = {}): Record<Role, string | null> => ({
    lead: null,
    commander: null,
    comms: null,
    scribe: null,
    ...over,
  });
  const secret: Confidential = { visibility: 'private', roles: roles({ lead: 'slack:ULEAD', comms: 'cli:carol' }) };
  const open: Confidential = { visibility: 'public', roles: roles({ lead: 'slack:ULEAD' }) };
  const audience: Audience = { admins: ['cli:admin'], channelMembers: ['slack:UMEMBER', 'teams:29:member'] };

  const cases: Array<[string, Confidential, string, Audience, boolean]> = [
    ['anyone, a public incident', open, 'cli:stranger', audience, true],
    ['anyone, a public incident with no admins', open, 'cli:stranger', { admins: [], channelMembers: [] }, true],
    ['an admin', secret, 'cli:admin', audience, true],
    ['its lead', secret, 'slack:ULEAD', audience, true],
    ['another role holder (comms)', secret, 'cli:carol', audience, true],
    ['a member of its private channel', secret, 'slack:UMEMBER', audience, true],
    ['a member of the Teams private-incidents channel', secret, 'teams:29:member', audience, true],
    ['its declarer', { ...secret, declaredBy: 'cli:dave' }, 'cli:dave', audience, true],
    ['someone else', secret, 'cli:stranger', audience, false],
    ['someone else, when SITREP_ADMINS is empty', secret, 'cli:stranger', { admins: [], channelMembers: [] }, false],
    ['a near miss of a member’s ref', secret, 'slack:umember', audience, false],
    ['the lead of another incident', { visibility: 'private', roles: roles({ lead: 'cli:alice' }) }, 'slack:ULEAD', audience, false],
  ];
  it.each(cases)('%s: %s', (_name, incident, viewer, aud, sees) => {
    expect(maySee(incident, viewer, aud)).toBe(sees);
  });

  it('takes members as any iterable (a set from a cache)', () => {
    expect(maySee(secret, 'slack:UMEMBER', { admins: [], channelMembers: new Set(['slack:UMEMBER']) })).toBe(true);
  });
});

describe('customer-facing commands on a private incident', () => {
  it('passes a public incident', () => {
    expect(() => checkCustomerFacing('INC-4', { visibility: 'public' }, 'draft')).not.toThrow();
  });

  it.each(['draft', 'resolve', 'postmortem publish'])('refuses `%s` on a private one in one line', (command) => {
    expect(() => checkCustomerFacing('INC-12', { visibility: 'private' }, command)).toThrow(
      `INC-12 is private: nothing about it reaches customers, so \`${command}\` is refused (\`update\` and \`note\` keep its timeline)`,
    );
  });
});
