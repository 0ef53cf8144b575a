import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createApp, startServer, type App, type RunningServer } from '../../src/main.js';
import { createLogger } from '../../src/logger.js';
import { OutboxWorker } from '../../src/mirror/worker.js';
import { verifyWebhook } from '../../src/mirror/signing.js';
import { startFakeStatuspage, type FakeStatuspage } from '../fakes/statuspage.js';
import { startWebhookReceiver, type WebhookReceiver } from '../fakes/webhook-receiver.js';
import { FAST, waitUntil } from '../mirror/helpers.js';
import { cli, tempDbFile } from '../helpers.js';

// Issue 6's story end to end: people work through the CLI (`--as`), a running server on the same
// database publishes, and every public surface is read over HTTP — the built-in page, the
// Statuspage-compatible API, the feed, a fake Atlassian Statuspage and signed webhooks.

const INTERNAL = 'primary db in us-east-1a OOM-killed, pager INTERNAL-7731';
const REJECTED = 'We are lookng into problem with checkout.';
const APPROVED = 'We are investigating failed payments at checkout. Paying by invoice still works.';

let statuspage: FakeStatuspage;
let subscribed: WebhookReceiver;
let otherComponent: WebhookReceiver;
let app: App;
let server: RunningServer;
let run: ReturnType<typeof cli>;
let secret = '';

beforeAll(async () => {
  statuspage = await startFakeStatuspage({ components: ['Web App', 'SMS Routing'] });
  subscribed = await startWebhookReceiver();
  otherComponent = await startWebhookReceiver();
  const db = tempDbFile();
  const env = {
    SITREP_DB: db,
    SITREP_APPROVAL: 'required',
    SITREP_ADMINS: 'cli:admin',
    SITREP_TIMEZONE: 'America/Los_Angeles',
    SITREP_ORG_NAME: 'Acme',
    STATUSPAGE_API_KEY: statuspage.apiKey,
    STATUSPAGE_PAGE_ID: statuspage.pageId,
    STATUSPAGE_API_URL: statuspage.url,
  };
  run = cli(db, env);
  app = createApp(loadConfig({ ...env, LOG_LEVEL: 'silent' }), { log: createLogger('silent') });
  app.background.find((b): b is OutboxWorker => b instanceof OutboxWorker)!.tune(FAST);
  server = await startServer(app, 0, '127.0.0.1');
});

afterAll(async () => {
  await server?.close();
  await app?.close();
  await Promise.all([statuspage?.close(), subscribed?.close(), otherComponent?.close()]);
});

const get = async (path: string) => {
  const res = await fetch(server.url + path);
  return { status: res.status, text: await res.text() };
};

