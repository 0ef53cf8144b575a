import { APPROVAL_POLICIES } from './domain/enums.js';

// The only module that reads the environment. Everything else receives a Config.
//
// Each variable is read by a small function that returns its value or throws ConfigError with one
// line naming it; they run in the order below, so the first bad variable is the one reported.
// (Plain functions, not a schema library: every CLI command reads the configuration, and loading a
// validation library costs more than the whole read `sitrep list` does.)

function isValidZone(zone: string): boolean {
  // Building the first Intl.DateTimeFormat loads the time-zone data (about 15 ms, paid by every CLI
  // command at start-up); the list of canonical zones answers the usual cases without it.
  if (zone === 'UTC' || Intl.supportedValuesOf('timeZone').includes(zone)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

type Env = Record<string, string | undefined>;

function invalid(message: string): never {
  throw new ConfigError(`invalid configuration: ${message}`);
}

/** The variable as given (the environment holds strings; anything else is refused). */
function raw(env: Env, name: string): string | undefined {
  const v: unknown = env[name];
  if (v === undefined || typeof v === 'string') return v;
  return invalid(`${name}: Invalid input: expected string, received ${v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v}`);
}

/** The variable trimmed, or undefined when it is unset or blank. */
function optionalString(env: Env, name: string): string | undefined {
  const v = raw(env, name);
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

/** Exactly one of `values` (after trimming), or undefined when unset or blank. */
function oneOf<const T extends readonly string[]>(env: Env, name: string, values: T, message: string): T[number] | undefined {
  const v = optionalString(env, name);
  if (v === undefined) return undefined;
  if (!(values as readonly string[]).includes(v)) invalid(message);
  return v as T[number];
}

function bool(env: Env, name: string, def: boolean): boolean {
  const v = raw(env, name);
  if (v === undefined || v === '') return def;
  const s = v.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(s)) return true;
  if (['0', 'false', 'no', 'off'].includes(s)) return false;
  return invalid(`${name} must be true or false`);
}

function positiveInt(env: Env, name: string, def: number, max = 1_000_000, min = 1): number {
  const v = raw(env, name);
  if (v === undefined || v === '') return def;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) invalid(`${name} must be a whole number from ${min} to ${max}`);
  return Number(v);
}

function url(env: Env, name: string): string | undefined {
  const v = optionalString(env, name);
  if (v === undefined) return undefined;
  let ok: boolean;
  try {
    const u = new URL(v);
    ok = u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    ok = false;
  }
  if (!ok) invalid(`${name} must be an http(s) URL, e.g. https://status.example.com`);
  return v;
}

/**
 * A PostgreSQL connection URL. The message never repeats the value: it may hold a password.
 */
function databaseUrl(env: Env): string | undefined {
  const name = 'SITREP_DATABASE_URL';
  const v = optionalString(env, name);
  if (v === undefined) return undefined;
  let ok: boolean;
  try {
    const u = new URL(v);
    ok = (u.protocol === 'postgres:' || u.protocol === 'postgresql:') && u.hostname !== '';
  } catch {
    ok = false;
  }
  if (!ok) invalid(`${name} must be a postgres:// URL with a host, e.g. postgres://sitrep@db.internal:5432/sitrep`);
  return v;
}

function admins(env: Env): string[] {
  const v = optionalString(env, 'SITREP_ADMINS');
  if (!v) return [];
  const refs = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const r of refs) {
    if (!/^(slack|teams|cli):.+$/.test(r)) invalid(`SITREP_ADMINS must be comma-separated user refs like slack:U123,cli:alice (got "${r}")`);
  }
  return refs;
}

/** `sev1=30,sev2=60`: minutes without a published customer update, per severity. */
function cadence(env: Env): Record<number, number> {
  const v = optionalString(env, 'SITREP_UPDATE_CADENCE') ?? 'sev1=30,sev2=60';
  const out: Record<number, number> = {};
  if (v.trim() === '' || v.trim() === 'off') return out;
  for (const part of v.split(',')) {
    const m = /^\s*sev([1-4])\s*=\s*(\d{1,5})\s*$/.exec(part);
    if (!m || Number(m[2]) < 1) invalid('SITREP_UPDATE_CADENCE must be minutes per severity, e.g. sev1=30,sev2=60 (or off)');
    out[Number(m[1])] = Number(m[2]);
  }
  return out;
}

