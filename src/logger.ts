import { createRequire } from 'node:module';
import type { Logger } from 'pino';

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

// pino (and the dozen packages it brings) is required when a logger is made, not when this module
// is imported: a CLI command makes its logger lazily and usually never logs (createLazyLogger).
const require = createRequire(import.meta.url);

export function createLogger(level: string, destination: 'stdout' | 'stderr' = 'stderr'): Logger {
  const { pino } = require('pino') as typeof import('pino');
  return pino(
    { level, base: { app: 'sitrep' }, redact: { paths: REDACT, censor: '[redacted]' } },
    pino.destination({ fd: destination === 'stdout' ? 1 : 2, sync: true }),
  );
}

/**
 * The same logger as createLogger's, made on first use: a process that never touches it (a CLI
 * command that succeeds) never loads pino. Any use at all (a level check, a child, a log call)
 * makes the real logger and is answered by it, so what is written is exactly what it would write.
 */
export function createLazyLogger(level: string, destination: 'stdout' | 'stderr' = 'stderr'): Logger {
  let real: Logger | undefined;
  const logger = () => (real ??= createLogger(level, destination));
  return new Proxy({} as Logger, {
    get(_target, prop) {
      const r = logger();
      const v: unknown = Reflect.get(r, prop, r);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(r) : v;
    },
    set: (_target, prop, value) => Reflect.set(logger(), prop, value),
    has: (_target, prop) => Reflect.has(logger(), prop),
  });
}
