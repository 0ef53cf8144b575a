import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type App, type RunningServer } from '../../src/main.js';
import { testApp } from '../helpers.js';
import { createTestDatabase, postgresUnavailable, sayPostgresSkipped, type TestPostgres } from '../support/postgres.js';

// GET /metrics on PostgreSQL: the incident gauges and the pending-delivery gauge follow the
// database, including a change made by another replica, though PostgreSQL answers asynchronously
// and a collector is synchronous (src/pg-gauges.ts loads them in the background after changes).

const skip = postgresUnavailable();
sayPostgresSkipped();

let db: TestPostgres | null = null;
const apps: App[] = [];
const servers: RunningServer[] = [];
let silent: { server: Server; sockets: Set<Socket> } | null = null;
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const a of apps.splice(0)) await a.close();
  await db?.drop();
  db = null;
  if (silent) {
    for (const s of silent.sockets) s.destroy();
    await new Promise((r) => silent?.server.close(r));
    silent = null;
  }
});

/** A webhook endpoint that accepts connections and never answers: its deliveries stay pending (or in flight). */
async function silentEndpoint(): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  silent = { server, sockets };
  const addr = server.address();
  return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/hook`;
}

async function replica(url: string) {
  const app = testApp({ SITREP_DATABASE_URL: url, SITREP_APPROVAL: 'off', SITREP_ADMINS: 'cli:admin', SITREP_DELIVERY_TIMEOUT_SECONDS: '600' });
  apps.push(app);
  const server = await startServer(app, 0, '127.0.0.1');
  servers.push(server);
  const run = async (text: string) => {
    const r = await app.run(text, 'cli:admin', { platform: 'cli' });
    if (!r.ok) throw new Error(`${text}: ${r.error.message}`);
  };
  /** One sample's value (0 when absent). */
  const sample = async (name: string, labels: Record<string, string>) => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    const want = Object.entries(labels)
      .map(([k, v]) => `${k}="${v}"`)
      .join(',');
    const line = (await res.text()).split('\n').find((l) => l.startsWith(`${name}{${want}} `));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };
  return { app, run, sample };
}

const POLL = { timeout: 10_000, interval: 100 };

describe.skipIf(skip)('/metrics on PostgreSQL', () => {
  it('shows incidents by severity and pending deliveries, and follows changes made through another replica', async () => {
    db = await createTestDatabase();
    const a = await replica(db.url);
    const b = await replica(db.url);
    await a.run('component add API');
    await a.run(`subscribe webhook:${await silentEndpoint()}`);
    await a.run('declare "Checkout failing" sev:1 components:api=major');
    await a.run('declare "Slow search" sev:3');
    await a.run('resolve INC-2');

    for (const r of [a, b]) {
      await expect.poll(() => r.sample('sitrep_incidents_declared_total', { severity: '1' }), POLL).toBe(1);
      await expect.poll(() => r.sample('sitrep_incidents_open', { severity: '1' }), POLL).toBe(1);
      await expect.poll(() => r.sample('sitrep_incidents_declared_total', { severity: '3' }), POLL).toBe(1);
      await expect.poll(() => r.sample('sitrep_incidents_open', { severity: '3' }), POLL).toBe(0);
    }
    // A published update goes to the webhook through the outbox: pending until it is answered.
    await a.run('draft INC-1 We are looking into failed checkouts.');
    await expect.poll(() => b.sample('sitrep_deliveries_pending', { kind: 'webhook' }), POLL).toBeGreaterThanOrEqual(1);

    await b.run('resolve INC-1');
    await expect.poll(() => a.sample('sitrep_incidents_open', { severity: '1' }), POLL).toBe(0);
    expect(await a.sample('sitrep_incidents_declared_total', { severity: '1' })).toBe(1);
  });
});