const APP_TYPES = ['SingleTenant', 'MultiTenant', 'UserAssignedMSI'] as const;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Every variable read and checked, in this order (the first bad one is reported). */
function readEnv(env: Env) {
  const timezone = (e: Env) => {
    const zone = optionalString(e, 'SITREP_TIMEZONE') ?? 'UTC';
    if (!isValidZone(zone)) invalid('SITREP_TIMEZONE must be an IANA time zone, e.g. America/Los_Angeles');
    return zone;
  };
  const slackApiUrl = (e: Env) => {
    const base = url(e, 'SLACK_API_URL') ?? 'https://slack.com/api/';
    return base.endsWith('/') ? base : base + '/';
  };
  return {
    // 0 asks the system for a free port (tests, side-by-side runs).
    PORT: positiveInt(env, 'PORT', 3000, 65535, 0),
    SITREP_DB: optionalString(env, 'SITREP_DB') ?? './data/sitrep.db',
    SITREP_DATABASE_URL: databaseUrl(env),
    SITREP_TIMEZONE: timezone(env),
    SITREP_ORG_NAME: optionalString(env, 'SITREP_ORG_NAME') ?? 'Sitrep',
    SITREP_PUBLIC_URL: url(env, 'SITREP_PUBLIC_URL'),
    SLACK_SIGNING_SECRET: optionalString(env, 'SLACK_SIGNING_SECRET'),
    SLACK_BOT_TOKEN: optionalString(env, 'SLACK_BOT_TOKEN'),
    SLACK_APP_TOKEN: optionalString(env, 'SLACK_APP_TOKEN'),
    SLACK_API_URL: slackApiUrl(env),
    SLACK_INCIDENTS_CHANNEL: optionalString(env, 'SLACK_INCIDENTS_CHANNEL'),
    MICROSOFT_APP_ID: optionalString(env, 'MICROSOFT_APP_ID'),
    MICROSOFT_APP_PASSWORD: optionalString(env, 'MICROSOFT_APP_PASSWORD'),
    MICROSOFT_APP_TENANT_ID: optionalString(env, 'MICROSOFT_APP_TENANT_ID'),
    MICROSOFT_APP_TYPE: oneOf(env, 'MICROSOFT_APP_TYPE', APP_TYPES, 'MICROSOFT_APP_TYPE must be SingleTenant, MultiTenant or UserAssignedMSI'),
    STATUSPAGE_API_KEY: optionalString(env, 'STATUSPAGE_API_KEY'),
    STATUSPAGE_PAGE_ID: optionalString(env, 'STATUSPAGE_PAGE_ID'),
    // Atlassian allows one request a second per API key; a page on a plan with a higher limit (or a
    // local stand-in) may say so. Sitrep paces to this instead of learning it from 429s.
    STATUSPAGE_REQUESTS_PER_SECOND: positiveInt(env, 'STATUSPAGE_REQUESTS_PER_SECOND', 1, 1_000),
    STATUSPAGE_API_URL: (url(env, 'STATUSPAGE_API_URL') ?? 'https://api.statuspage.io/v1').replace(/\/+$/, ''),
    PAGERDUTY_ROUTING_KEY: optionalString(env, 'PAGERDUTY_ROUTING_KEY'),
    PAGERDUTY_EVENTS_URL: url(env, 'PAGERDUTY_EVENTS_URL') ?? 'https://events.pagerduty.com/v2/enqueue',
    SITREP_PAGE_SEVERITY: positiveInt(env, 'SITREP_PAGE_SEVERITY', 1, 4),
    SITREP_APPROVAL: oneOf(env, 'SITREP_APPROVAL', APPROVAL_POLICIES, 'SITREP_APPROVAL must be required, self or off'),
    SITREP_WEBHOOK_PUBLIC_ONLY: bool(env, 'SITREP_WEBHOOK_PUBLIC_ONLY', false),
    SITREP_WEBHOOK_ALLOW_LINK_LOCAL: bool(env, 'SITREP_WEBHOOK_ALLOW_LINK_LOCAL', false),
    SITREP_ADMINS: admins(env),
    SITREP_DELAY_NOTICE_MINUTES: positiveInt(env, 'SITREP_DELAY_NOTICE_MINUTES', 5, 10_000),
    SITREP_NUDGE_MINUTES: positiveInt(env, 'SITREP_NUDGE_MINUTES', 10, 10_000),
    SITREP_UPDATE_CADENCE: cadence(env),
    SITREP_MONITORING_NUDGE_HOURS: positiveInt(env, 'SITREP_MONITORING_NUDGE_HOURS', 4, 10_000),
    SITREP_DELIVERY_DEADLINE_MINUTES: positiveInt(env, 'SITREP_DELIVERY_DEADLINE_MINUTES', 60, 100_000),
    SITREP_DELIVERY_TIMEOUT_SECONDS: positiveInt(env, 'SITREP_DELIVERY_TIMEOUT_SECONDS', 30, 600),
    SITREP_OUTBOX_RETENTION_DAYS: positiveInt(env, 'SITREP_OUTBOX_RETENTION_DAYS', 30, 36_500),
    LOG_LEVEL: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent'),
    USER: optionalString(env, 'USER'),
  };
}

