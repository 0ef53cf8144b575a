import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { and, asc, eq, inArray, like } from 'drizzle-orm';
import { outbox } from '../../db/schema.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createApp, startServer, type App, type RunningServer } from '../../src/main.js';
import { startFakeSlackApi, type FakeSlackApi, type FakeSlackOptions } from '../fakes/slack-api.js';

// Boots the real app (real HTTP server, real SQLite, real Bolt) against the fake Slack Web API and
// speaks to it the way Slack does: signed form posts and JSON events built from the captured
// payloads in ./fixtures.

export const SECRET = 'test-signing-secret-0123456789abcdef';
export const TOKEN = 'xoxb-test-token';
export const INCIDENTS = 'C0INCIDENTS';

export const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
export const jsonFixture = (name: string) => JSON.parse(fixture(name)) as Record<string, any>;

export function sign(body: string, timestampSec: number, secret = SECRET): string {
  return 'v0=' + createHmac('sha256', secret).update(`v0:${timestampSec}:${body}`).digest('hex');
}

export interface Posted {
  status: number;
  text: string;
  json: () => any;
  ms: number;
}

export interface Harness {
  app: App;
  fake: FakeSlackApi;
  server: RunningServer;
  url: string;
  post(body: string, contentType: string, headers?: Record<string, string>): Promise<Posted>;
  slash(text: string, opts?: { user?: string; channel?: string; responseId?: string }): Promise<Posted>;
  interaction(payload: Record<string, unknown>): Promise<Posted>;
  event(envelope: Record<string, unknown>, headers?: Record<string, string>): Promise<Posted>;
  /** Waits until every Slack outbox row is delivered (by the outbox worker, or by hand without one). */
  drain(): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(env: Record<string, string> = {}, now?: () => number, fakeOptions: Omit<FakeSlackOptions, 'token'> = {}): Promise<Harness> {
  const fake = await startFakeSlackApi({ ...fakeOptions, token: TOKEN });
  const config = loadConfig({
    SITREP_DB: ':memory:',
    LOG_LEVEL: 'silent',
    USER: 'tester',
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_BOT_TOKEN: TOKEN,
    SLACK_API_URL: fake.apiUrl,
    SLACK_INCIDENTS_CHANNEL: INCIDENTS,
    ...env,
  });
  const app = createApp(config, { log: createLogger('silent'), ...(now ? { now } : {}) });
  const worker = app.background.find((b): b is typeof b & { tune(o: Record<string, unknown>): void } => typeof (b as { tune?: unknown }).tune === 'function');
  // Short waits so retried deliveries finish within a test; Retry-After still wins when longer.
  worker?.tune({ pollMs: 25, backoff: { baseMs: 50, maxMs: 500, jitter: 0 } });
  const server = await startServer(app, 0, '127.0.0.1');
  const url = server.url;

  async function post(body: string, contentType: string, headers: Record<string, string> = {}): Promise<Posted> {
    const ts = Math.floor(app.now() / 1000);
    const started = performance.now();
    const res = await fetch(`${url}/slack/events`, {
      method: 'POST',
      headers: { 'content-type': contentType, 'x-slack-request-timestamp': String(ts), 'x-slack-signature': sign(body, ts), ...headers },
      body,
    });
    const text = await res.text();
    return { status: res.status, text, json: () => JSON.parse(text), ms: performance.now() - started };
  }

  let triggers = 0;
  const harness: Harness = {
    app,
    fake,
    server,
    url,
    post,
    slash(text, opts = {}) {
      // The captured slash command, retargeted at /incident and at the fake's response_url.
      const form = new URLSearchParams(fixture('slash_command-real.form.txt'));
      form.set('command', '/incident');
      form.set('text', text);
      form.set('user_id', opts.user ?? 'U0ALICE');
      form.set('channel_id', opts.channel ?? 'C0GENERAL');
      form.set('trigger_id', `trigger.${++triggers}`);
      const responseId = opts.responseId ?? `cmd-${triggers}`;
      form.set('response_url', fake.responseUrl(responseId));
      // What the person sees comes back in the ack when the command is applied at once, or on
      // response_url when it was queued: the fake keeps both, in the order they arrived.
      return post(form.toString(), 'application/x-www-form-urlencoded').then((res) => {
        fake.recordAck(responseId, res.text);
        return res;
      });
    },
    interaction(payload) {
      return post(new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), 'application/x-www-form-urlencoded');
    },
    event(envelope, headers = {}) {
      return post(JSON.stringify(envelope), 'application/json', headers);
    },
    async drain() {
      const slackRows = () =>
        app.db
          .select()
          .from(outbox)
          .where(and(like(outbox.target, 'slack:%'), inArray(outbox.state, ['pending', 'in_flight'])))
          .orderBy(asc(outbox.id))
          .all();
      if (worker) {
        const end = Date.now() + 15_000;
        while (slackRows().length) {
          if (Date.now() > end) throw new Error(`outbox not drained: ${JSON.stringify(slackRows().map((r) => [r.kind, r.state, r.lastError]))}`);
          (worker as unknown as { kick(): void }).kick();
          await new Promise((r) => setTimeout(r, 20));
        }
        return;
      }
      // No outbox worker wired in: deliver in order by hand, the way the worker would.
      for (let guard = 0; guard < 200; guard++) {
        const row = slackRows()[0];
        if (!row) return;
        const target = app.targets.find((t) => t.handles(row.target))!;
        const result = await target.deliver(
          {
            id: row.id,
            deliveryId: row.deliveryId,
            incidentId: row.incidentId,
            target: row.target,
            kind: row.kind,
            payload: row.payload,
            attempts: row.attempts,
            createdAt: row.createdAt,
            approvedAt: row.approvedAt,
            folded: 0,
          },
          new AbortController().signal,
        );
        if (result.kind === 'retry') {
          app.db
            .update(outbox)
            .set({ attempts: row.attempts + 1, lastError: result.error })
            .where(eq(outbox.id, row.id))
            .run();
          await new Promise((r) => setTimeout(r, Math.min(result.retryAfterMs ?? 50, 2_000)));
          continue;
        }
        app.db
          .update(outbox)
          .set(
            result.kind === 'delivered'
              ? { state: 'delivered', remoteRef: result.remoteRef ?? null, deliveredAt: Date.now() }
              : { state: 'dead', lastError: result.error },
          )
          .where(eq(outbox.id, row.id))
          .run();
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

/** A block_actions payload shaped like the captured thread-message click, for one of our buttons. */
export function blockAction(opts: { user?: string; actionId: string; value: string; channel: string; messageTs: string; threadTs?: string }) {
  const p = jsonFixture('block_actions-button-thread-message.json');
  p.user = { ...p.user, id: opts.user ?? 'U0ALICE' };
  p.container = {
    type: 'message',
    message_ts: opts.messageTs,
    channel_id: opts.channel,
    is_ephemeral: false,
    ...(opts.threadTs ? { thread_ts: opts.threadTs } : {}),
  };
  p.channel = { id: opts.channel, name: 'incidents' };
  p.trigger_id = `trig.${Math.random().toString(36).slice(2)}`;
  p.response_url = 'http://127.0.0.1:1/unused';
  p.actions = [{ ...p.actions[0], action_id: opts.actionId, block_id: 'sitrep', value: opts.value, action_ts: `${Date.now() / 1000}` }];
  delete p.state;
  return p;
}

/** A view_submission shaped like the captured one, carrying our modal's callback and state. */
export function viewSubmission(opts: {
  user?: string;
  callbackId: string;
  viewId?: string;
  meta?: Record<string, unknown>;
  values: Record<string, Record<string, unknown>>;
}) {
  const p = jsonFixture('view_submission-static_select-datepicker-plain_text_input.json');
  p.user = { ...p.user, id: opts.user ?? 'U0ALICE' };
  p.view = {
    ...p.view,
    id: opts.viewId ?? `V${Math.random().toString(36).slice(2, 10).toUpperCase()}`,
    callback_id: opts.callbackId,
    private_metadata: JSON.stringify(opts.meta ?? {}),
    state: { values: Object.fromEntries(Object.entries(opts.values).map(([block, el]) => [block, { value: el }])) },
  };
  return p;
}

/** The declare modal submitted from #general: "DB down!", sev 2, Bob as lead, in a channel of its own. */
export function dedicatedDeclareSubmission() {
  return viewSubmission({
    callbackId: 'sitrep_declare',
    meta: { channel: 'C0GENERAL' },
    values: {
      title: { type: 'plain_text_input', value: 'DB down!' },
      severity: { type: 'static_select', selected_option: { value: '2' } },
      lead: { type: 'users_select', selected_user: 'U0BOB' },
      dedicated: { type: 'checkboxes', selected_options: [{ value: 'yes' }] },
    },
  });
}

/** A Socket Mode envelope carrying `/incident <text>`, shaped like the one Slack sends. */
export function slashEnvelope(envelopeId: string, text: string, responseUrl: string, user = 'U0ALICE') {
  return {
    envelope_id: envelopeId,
    type: 'slash_commands',
    accepts_response_payload: true,
    payload: {
      token: 'legacy',
      team_id: 'T0FAKE',
      team_domain: 'fake',
      channel_id: 'C0GENERAL',
      channel_name: 'general',
      user_id: user,
      user_name: user.toLowerCase(),
      command: '/incident',
      text,
      api_app_id: 'A0FAKE',
      is_enterprise_install: 'false',
      response_url: responseUrl,
      trigger_id: `trigger.${envelopeId}`,
    },
  };
}

/**
 * Calls `fn` with each envelope ack the moment the fake reads it off the socket, before anything
 * else runs in this process: what is on disk then is what an acknowledged envelope can count on.
 */
export function onSocketAck(fake: FakeSlackApi, fn: (ack: Record<string, unknown>) => void): void {
  const acks = fake.socket.acks;
  const push = acks.push.bind(acks);
  acks.push = (...items) => {
    for (const a of items) fn(a);
    return push(...items);
  };
}
