import { openDatabase } from '../../db/client.js';
import { incidentThreads, incidents } from '../../db/schema.js';
import { createSlackCustomerTarget } from '../../adapters/slack/customer.js';
import { createSlackWebApi } from '../../adapters/slack/web-api.js';
import { createSlackTarget } from '../../adapters/slack/target.js';
import { createSlackHistoryTarget } from '../../adapters/slack/history.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createApp } from '../../src/main.js';
import { startFakeSlackApi, type FakeSlackApi } from '../fakes/slack-api.js';
import { describeTargetContract, type ContractUpstream } from '../mirror/target-contract.js';

// The shared Target contract, run against both Slack targets over real HTTP to the fake Web API.

const TOKEN = 'xoxb-contract';

function upstream(fake: FakeSlackApi): ContractUpstream {
  return {
    ok: () => undefined,
    fail: () => fake.failNext('chat.postMessage', { status: 503 }),
    rateLimit: (s) => fake.failNext('chat.postMessage', { status: 429, retryAfter: s }),
    hang: () => fake.failNext('chat.postMessage', { hang: true }),
  };
}

describeTargetContract('slack thread', async () => {
  const fake = await startFakeSlackApi({ token: TOKEN });
  const db = openDatabase(':memory:');
  const now = Date.now();
  db.insert(incidents)
    .values({
      id: 1,
      title: 'Contract',
      status: 'investigating',
      severity: 3,
      createdBy: 'cli:t',
      startedAt: now,
      declaredAt: now,
      recordedAt: now,
      updatedAt: now,
    })
    .run();
  fake.addMessage({ channel: 'C0INC', ts: '1700000000.000001', text: 'root' });
  db.insert(incidentThreads)
    .values({ incidentId: 1, platform: 'slack', channel: 'C0INC', rootRef: '1700000000.000001', dedicated: false, createdAt: now })
    .run();
  const web = createSlackWebApi({ token: TOKEN, apiUrl: fake.apiUrl });
  let n = 0;
  return {
    target: createSlackTarget({ db, client: web, timezone: 'UTC', now: () => Date.now() }),
    handled: 'slack:thread:C0INC',
    unhandled: 'slack:C0CUSTOMERS',
    message: (over = {}) => ({
      id: ++n,
      deliveryId: `msg_contract_${n}`,
      incidentId: 1,
      target: 'slack:thread:C0INC',
      kind: 'thread_reply',
      payload: { text: 'a note', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'a note' } }], broadcast: false },
      attempts: 1,
      createdAt: Date.now(),
      approvedAt: null,
      folded: 0,
      ...over,
    }),
    upstream: upstream(fake),
    async close() {
      await fake.close();
      db.$client.close();
    },
  };
});

describeTargetContract('slack customer channel', async () => {
  const fake = await startFakeSlackApi({ token: TOKEN });
  const web = createSlackWebApi({ token: TOKEN, apiUrl: fake.apiUrl });
  let n = 0;
  return {
    target: createSlackCustomerTarget(web),
    handled: 'slack:C0CUSTOMERS',
    unhandled: 'slack:thread:C0INC',
    message: (over = {}) => ({
      id: ++n,
      deliveryId: `msg_contract_${n}`,
      incidentId: 1,
      target: 'slack:C0CUSTOMERS',
      kind: 'slack.customer_update',
      payload: {
        incident: 'INC-1',
        title: 'Checkout errors',
        status: 'investigating',
        body: 'We are investigating.',
        at: Date.now(),
        url: 'http://127.0.0.1/incidents/INC-1',
        components: [{ name: 'Web App', status: 'major_outage' }],
        zone: 'UTC',
      },
      attempts: 1,
      createdAt: Date.now(),
      approvedAt: Date.now(),
      folded: 0,
      ...over,
    }),
    upstream: upstream(fake),
    async close() {
      await fake.close();
    },
  };
});

// The 📌 read (conversations.replies) with the pin it records after it, on a real app's runner.
describeTargetContract('slack history (📌 reads)', async () => {
  const fake = await startFakeSlackApi({ token: TOKEN });
  const app = createApp(loadConfig({ SITREP_DB: ':memory:', LOG_LEVEL: 'silent', USER: 'tester' }), { log: createLogger('silent') });
  await app.run('declare Contract', 'cli:t', { platform: 'cli' });
  const now = Date.now();
  app.db
    .insert(incidentThreads)
    .values({ incidentId: 1, platform: 'slack', channel: 'C0INC', rootRef: '1700000000.000001', dedicated: false, createdAt: now })
    .run();
  fake.addMessage({ channel: 'C0INC', ts: '1700000000.000001', text: 'root' });
  fake.addMessage({ channel: 'C0INC', ts: '1700000000.000002', thread_ts: '1700000000.000001', user: 'U0DAVE', text: 'replica lag' });
  const web = createSlackWebApi({ token: TOKEN, apiUrl: fake.apiUrl });
  let n = 0;
  const upstreamOf = (f: FakeSlackApi): ContractUpstream => ({
    ok: () => undefined,
    fail: () => f.failNext('conversations.replies', { status: 503 }),
    rateLimit: (s) => f.failNext('conversations.replies', { status: 429, retryAfter: s }),
    hang: () => f.failNext('conversations.replies', { hang: true }),
  });
  return {
    target: createSlackHistoryTarget({ client: web, runner: app.runner, store: app.store, log: createLogger('silent') }),
    handled: 'slack:history',
    unhandled: 'slack:thread:C0INC',
    message: (over = {}) => ({
      id: ++n,
      deliveryId: `msg_contract_${n}`,
      incidentId: null,
      target: 'slack:history',
      kind: 'pin_read',
      payload: { channel: 'C0INC', ts: '1700000000.000002', user: 'U0ERIN' },
      attempts: 1,
      createdAt: Date.now(),
      approvedAt: null,
      folded: 0,
      ...over,
    }),
    upstream: upstreamOf(fake),
    async close() {
      await fake.close();
      await app.close();
    },
  };
});
