import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createApp, startServer, type App, type RunningServer } from '../../src/main.js';

// POST /api/messages is always served; with MICROSOFT_APP_ID unset, start-up says that inbound
// auth is off (and only start-up: the CLI, which never starts the server, stays quiet).

let running: RunningServer | undefined;
let app: App | undefined;
afterEach(async () => {
  await running?.close();
  await app?.close();
  running = app = undefined;
});

function boot(env: Record<string, string>) {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  app = createApp(loadConfig({ SITREP_DB: ':memory:', LOG_LEVEL: 'warn', USER: 'tester', ...env }), { log: pino({ level: 'warn' }, sink) });
  return { app, lines };
}

describe('Teams start-up', () => {
  it('auth off: warns once the server starts, not before', async () => {
    const { app, lines } = boot({});
    expect(lines.join('')).not.toContain('MICROSOFT_APP_ID');
    running = await startServer(app, 0, '127.0.0.1');
    expect(lines.join('')).toContain('MICROSOFT_APP_ID is not set');
    const res = await fetch(`${running.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(400); // served, and the body is checked
  });

  it('auth on: no warning, and the route is served (401 without a token)', async () => {
    const { app, lines } = boot({ MICROSOFT_APP_ID: 'app-id', MICROSOFT_APP_PASSWORD: 'pw', MICROSOFT_APP_TENANT_ID: 'tenant' });
    running = await startServer(app, 0, '127.0.0.1');
    expect(lines.join('')).not.toContain('MICROSOFT_APP_ID is not set');
    const res = await fetch(`${running.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(401);
  });
});