export interface Config {
  port: number;
  dbFile: string;
  /** PostgreSQL instead of SQLite (SITREP_DATABASE_URL); it may hold a password: never log it whole. */
  databaseUrl?: string;
  timezone: string;
  orgName: string;
  publicUrl: string;
  slack: {
    signingSecret?: string;
    botToken?: string;
    appToken?: string;
    apiUrl: string;
    incidentsChannel?: string;
    enabled: boolean;
    socketMode: boolean;
  };
  teams: { appId?: string; appPassword?: string; tenantId?: string; appType: 'SingleTenant' | 'MultiTenant' | 'UserAssignedMSI' };
  statuspage: { apiKey?: string; pageId?: string; apiUrl: string; enabled: boolean; requestsPerSecond: number };
  /** PagerDuty Events API v2: paging is on when a routing key is set; declaring at `pageSeverity` or worse pages at once. */
  pagerDuty: { routingKey?: string; eventsUrl: string; pageSeverity: number };
  approval: (typeof APPROVAL_POLICIES)[number];
  webhookPublicOnly: boolean;
  webhookAllowLinkLocal: boolean;
  admins: string[];
  delayNoticeMinutes: number;
  nudgeMinutes: number;
  /** Minutes an open incident of each severity may go without a published customer update (absent: no reminder). */
  updateCadenceMinutes: Readonly<Record<number, number>>;
  /** Hours an incident may stay in monitoring before its thread is nudged to resolve. */
  monitoringNudgeHours: number;
  deliveryDeadlineMinutes: number;
  /** One delivery attempt's budget (a webhook answering later than this is retried). */
  deliveryTimeoutSeconds: number;
  /** Delivered outbox rows older than this many days are pruned (dead letters are kept). */
  outboxRetentionDays: number;
  logLevel: string;
  user: string;
}

export class ConfigError extends Error {}

/** Validates the environment; throws ConfigError with one line naming the variable. */
/** The process's own configuration: loadConfig over its environment (the one place that reads it). */
export function loadProcessConfig(): Config {
  return loadConfig(process.env);
}

export function loadConfig(env: Record<string, string | undefined>): Config {
  const e = readEnv(env);
  const slackEnabled = Boolean(e.SLACK_SIGNING_SECRET && e.SLACK_BOT_TOKEN);
  return {
    port: e.PORT,
    dbFile: e.SITREP_DB,
    ...(e.SITREP_DATABASE_URL ? { databaseUrl: e.SITREP_DATABASE_URL } : {}),
    timezone: e.SITREP_TIMEZONE,
    orgName: e.SITREP_ORG_NAME,
    publicUrl: (e.SITREP_PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ''),
    slack: {
      signingSecret: e.SLACK_SIGNING_SECRET,
      botToken: e.SLACK_BOT_TOKEN,
      appToken: e.SLACK_APP_TOKEN,
      apiUrl: e.SLACK_API_URL,
      incidentsChannel: e.SLACK_INCIDENTS_CHANNEL,
      enabled: slackEnabled,
      socketMode: slackEnabled && Boolean(e.SLACK_APP_TOKEN),
    },
    teams: {
      appId: e.MICROSOFT_APP_ID,
      appPassword: e.MICROSOFT_APP_PASSWORD,
      tenantId: e.MICROSOFT_APP_TENANT_ID,
      appType: e.MICROSOFT_APP_TYPE ?? 'SingleTenant',
    },
    statuspage: {
      apiKey: e.STATUSPAGE_API_KEY,
      pageId: e.STATUSPAGE_PAGE_ID,
      apiUrl: e.STATUSPAGE_API_URL,
      requestsPerSecond: e.STATUSPAGE_REQUESTS_PER_SECOND,
      enabled: Boolean(e.STATUSPAGE_API_KEY && e.STATUSPAGE_PAGE_ID),
    },
    pagerDuty: { routingKey: e.PAGERDUTY_ROUTING_KEY, eventsUrl: e.PAGERDUTY_EVENTS_URL, pageSeverity: e.SITREP_PAGE_SEVERITY },
    approval: e.SITREP_APPROVAL ?? 'required',
    webhookPublicOnly: e.SITREP_WEBHOOK_PUBLIC_ONLY,
    webhookAllowLinkLocal: e.SITREP_WEBHOOK_ALLOW_LINK_LOCAL,
    admins: e.SITREP_ADMINS,
    delayNoticeMinutes: e.SITREP_DELAY_NOTICE_MINUTES,
    nudgeMinutes: e.SITREP_NUDGE_MINUTES,
    updateCadenceMinutes: e.SITREP_UPDATE_CADENCE,
    monitoringNudgeHours: e.SITREP_MONITORING_NUDGE_HOURS,
    deliveryDeadlineMinutes: e.SITREP_DELIVERY_DEADLINE_MINUTES,
    deliveryTimeoutSeconds: e.SITREP_DELIVERY_TIMEOUT_SECONDS,
    outboxRetentionDays: e.SITREP_OUTBOX_RETENTION_DAYS,
    logLevel: e.LOG_LEVEL ?? 'info',
    user: e.USER ?? 'local',
  };
}
