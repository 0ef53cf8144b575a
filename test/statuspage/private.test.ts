import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type App, type RunningServer } from '../../src/main.js';
import { engines } from '../support/engines.js';

// The public read model's own gate: even a private incident whose rows say it was published (as
// no command can make them say) is absent from every public surface, which answers as for an id
// never used. The verbs refusing customer text are the first gate (test/core/private.test.ts);
// this is the one behind it. On both engines: each has its own form of the public queries.

let app: App;
let server: RunningServer;
afterEach(async () => {
  await server?.close();
  await app?.close();
});

async function ok(text: string, actor = 'cli:alice') {
  const r = await app.run(text, actor, { platform: 'cli' });
  if (!r.ok) throw new Error(r.error.message);
  return r.reply;
}

const SURFACES = [
  '/',
  '/api/v2/summary.json',
  '/api/v2/status.json',
  '/api/v2/components.json',
  '/api/v2/incidents.json',
  '/api/v2/incidents/unresolved.json',
  '/history.atom',
  '/metrics',
];

describe.each(engines)('the public read model and a private incident on $name', (engine) => {
  if (engine.skip) it.skip(engine.skip, () => {});
  it('leaves it out even when its rows say it was published', async () => {
    app = await engine.app({ SITREP_APPROVAL: 'off' });
    await ok('component add "Web App"');
    await ok('declare "Checkout errors"');
    await ok('draft INC-1 Checkout is slow');
    await ok('declare "Payroll export leak" components:web-app=major visibility:private');
    // Forge what publishing would have written, as no command can for a private incident.
    const now = app.now();
    await engine.rows(app, "update incidents set public_status = 'identified', published_at = ? where id = 2 returning id", now);
    await engine.rows(
      app,
      `insert into customer_updates (incident_id, state, body, status, author, created_at, published_at, display_at)
       values (2, 'published', 'Payroll files were exposed', 'identified', 'cli:alice', ?, ?, ?) returning id`,
      now,
      now,
      now,
    );
    server = await startServer(app, 0, '127.0.0.1');

    for (const path of SURFACES) {
      const res = await fetch(`${server.url}${path}`);
      const body = await res.text();
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      expect({ path, leaks: ['Payroll', 'INC-2'].filter((w) => body.includes(w)) }).toEqual({ path, leaks: [] });
    }
    expect(await (await fetch(`${server.url}/api/v2/incidents.json`)).text()).toContain('Checkout errors');
    for (const path of ['/incidents/INC-2', '/incidents/INC-2/chart.svg']) {
      const hidden = await fetch(`${server.url}${path}`);
      const never = await fetch(`${server.url}${path.replace('INC-2', 'INC-8')}`);
      expect(hidden.status).toBe(404);
      expect(await hidden.text()).toBe((await never.text()).replaceAll('INC-8', 'INC-2'));
    }
    // And no command gets it onto Statuspage, webhooks or customer channels either.
    expect(await engine.rows(app, 'select id from outbox where incident_id = 2')).toEqual([]);
  });
});
