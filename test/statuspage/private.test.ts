import { afterEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { customerUpdates, incidents, outbox } from '../../db/schema.js';
import { startServer, type App, type RunningServer } from '../../src/main.js';
import { testApp } from '../helpers.js';

// The public read model's own gate: even a private incident whose rows say it was published (as
// no command can make them say) is absent from every public surface, which answers as for an id
// never used. The verbs refusing customer text are the first gate (test/core/private.test.ts);
// this is the one behind it.

let app: App;
let server: RunningServer;
afterEach(async () => {
  await server.close();
  await app.close();
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

describe('the public read model and a private incident', () => {
  it('leaves it out even when its rows say it was published', async () => {
    app = testApp({ SITREP_APPROVAL: 'off' });
    await ok('component add "Web App"');
    await ok('declare "Checkout errors"');
    await ok('draft INC-1 Checkout is slow');
    await ok('declare "Payroll export leak" components:web-app=major visibility:private');
    // Forge what publishing would have written, as no command can for a private incident.
    const now = app.now();
    app.db.update(incidents).set({ publicStatus: 'identified', publishedAt: now }).where(eq(incidents.id, 2)).run();
    app.db
      .insert(customerUpdates)
      .values({
        incidentId: 2,
        state: 'published',
        body: 'Payroll files were exposed',
        status: 'identified',
        author: 'cli:alice',
        createdAt: now,
        publishedAt: now,
        displayAt: now,
      })
      .run();
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
    expect(app.db.select().from(outbox).where(eq(outbox.incidentId, 2)).all()).toEqual([]);
  });
});
