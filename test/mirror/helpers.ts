import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asc } from 'drizzle-orm';
import { outbox } from '../../db/schema.js';
import { loadConfig } from '../../src/config.js';
import { createApp, startServer, type App, type AppOptions, type RunningServer } from '../../src/main.js';
import { createLogger } from '../../src/logger.js';
import { OutboxWorker, type WorkerOptions } from '../../src/mirror/worker.js';

export function tempDb(): string {
  return join(mkdtempSync(join(tmpdir(), 'sitrep-mirror-')), 'sitrep.db');
}

/** A clock that runs with real time but can be pushed forward (delay notices, deadlines). */
export function movableClock() {
  const c = { offset: 0, now: () => Date.now() + c.offset, advance: (ms: number) => void (c.offset += ms) };
  return c;
}

export const FAST: Partial<WorkerOptions> = {
  pollMs: 25,
  attemptTimeoutMs: 1_500,
  backoff: { baseMs: 40, maxMs: 200, jitter: 0.5 },
  breaker: { threshold: 50, cooldownMs: 200, maxCooldownMs: 400 },
};

export interface Harness {
  app: App;
  worker: OutboxWorker;
  server: RunningServer;
  run(text: string, actor?: string): Promise<any>;
  fail(text: string, actor?: string): Promise<{ code: string; message: string }>;
  rows(): Array<typeof outbox.$inferSelect>;
  close(): Promise<void>;
}

export async function startHarness(
  env: Record<string, string> = {},
  opts: { now?: () => number; tune?: Partial<WorkerOptions>; targets?: AppOptions['targets'] } = {},
): Promise<Harness> {
  const config = loadConfig({ SITREP_DB: tempDb(), LOG_LEVEL: 'silent', SITREP_APPROVAL: 'off', USER: 'admin', ...env });
  const app = createApp(config, { log: createLogger('silent'), ...(opts.now ? { now: opts.now } : {}), ...(opts.targets ? { targets: opts.targets } : {}) });
  const worker = app.background.find((b): b is OutboxWorker => b instanceof OutboxWorker);
  if (!worker) throw new Error('mirroring is not wired: no OutboxWorker in app.background');
  worker.tune({ ...FAST, ...opts.tune });
  const server = await startServer(app, 0, '127.0.0.1');
  return {
    app,
    worker,
    server,
    async run(text, actor = 'cli:admin') {
      const r = await app.run(text, actor, { platform: 'cli' });
      if (!r.ok) throw new Error(`${text} → ${r.error.code}: ${r.error.message}`);
      return r.reply;
    },
    async fail(text, actor = 'cli:admin') {
      const r = await app.run(text, actor, { platform: 'cli' });
      if (r.ok) throw new Error(`${text} unexpectedly succeeded: ${r.reply.text}`);
      return r.error;
    },
    rows: () => app.db.select().from(outbox).orderBy(asc(outbox.id)).all(),
    async close() {
      await server.close();
      await app.close();
    },
  };
}

export async function waitUntil(pred: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
