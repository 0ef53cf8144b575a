import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type App } from '../../src/main.js';
import { startFakeConnector, type FakeConnector } from '../fakes/teams-connector.js';
import { FAST } from '../mirror/helpers.js';
import { engines, type Engine } from '../support/engines.js';
import { CHANNEL, activityBuilders } from './harness.js';

// Teams deliveries on either engine, through the real server, the real outbox worker (SQLite's, or
// PostgreSQL's src/mirror/worker.pg.ts) and the fake Bot Connector: the incident's root card and the
// replies in its thread, the approval card edited once the update is approved, and the approved
// update in a customer channel. On PostgreSQL the Teams targets read and write through the store.

const CUSTOMERS = '19:customers0000000000000000000000@thread.tacv2';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const cardText = (m: { body: Record<string, any> } | undefined) => JSON.stringify(m?.body.attachments ?? []);

async function setup(engine: Engine) {
  const fake: FakeConnector = await startFakeConnector();
  closers.push(() => fake.close());
  const app: App = await engine.app({ SITREP_ADMINS: 'cli:admin,teams:29:alice', USER: 'admin', SITREP_PUBLIC_URL: 'https://status.example.com' });
  // PostgreSQL's apps are closed by test/support/engines.ts.
  if (engine.name === 'SQLite') closers.push(() => app.close());
  const worker = app.background.find((b): b is typeof b & { tune(o: typeof FAST): void } => 'tune' in b);
  if (!worker) throw new Error('no outbox worker in app.background');
  worker.tune({ ...FAST, backoff: { baseMs: 40, maxMs: 200, jitter: 0 } });
  const server = await startServer(app, 0, '127.0.0.1');
  closers.push(() => server.close());
  const teams = activityBuilders(fake.serviceUrl);
  const send = async (activity: Record<string, unknown>) => {
    const res = await fetch(`${server.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(activity) });
    await res.text();
    expect(res.status).toBe(200);
  };
  const run = async (text: string, actor = 'cli:admin') => {
    const r = await app.run(text, actor, { platform: 'cli' });
    if (!r.ok) throw new Error(`${text} → ${r.error.code}: ${r.error.message}`);
    return r.reply;
  };
  const rows = () =>
    engine.rows(app, 'select id, target, kind, state, attempts, last_error as "lastError" from outbox where target like \'teams:%\' order by id') as Promise<
      Array<{ id: number; target: string; kind: string; state: string; attempts: number; lastError: string | null }>
    >;
  /** Waits until no Teams row is pending or in flight; then every one must have been delivered. */
  const drain = async () => {
    const end = Date.now() + 20_000;
    for (;;) {
      const live = (await rows()).filter((r) => r.state === 'pending' || r.state === 'in_flight');
      if (!live.length) break;
      if (Date.now() > end) throw new Error(`Teams rows still waiting: ${JSON.stringify(live)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    expect((await rows()).filter((r) => r.state !== 'delivered')).toEqual([]);
  };
  /** The bot learns the tenant's serviceUrl (a conversation reference, in settings), and Carol approves. */
  const ready = async () => {
    await send(teams.mention('channel incidents'));
    await drain();
    await run('approver add @carol');
  };
  return { app, fake, teams, send, run, rows, drain, ready };
}

describe.each(engines)('Teams deliveries on $name', (engine) => {
  it.skipIf(engine.skip)(
    'posts the root card and thread replies, edits the approval card, and sends the approved update to a customer channel',
    { timeout: 60_000 },
    async () => {
      const { app, fake, teams, send, run, rows, drain, ready } = await setup(engine);
      await ready();
      await run('component add Web App');
      await run(`subscribe teams:${CUSTOMERS}`);

      await send(teams.mention('declare Checkout errors sev:2 components:web-app=major'));
      await drain();
      const root = fake.posts(CHANNEL).find((m) => m.body.attachments);
      expect(root).toBeDefined();
      expect(cardText(root)).toContain('Checkout errors');
      // The root card's id, written back by the target (on PostgreSQL in a store transaction).
      expect(await engine.rows(app, 'select root_ref as "rootRef" from incident_threads where incident_id = 1')).toEqual([{ rootRef: root!.id }]);
      // The answer to the person who declared (a reply row) reached them too.
      expect((await rows()).some((r) => r.kind === 'reply' && r.state === 'delivered')).toBe(true);

      await run('draft INC-1 We are looking into it.');
      await drain();
      const thread = () => fake.replies(CHANNEL, root!.id);
      const request = thread().find((m) => cardText(m).includes('We are looking into it.'));
      expect(request).toBeDefined();
      expect(request!.edits).toBe(0);
      // Nothing reaches the customers before approval.
      expect(fake.posts(CUSTOMERS)).toEqual([]);

      await run('approve D-1', 'cli:carol');
      await drain();
      // The approval card in the thread is edited to say it was decided…
      expect(fake.messages.find((m) => m.id === request!.id)!.edits).toBe(1);
      // …and the customer channel gets the incident's card, then the update as a reply under it.
      const customerCards = fake.posts(CUSTOMERS);
      expect(customerCards).toHaveLength(1);
      expect(cardText(customerCards[0])).toContain('https://status.example.com/incidents/INC-1');
      const updates = fake.replies(CUSTOMERS, customerCards[0]!.id);
      expect(updates.map((m) => cardText(m))).toEqual([expect.stringContaining('We are looking into it.')]);
      // The root card was kept current: posted once, edited as the incident changed.
      expect(fake.posts(CHANNEL).filter((m) => m.body.attachments)).toHaveLength(1);
      expect(fake.messages.find((m) => m.id === root!.id)!.edits).toBeGreaterThanOrEqual(1);

      const kinds = new Set((await rows()).map((r) => r.kind));
      for (const k of ['root_post', 'root_update', 'thread_reply', 'approval_update', 'reply', 'teams.customer_root', 'teams.customer_update']) {
        expect(kinds.has(k), k).toBe(true);
      }
      expect((await engine.rows(app, "select id from outbox where state in ('pending', 'in_flight', 'dead')")).length).toBe(0);
    },
  );

  it.skipIf(engine.skip)("names each delivery's Bot Connector host as its breaker key (PostgreSQL: from what lookup() loaded for the batch)", async () => {
    const { app, teams, send, drain } = await setup(engine);
    const other = await startFakeConnector({ host: '127.0.0.2' });
    closers.push(() => other.close());
    await send(teams.mention('channel incidents'));
    // The customer channel's own reference names the second host.
    await send(activityBuilders(other.serviceUrl).mention('help', { channel: CUSTOMERS }));
    await drain();
    const thread = `teams:thread:${CHANNEL}`;
    const customers = `teams:${CUSTOMERS}`;
    // A channel the bot never heard from goes through the incidents channel's host.
    const unheard = 'teams:19:unheard00000000000000000000000@thread.tacv2';
    const threadTarget = app.targets.find((t) => t.handles(thread))!;
    const customerTarget = app.targets.find((t) => t.handles(customers))!;
    expect(threadTarget).not.toBe(customerTarget);
    // The worker awaits lookup (where there is one) for a claimed batch before asking the hooks.
    await threadTarget.lookup?.([thread], []);
    await customerTarget.lookup?.([customers, unheard], []);
    expect(threadTarget.breakerKey!(thread)).toBe('teams:127.0.0.1');
    expect(customerTarget.breakerKey!(customers)).toBe('teams:127.0.0.2');
    expect(customerTarget.breakerKey!(unheard)).toBe('teams:127.0.0.1');
  });

  it.skipIf(engine.skip)(
    "fills a webhook subscription's signing secret into the personal-chat answer as it sends it, read where signing keeps it",
    async () => {
      const { app, fake, teams, send, rows, drain } = await setup(engine);
      const a = teams.personal('subscribe webhook:http://127.0.0.1:9/sitrep-hook');
      await send(a);
      await drain();
      const [stored] = await engine.rows(app, 'select secret from subscriptions');
      expect(stored.secret).toMatch(/^whsec_/);
      const answer = fake.messages.find((m) => m.conversationId === a.conversation.id)?.body.text as string | undefined;
      expect(answer).toContain('Subscribed S-1');
      expect(answer).toContain(stored.secret);
      // The outbox row named the subscription, never the secret.
      const reply = (await rows()).find((r) => r.kind === 'reply')!;
      const [row] = await engine.rows(app, 'select payload from outbox where id = ?', reply.id);
      const payload = typeof row.payload === 'string' ? row.payload : JSON.stringify(row.payload);
      expect(payload).toContain('[signing secret of S-1]');
      expect(payload).not.toContain(stored.secret);
    },
  );

  it.skipIf(engine.skip)(
    'a scheduled maintenance: its root card and thread, the approval card edited, and the announcement in a customer channel',
    { timeout: 60_000 },
    async () => {
      const { app, fake, run, rows, drain, ready } = await setup(engine);
      await ready();
      await run('component add API');
      await run(`subscribe teams:${CUSTOMERS} components:api`);
      const starts = Math.ceil((Date.now() + 3_600_000) / 60_000) * 60_000;
      const iso = (ms: number) => new Date(ms).toISOString();
      await run(`maintenance schedule "Database upgrade" starts:${iso(starts)} ends:${iso(starts + 3_600_000)} components:api We upgrade the database.`);
      await drain();
      const roots = fake.posts(CHANNEL).filter((m) => cardText(m).includes('Maintenance M-1'));
      expect(roots).toHaveLength(1);
      const root = roots[0]!;
      // The maintenance's root card id, written back by the target (on PostgreSQL in a store transaction).
      expect(await engine.rows(app, 'select root_ref as "rootRef" from maintenance_threads where maintenance_id = 1')).toEqual([{ rootRef: root.id }]);
      const approval = fake.replies(CHANNEL, root.id).find((m) => cardText(m).includes('D-1 needs approval'));
      expect(approval).toBeDefined();
      expect(fake.posts(CUSTOMERS)).toEqual([]);

      await run('approve D-1', 'cli:carol');
      await drain();
      expect(cardText(fake.messages.find((m) => m.id === approval!.id))).toContain('D-1 approved and published');
      const customer = fake.posts(CUSTOMERS);
      expect(customer).toHaveLength(1);
      expect(cardText(customer[0])).toContain('Scheduled maintenance: Database upgrade');
      expect(fake.replies(CUSTOMERS, customer[0]!.id).map((m) => cardText(m))).toEqual([expect.stringContaining('We upgrade the database.')]);
      const lanes = new Set((await rows()).map((r) => r.target));
      expect(lanes).toContain(`teams:thread:${CHANNEL}|M-1`);
      expect(lanes).toContain(`teams:${CUSTOMERS}|M-1`);
      expect((await engine.rows(app, "select id from outbox where state in ('pending', 'in_flight', 'dead')")).length).toBe(0);
    },
  );
});