describe('customer-facing wording: draft, approval, publication', () => {
  it('sets up the catalogue, approvers and subscriptions as an admin', async () => {
    expect((await run('component', 'add', 'Web App', '--as', 'admin')).code).toBe(0);
    expect((await run('component', 'add', 'SMS Routing', '--as', 'admin')).code).toBe(0);
    expect((await run('approver', 'add', '@bob', '--as', 'admin')).code).toBe(0);
    expect((await run('approver', 'add', '@carol', '--as', 'admin')).code).toBe(0);
    // Only admins grant approval power, also to themselves.
    expect((await run('approver', 'add', '@mallory', '--as', 'mallory')).code).toBe(3);
    const sub = await run('subscribe', `webhook:${subscribed.url}`, 'components:web-app', '--as', 'admin', '--json');
    expect(sub.code).toBe(0);
    secret = sub.json().secret;
    expect((await run('subscribe', `webhook:${otherComponent.url}`, 'components:sms-routing', '--as', 'admin')).code).toBe(0);
    // Only admins manage subscriptions.
    expect((await run('subscribe', 'webhook:http://127.0.0.1:9/x', '--as', 'alice')).code).toBe(3);
  });

  it('keeps internal updates inside and refuses the wrong approvers', async () => {
    expect((await run('declare', 'Checkout failing', 'sev:2', 'components:web-app=major', 'lead:@carol', '--as', 'alice', '--json')).json().id).toBe('INC-1');
    expect((await run('update', INTERNAL, '--as', 'alice')).code).toBe(0);
    const d1 = await run('draft', REJECTED, '--as', 'bob', '--json');
    expect(d1.json()).toMatchObject({ id: 'D-1', state: 'draft' });

    const stranger = await run('approve', 'D-1', '--as', 'eve', '--json');
    expect(stranger.code).toBe(3);
    expect(stranger.json().error.code).toBe('FORBIDDEN');
    const own = await run('approve', 'D-1', '--as', 'bob'); // bob is an approver, but wrote it
    expect(own.code).toBe(3);
    expect(own.stderr).toMatch(/another approver must approve it/);

    // A self-made lead gets no approval power: the role is anyone's to take, the approvers list is not.
    expect((await run('assign', 'lead', '@mallory', '--as', 'mallory')).code).toBe(0);
    const selfMade = await run('approve', 'D-1', 'mallory was here', '--as', 'mallory', '--json');
    expect(selfMade.code).toBe(3);
    expect(selfMade.json().error.code).toBe('FORBIDDEN');
    expect((await run('reject', 'D-1', 'not yours to reject', '--as', 'mallory')).code).toBe(3);
    expect((await run('assign', 'lead', '@carol', '--as', 'alice')).code).toBe(0);

    expect((await run('reject', 'D-1', 'typo, and say that invoices work', '--as', 'carol')).code).toBe(0);
    const tl = (await run('timeline', '--json')).json().events;
    expect(tl.at(-1)).toMatchObject({ kind: 'draft_rejected', text: expect.stringContaining('typo, and say that invoices work') });
    expect(tl.at(-1).text).toContain('@bob');
  });

  it('is not public before approval', async () => {
    expect((await get('/incidents/INC-1')).status).toBe(404);
    expect(JSON.parse((await get('/api/v2/incidents.json')).text).incidents).toEqual([]);
  });

  it('publishes exactly the approved text everywhere once an approver approves', async () => {
    expect((await run('draft', APPROVED, '--as', 'bob', '--json')).json().id).toBe('D-2');
    const ok = await run('approve', 'D-2', '--as', 'carol', '--json');
    expect(ok.code).toBe(0);
    expect(ok.json()).toMatchObject({ id: 'D-2', state: 'published' });

    // Built-in page, API and feed: the running server picks up the CLI's write.
    let page = { status: 0, text: '' };
    const until = Date.now() + 5_000;
    while (page.status !== 200 && Date.now() < until) {
      page = await get('/incidents/INC-1');
      if (page.status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(page.status).toBe(200);
    expect(page.text).toContain(APPROVED);
    const api = JSON.parse((await get('/api/v2/incidents.json')).text);
    expect(api.incidents).toHaveLength(1);
    expect(api.incidents[0].incident_updates.map((u: { body: string }) => u.body)).toEqual([APPROVED]);
    expect(api.incidents[0].status).toBe('investigating');
    const summary = JSON.parse((await get('/api/v2/summary.json')).text);
    expect(summary.components.find((c: { name: string }) => c.name === 'Web App').status).toBe('major_outage');
    const feed = await get('/history.atom');
    expect(feed.text).toContain('We are investigating failed payments at checkout.');

    // Fake Atlassian Statuspage and the subscribed webhook.
    await waitUntil(() => statuspage.incidents.length === 1 && subscribed.accepted().length === 1, 15_000, 'statuspage and webhook delivery');
    expect(statuspage.violations).toEqual([]);
    expect(statuspage.incidents[0]!.incident_updates.map((u) => u.body)).toEqual([APPROVED]);
    expect(statuspage.incidents[0]!.metadata).toEqual({ sitrep: { incident_id: 'INC-1' } });
    const hook = subscribed.accepted()[0]!;
    expect(verifyWebhook(secret, hook, hook.body)).toBe(true);
    expect(hook.json.incident.incident_updates.map((u: { body: string }) => u.body)).toEqual([APPROVED]);

    // Nothing internal, nothing rejected, and nothing for a subscriber of another component.
    const everything = [
      page.text,
      JSON.stringify(api),
      summary && JSON.stringify(summary),
      feed.text,
      JSON.stringify(statuspage.requests.map((r) => r.body)),
      hook.body,
    ].join('\n');
    expect(everything).not.toContain('INTERNAL-7731');
    expect(everything).not.toContain('lookng');
    expect(everything).not.toContain('mallory was here');
    await new Promise((r) => setTimeout(r, 300));
    expect(otherComponent.requests).toEqual([]);
  });

  it('resolves with customer text under the same policy', async () => {
    const r = await run('resolve', 'Payments are working again.', '--as', 'alice', '--json');
    expect(r.code).toBe(0);
    const draftId = r.json().draft;
    expect(draftId).toBe('D-3');
    // Resolved inside, still open outside until the wording is approved.
    expect(JSON.parse((await get('/api/v2/incidents/unresolved.json')).text).incidents).toHaveLength(1);
    expect((await run('approve', draftId, '--as', 'bob')).code).toBe(0);
    await waitUntil(() => statuspage.incidents[0]?.status === 'resolved' && subscribed.accepted().length === 2, 15_000, 'resolution mirrored');
    let unresolved: unknown[] = [1];
    const until = Date.now() + 5_000;
    while (unresolved.length && Date.now() < until) {
      unresolved = JSON.parse((await get('/api/v2/incidents/unresolved.json')).text).incidents;
      if (unresolved.length) await new Promise((r) => setTimeout(r, 100));
    }
    expect(unresolved).toEqual([]);
    expect(subscribed.accepted()[1]!.json.incident.incident_updates.map((u: { body: string }) => u.body)).toEqual(['Payments are working again.', APPROVED]);
    expect(otherComponent.requests).toEqual([]);
  });
});
