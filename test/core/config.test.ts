import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('configuration', () => {
  it('has the contract defaults', async () => {
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
    [{ SITREP_DATABASE_URL: 'mysql://db/sitrep' }, 'SITREP_DATABASE_URL'],
    [{ SITREP_DATABASE_URL: 'not a url' }, 'SITREP_DATABASE_URL'],
  ];
  it.each(bad)('refuses %j naming the variable in one line', (env, name) => {
    expect(() => loadConfig(env)).toThrow(new RegExp(`^invalid configuration: ${name}`));
    try {
      loadConfig(env);
    } catch (e) {
      expect((e as Error).message).not.toContain('\n');
    }
  });
  // Exact messages, as the environment schema gave them: the first bad variable in the order the
  // Config lists them (not the order of the environment), one line each.
  const exact: Array<[Record<string, string>, string]> = [
    [{ PORT: ' 80' }, 'PORT must be a whole number from 0 to 65535'],
    [{ SITREP_NUDGE_MINUTES: 'x', PORT: 'abc' }, 'PORT must be a whole number from 0 to 65535'],
    [{ LOG_LEVEL: 'loud', SITREP_TIMEZONE: 'Mars/Base' }, 'SITREP_TIMEZONE must be an IANA time zone, e.g. America/Los_Angeles'],
    [{ MICROSOFT_APP_TYPE: 'singletenant' }, 'MICROSOFT_APP_TYPE must be SingleTenant, MultiTenant or UserAssignedMSI'],
    [{ LOG_LEVEL: 'INFO' }, 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent'],
    [{ SITREP_ADMINS: 'slack:U1,bob' }, 'SITREP_ADMINS must be comma-separated user refs like slack:U123,cli:alice (got "bob")'],
    [{ SITREP_WEBHOOK_PUBLIC_ONLY: ' true' }, 'SITREP_WEBHOOK_PUBLIC_ONLY must be true or false'],
    [{ SITREP_PUBLIC_URL: 'javascript:alert(1)' }, 'SITREP_PUBLIC_URL must be an http(s) URL, e.g. https://status.example.com'],
  ];
  it.each(exact)('refuses %j with the message %j', (env, message) => {
    expect(() => loadConfig(env)).toThrow(new ConfigError(`invalid configuration: ${message}`));
  });
  it.each(['UTC', 'America/Los_Angeles', 'Asia/Calcutta', 'US/Pacific', 'Etc/GMT+5'])(
    'accepts the time zone %s (canonical names and the aliases the tz database keeps)',
    (zone) => {
      expect(loadConfig({ SITREP_TIMEZONE: zone }).timezone).toBe(zone);
    },
  );
  it('trims text values, treats blank as unset, and normalises URLs', async () => {
    const c = loadConfig({
      SITREP_TIMEZONE: ' Europe/Berlin ',
      SLACK_API_URL: 'http://127.0.0.1:9/api',
      STATUSPAGE_API_URL: 'http://x/v1///',
      SITREP_PUBLIC_URL: ' https://a.b/// ',
      SITREP_WEBHOOK_PUBLIC_ONLY: 'YES',
      SITREP_APPROVAL: ' self ',
      SITREP_ADMINS: ' , ',
      USER: ' bob ',
      SITREP_DB: '  ',
    });
    expect(c).toMatchObject({
      timezone: 'Europe/Berlin',
      slack: { apiUrl: 'http://127.0.0.1:9/api/' },
      statuspage: { apiUrl: 'http://x/v1' },
      publicUrl: 'https://a.b',
      webhookPublicOnly: true,
      approval: 'self',
      admins: [],
      user: 'bob',
      dbFile: './data/sitrep.db',
    });
  });
  it('takes SITREP_DATABASE_URL as a postgres:// URL, and a bad one is refused without repeating its password', async () => {
    expect(loadConfig({}).databaseUrl).toBeUndefined();
    expect(loadConfig({ SITREP_DATABASE_URL: ' postgres://sitrep:pw@db.internal:5432/sitrep ' }).databaseUrl).toBe(
      'postgres://sitrep:pw@db.internal:5432/sitrep',
    );
    expect(loadConfig({ SITREP_DATABASE_URL: 'postgresql://db/sitrep' }).databaseUrl).toBe('postgresql://db/sitrep');
    const refused = () => loadConfig({ SITREP_DATABASE_URL: 'postgres://sitrep:hunter2@/sitrep' });
    expect(refused).toThrow(
      new ConfigError('invalid configuration: SITREP_DATABASE_URL must be a postgres:// URL with a host, e.g. postgres://sitrep@db.internal:5432/sitrep'),
    );
  });
  it('enables Slack only with both secrets, Socket Mode with the app token', async () => {
    expect(loadConfig({ SLACK_SIGNING_SECRET: 's' }).slack.enabled).toBe(false);
    const c = loadConfig({ SLACK_SIGNING_SECRET: 's', SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' });
    expect(c.slack.enabled).toBe(true);
    expect(c.slack.socketMode).toBe(true);
    expect(loadConfig({ SITREP_ADMINS: 'slack:U1, cli:alice' }).admins).toEqual(['slack:U1', 'cli:alice']);
  });
});
