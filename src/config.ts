import { z } from 'zod';
import { APPROVAL_POLICIES } from './domain/enums.js';

// The only module that reads the environment. Everything else receives a Config.

function isValidZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const bool = (name: string, def: boolean) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return def;
      const s = v.toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(s)) return true;
      if (['0', 'false', 'no', 'off'].includes(s)) return false;
      ctx.addIssue({ code: 'custom', message: `${name} must be true or false` });
      return z.NEVER;
    });

const positiveInt = (name: string, def: number, max = 1_000_000, min = 1) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return def;
      if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
        ctx.addIssue({ code: 'custom', message: `${name} must be a whole number from ${min} to ${max}` });
        return z.NEVER;
      }
      return Number(v);
    });

const url = (name: string) =>
  optionalString.refine(
    (v) => {
      if (v === undefined) return true;
      try {
        const u = new URL(v);
        return u.protocol === 'http:' || u.protocol === 'https:';
      } catch {
        return false;
      }
    },
    { message: `${name} must be an http(s) URL, e.g. https://status.example.com` },
  );

export const envSchema = z.object({
  // 0 asks the system for a free port (tests, side-by-side runs).
  PORT: positiveInt('PORT', 3000, 65535, 0),
  SITREP_DB: optionalString.transform((v) => v ?? './data/sitrep.db'),
  SITREP_TIMEZONE: optionalString
    .transform((v) => v ?? 'UTC')
    .refine(isValidZone, { message: 'SITREP_TIMEZONE must be an IANA time zone, e.g. America/Los_Angeles' }),
  SITREP_ORG_NAME: optionalString.transform((v) => v ?? 'Sitrep'),
  SITREP_PUBLIC_URL: url('SITREP_PUBLIC_URL'),
  SLACK_SIGNING_SECRET: optionalString,
  SLACK_BOT_TOKEN: optionalString,
  SLACK_APP_TOKEN: optionalString,
  SLACK_API_URL: url('SLACK_API_URL').transform((v) => {
    const base = v ?? 'https://slack.com/api/';
    return base.endsWith('/') ? base : base + '/';
  }),
  SLACK_INCIDENTS_CHANNEL: optionalString,
  MICROSOFT_APP_ID: optionalString,
  MICROSOFT_APP_PASSWORD: optionalString,
  MICROSOFT_APP_TENANT_ID: optionalString,
  MICROSOFT_APP_TYPE: optionalString.pipe(
    z
      .enum(['SingleTenant', 'MultiTenant', 'UserAssignedMSI'], {
        message: 'MICROSOFT_APP_TYPE must be SingleTenant, MultiTenant or UserAssignedMSI',
      })
      .optional(),
  ),
  STATUSPAGE_API_KEY: optionalString,
  STATUSPAGE_PAGE_ID: optionalString,
  // Atlassian allows one request a second per API key; a page on a plan with a higher limit (or a
  // local stand-in) may say so. Sitrep paces to this instead of learning it from 429s.
  STATUSPAGE_REQUESTS_PER_SECOND: positiveInt('STATUSPAGE_REQUESTS_PER_SECOND', 1, 1_000),
  STATUSPAGE_API_URL: url('STATUSPAGE_API_URL').transform((v) => (v ?? 'https://api.statuspage.io/v1').replace(/\/+$/, '')),
  SITREP_APPROVAL: optionalString.pipe(
    z.enum(APPROVAL_POLICIES, { message: 'SITREP_APPROVAL must be required, self or off' }).optional(),
  ),
  SITREP_WEBHOOK_PUBLIC_ONLY: bool('SITREP_WEBHOOK_PUBLIC_ONLY', false),
  SITREP_WEBHOOK_ALLOW_LINK_LOCAL: bool('SITREP_WEBHOOK_ALLOW_LINK_LOCAL', false),
  SITREP_ADMINS: optionalString.transform((v, ctx) => {
    if (!v) return [] as string[];
    const refs = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const r of refs) {
      if (!/^(slack|teams|cli):.+$/.test(r)) {
        ctx.addIssue({ code: 'custom', message: `SITREP_ADMINS must be comma-separated user refs like slack:U123,cli:alice (got "${r}")` });
        return z.NEVER;
      }
    }
    return refs;
  }),
  SITREP_DELAY_NOTICE_MINUTES: positiveInt('SITREP_DELAY_NOTICE_MINUTES', 5, 10_000),
  SITREP_NUDGE_MINUTES: positiveInt('SITREP_NUDGE_MINUTES', 10, 10_000),
  SITREP_DELIVERY_DEADLINE_MINUTES: positiveInt('SITREP_DELIVERY_DEADLINE_MINUTES', 60, 100_000),
  SITREP_DELIVERY_TIMEOUT_SECONDS: positiveInt('SITREP_DELIVERY_TIMEOUT_SECONDS', 30, 600),
  SITREP_OUTBOX_RETENTION_DAYS: positiveInt('SITREP_OUTBOX_RETENTION_DAYS', 30, 36_500),
  LOG_LEVEL: optionalString.pipe(
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
    }).optional(),
  ),
  USER: optionalString,
});

export interface Config {
  port: number;
  dbFile: string;
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
  approval: (typeof APPROVAL_POLICIES)[number];
  webhookPublicOnly: boolean;
  webhookAllowLinkLocal: boolean;
  admins: string[];
  delayNoticeMinutes: number;
  nudgeMinutes: number;
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
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    const msg = issue.message.startsWith(name) ? issue.message : `${name}: ${issue.message}`;
    throw new ConfigError(`invalid configuration: ${msg}`);
  }
  const e = parsed.data;
  const slackEnabled = Boolean(e.SLACK_SIGNING_SECRET && e.SLACK_BOT_TOKEN);
  return {
    port: e.PORT,
    dbFile: e.SITREP_DB,
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
    approval: e.SITREP_APPROVAL ?? 'required',
    webhookPublicOnly: e.SITREP_WEBHOOK_PUBLIC_ONLY,
    webhookAllowLinkLocal: e.SITREP_WEBHOOK_ALLOW_LINK_LOCAL,
    admins: e.SITREP_ADMINS,
    delayNoticeMinutes: e.SITREP_DELAY_NOTICE_MINUTES,
    nudgeMinutes: e.SITREP_NUDGE_MINUTES,
    deliveryDeadlineMinutes: e.SITREP_DELIVERY_DEADLINE_MINUTES,
    deliveryTimeoutSeconds: e.SITREP_DELIVERY_TIMEOUT_SECONDS,
    outboxRetentionDays: e.SITREP_OUTBOX_RETENTION_DAYS,
    logLevel: e.LOG_LEVEL ?? 'info',
    user: e.USER ?? 'local',
  };
}
