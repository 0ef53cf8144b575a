import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { testApp, tempDbFile } from '../helpers.js';
import { startServer, type RunningServer } from '../../src/main.js';

const BIN = new URL('../../dist/src/bin.js', import.meta.url).pathname;
const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
let running: RunningServer | null = null;
afterEach(async () => {
  await running?.close();
  running = null;
});

describe('HTTP server in local mode', () => {
  it('answers /healthz and /metrics', async () => {
    const app = testApp();
    await app.run('declare "DB down"', 'cli:alice', { platform: 'cli' });
    running = await startServer(app, 0, '127.0.0.1');
    const h = await fetch(`${running.url}/healthz`);
    expect(h.status).toBe(200);
    expect(await h.json()).toEqual({ ok: true, version: PACKAGE_VERSION });
    const m = await (await fetch(`${running.url}/metrics`)).text();
    expect(m).toContain('sitrep_incidents_open{severity="3"} 1');
    expect((await fetch(`${running.url}/nope`)).status).toBe(404);
  });

  it('`npm start` prints how to reach the console and the status page; a bad variable stops it with one line', async () => {
    const start = (env: Record<string, string>) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, [BIN, 'serve'], { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', ...env } });
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => {
          out += d;
          if (out.includes('console:')) child.kill('SIGTERM');
        });
        child.stderr.on('data', (d) => (err += d));
        child.on('exit', (code) => resolve({ code, out, err }));
      });
    const ok = await start({ PORT: '0', SITREP_DB: tempDbFile() });
    expect(ok.out).toContain('local mode');
    expect(ok.out).toMatch(/status page: +http:\/\/localhost:\d+\//);
    expect(ok.out).toContain('npx sitrep console');
    const bad = await start({ PORT: 'abc', SITREP_DB: tempDbFile() });
    expect(bad.code).toBe(1);
    expect(bad.err.trim()).toBe('invalid configuration: PORT must be a whole number from 0 to 65535');
  });
});

describe('router', () => {
  it('answers a malformed path escape with 404, not a crash', async () => {
    const app = testApp();
    running = await startServer(app, 0, '127.0.0.1');
    expect((await fetch(`${running.url}/incidents/%E0%A4%A`)).status).toBe(404);
    expect((await fetch(`${running.url}/healthz`, { method: 'DELETE' })).status).toBe(405);
  });
});

describe('processed platform events', () => {
  it('are forgotten after a day, for every platform, when the server starts', async () => {
    const { processedEvents } = await import('../../db/schema.js');
    const now = Date.parse('2026-01-02T00:00:00Z');
    const app = testApp({}, () => now);
    const day = 24 * 60 * 60_000;
    app.db
      .insert(processedEvents)
      .values([
        { platform: 'slack', eventId: 'old', at: now - day - 1 },
        { platform: 'teams', eventId: 'old', at: now - day - 1 },
        { platform: 'slack', eventId: 'recent', at: now - 60_000 },
      ])
      .run();
    running = await startServer(app, 0, '127.0.0.1');
    expect(
      app.db
        .select()
        .from(processedEvents)
        .all()
        .map((r) => `${r.platform}:${r.eventId}`),
    ).toEqual(['slack:recent']);
  });
});
