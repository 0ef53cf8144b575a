import { pino, type Logger } from 'pino';

export type { Logger };

// Secrets never reach the log: these paths are redacted wherever they appear in a log object.
const REDACT = [
  'token',
  'secret',
  'password',
  'authorization',
  '*.token',
  '*.secret',
  '*.password',
  '*.authorization',
  'headers.authorization',
  'headers["x-slack-signature"]',
  'config.slack.signingSecret',
  'config.slack.botToken',
  'config.slack.appToken',
  'config.teams.appPassword',
  'config.statuspage.apiKey',
];

export function createLogger(level: string, destination: 'stdout' | 'stderr' = 'stderr'): Logger {
  return pino(
    { level, base: { app: 'sitrep' }, redact: { paths: REDACT, censor: '[redacted]' } },
    pino.destination({ fd: destination === 'stdout' ? 1 : 2, sync: true }),
  );
}
