import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

describe('configuration', () => {
  it('has the contract defaults', () => {
    const c = loadConfig({});
    expect(c.port).toBe(3000);
    expect(c.dbFile).toBe('./data/sitrep.db');
    expect(c.timezone).toBe('UTC');
    expect(c.orgName).toBe('Sitrep');
    expect(c.publicUrl).toBe('http://localhost:3000');
    expect(c.slack.apiUrl).toBe('https://slack.com/api/');
    expect(c.statuspage.apiUrl).toBe('https://api.statuspage.io/v1');
    expect(c.approval).toBe('required');
    expect(c.webhookPublicOnly).toBe(false);
    expect(c.teams.appType).toBe('SingleTenant');
    expect(c.slack.enabled).toBe(false);
    expect(c.statuspage.requestsPerSecond).toBe(1);
  });
  const bad: Array<[Record<string, string>, string]> = [
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ SITREP_TIMEZONE: 'Mars/Base' }, 'SITREP_TIMEZONE'],
    [{ SITREP_APPROVAL: 'maybe' }, 'SITREP_APPROVAL'],
    [{ SITREP_WEBHOOK_PUBLIC_ONLY: 'perhaps' }, 'SITREP_WEBHOOK_PUBLIC_ONLY'],
    [{ SITREP_ADMINS: 'alice' }, 'SITREP_ADMINS'],
    [{ SLACK_API_URL: 'ftp://x' }, 'SLACK_API_URL'],
    [{ MICROSOFT_APP_TYPE: 'Whatever' }, 'MICROSOFT_APP_TYPE'],
    [{ STATUSPAGE_REQUESTS_PER_SECOND: '0' }, 'STATUSPAGE_REQUESTS_PER_SECOND'],
    [{ SITREP_OUTBOX_RETENTION_DAYS: 'forever' }, 'SITREP_OUTBOX_RETENTION_DAYS'],
  ];
  it.each(bad)('refuses %j naming the variable in one line', (env, name) => {
    expect(() => loadConfig(env)).toThrow(new RegExp(`^invalid configuration: ${name}`));
    try {
      loadConfig(env);
    } catch (e) {
      expect((e as Error).message).not.toContain('\n');
    }
  });
  it('enables Slack only with both secrets, Socket Mode with the app token', () => {
    expect(loadConfig({ SLACK_SIGNING_SECRET: 's' }).slack.enabled).toBe(false);
    const c = loadConfig({ SLACK_SIGNING_SECRET: 's', SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' });
    expect(c.slack.enabled).toBe(true);
    expect(c.slack.socketMode).toBe(true);
    expect(loadConfig({ SITREP_ADMINS: 'slack:U1, cli:alice' }).admins).toEqual(['slack:U1', 'cli:alice']);
  });
});
