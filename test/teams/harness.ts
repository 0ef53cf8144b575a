import { readFileSync } from 'node:fs';
import { asc, like } from 'drizzle-orm';
import { outbox } from '../../db/schema.js';
import { loadConfig } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { createApp, startServer, type App, type RunningServer } from '../../src/main.js';
import { OutboxWorker } from '../../src/mirror/worker.js';
import { startFakeConnector, type FakeConnector } from '../fakes/teams-connector.js';
import { FAST } from '../mirror/helpers.js';

// Boots the real app (real HTTP server, real SQLite, the real outbox worker) with the Teams adapter
// and speaks to POST /api/messages the way Teams does, with activities built from the captured
// payloads in ./fixtures whose serviceUrl points at the fake Bot Connector.

export const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
export const jsonFixture = (name: string) => JSON.parse(fixture(name)) as Record<string, any>;

/** The channel of the captured thread-reply activity; bound as the incidents channel in tests. */
export const CHANNEL = '19:6848757105754c8981c67612732d9aa7@thread.tacv2';
export const BOT_ID = '28:0b6fe6d1-fece-44f7-9a48-56465e2d5ab8';
export const ALICE = { id: '29:alice', name: 'Alice', aadObjectId: 'aad-alice' };
export const BOB = { id: '29:bob', name: 'Bob', aadObjectId: 'aad-bob' };
export type Person = typeof ALICE;

export interface Posted {
  status: number;
  text: string;
  json: () => any;
}

export interface Harness {
  app: App;
  fake: FakeConnector;
  server: RunningServer;
  url: string;
  post(body: string, headers?: Record<string, string>): Promise<Posted>;
  send(activity: Record<string, unknown>, headers?: Record<string, string>): Promise<Posted>;
  /** A channel post (or, with `rootId`, a reply in that thread) that @mentions the bot. */
  mention(text: string, opts?: { from?: Person; rootId?: string; channel?: string; id?: string }): Record<string, any>;
  personal(text: string, opts?: { from?: Person }): Record<string, any>;
  /** Action.Submit from a card in a thread: a message whose `value` is the button's data. */
  submit(value: Record<string, unknown>, opts: { from?: Person; rootId: string; channel?: string }): Record<string, any>;
  /** Action.Execute: an `adaptiveCard/action` invoke. */
  execute(data: Record<string, unknown>, opts: { from?: Person; rootId: string; channel?: string }): Record<string, any>;
  /** Waits until every Teams outbox row is delivered (or dead). */
  drain(): Promise<void>;
  close(): Promise<void>;
}

let seq = 1_759_900_000_000;
const nextId = () => String(++seq);

export interface HarnessOptions {
  /** Where the app logs (tests that check what reaches the logs pass a capturing logger). */
  log?: Logger;
  /** The server's listening address (default 127.0.0.1; `::` listens everywhere, as `npm start` does). */
  host?: string;
}

export type ActivityBuilders = Pick<Harness, 'mention' | 'personal' | 'submit' | 'execute'>;

/** Activities as Teams sends them (from the captured fixtures), their replies going to `serviceUrl`. */
export function activityBuilders(serviceUrl: string): ActivityBuilders {
  const base = (name: string, from: Person) => {
    const a = jsonFixture(name);
    a.serviceUrl = serviceUrl;
    a.from = { ...from };
    a.id = nextId();
    a.timestamp = new Date().toISOString();
    return a;
  };

  return {
    mention(text, opts = {}) {
      const a = base('message-channel-thread-reply-mention.json', opts.from ?? ALICE);
      const channel = opts.channel ?? CHANNEL;
      if (opts.id) a.id = opts.id;
      // A new top-level post is its own thread: its conversation id names itself.
      a.conversation.id = `${channel};messageid=${opts.rootId ?? a.id}`;
      a.channelData.channel.id = channel;
      a.channelData.teamsChannelId = channel;
      a.text = `<at>ridotest</at> ${text}`;
      return a;
    },
    personal(text, opts = {}) {
      const a = base('message-personal-docs.json', opts.from ?? ALICE);
      a.text = text;
      return a;
    },
    submit(value, opts) {
      // The docs' messageBack example, minus its stray trailing comma, retargeted at our thread.
      const a = JSON.parse(fixture('message-value-messageBack-channel-thread-docs.INVALID-trailing-comma.json').replace(/,\s*}\s*$/, '\n}')) as Record<
        string,
        any
      >;
      const channel = opts.channel ?? CHANNEL;
      a.serviceUrl = serviceUrl;
      a.from = { ...(opts.from ?? ALICE) };
      a.id = nextId();
      a.conversation.id = `${channel};messageid=${opts.rootId}`;
      a.channelData.channel.id = channel;
      a.replyToId = opts.rootId;
      a.value = value;
      delete a.text;
      return a;
    },
    execute(data, opts) {
      const a = base('invoke-adaptiveCard_action-Action.Execute-personal.json', opts.from ?? ALICE);
      const channel = opts.channel ?? CHANNEL;
      a.conversation = { id: `${channel};messageid=${opts.rootId}`, conversationType: 'channel', isGroup: true, tenantId: a.conversation.tenantId };
      a.value = { action: { type: 'Action.Execute', title: 'Approve', verb: data.sitrep, data }, trigger: 'manual' };
      return a;
    },
  };
}

export async function startHarness(env: Record<string, string> = {}, now?: () => number, opts: HarnessOptions = {}): Promise<Harness> {
  const fake = await startFakeConnector();
  const config = loadConfig({ SITREP_DB: ':memory:', LOG_LEVEL: 'silent', USER: 'tester', ...env });
  const app = createApp(config, { log: opts.log ?? createLogger('silent'), ...(now ? { now } : {}) });
  const worker = app.background.find((b): b is OutboxWorker => b instanceof OutboxWorker);
  worker?.tune({ ...FAST, attemptTimeoutMs: 10_000, backoff: { baseMs: 40, maxMs: 200, jitter: 0 } });
  const host = opts.host ?? '127.0.0.1';
  const server = await startServer(app, 0, host);
  const port = (server.server.address() as { port: number }).port;
  // A wildcard listener (as `npm start` has) is reached here over IPv4 loopback.
  const reach = host === '::' || host === '0.0.0.0' ? '127.0.0.1' : host;
  const url = `http://${reach.includes(':') ? `[${reach}]` : reach}:${port}`;

  async function post(body: string, headers: Record<string, string> = {}): Promise<Posted> {
    const res = await fetch(`${url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const text = await res.text();
    return { status: res.status, text, json: () => JSON.parse(text) };
  }

  const harness: Harness = {
    app,
    fake,
    server,
    url,
    post,
    send: (activity, headers) => post(JSON.stringify(activity), headers),
    ...activityBuilders(fake.serviceUrl),
    async drain() {
      const live = () =>
        app.db
          .select()
          .from(outbox)
          .where(like(outbox.target, 'teams:%'))
          .orderBy(asc(outbox.id))
          .all()
          .filter((r) => r.state === 'pending' || r.state === 'in_flight');
      const end = Date.now() + 15_000;
      while (live().length) {
        if (Date.now() > end) throw new Error(`outbox not drained: ${JSON.stringify(live().map((r) => [r.kind, r.state, r.lastError]))}`);
        worker?.kick();
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      await server.close();
      await app.close();
      await fake.close();
    },
  };
  return harness;
}

export const teamsRows = (app: App) => app.db.select().from(outbox).where(like(outbox.target, 'teams:%')).orderBy(asc(outbox.id)).all();
