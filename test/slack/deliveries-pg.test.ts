import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type App } from '../../src/main.js';
import { PgOutboxWorker } from '../../src/mirror/worker.pg.js';
import type { Target } from '../../src/mirror/target.js';
import { startFakeSlackApi, type FakeMessage, type FakeSlackApi, type FakeSlackOptions } from '../fakes/slack-api.js';
import { FAST } from '../mirror/helpers.js';
import { engines } from '../support/engines.js';
import { INCIDENTS, SECRET, TOKEN, dedicatedDeclareSubmission, fixture, sign } from './harness.js';

// Slack deliveries with Sitrep on PostgreSQL: the real server on a real PostgreSQL database, its
// PostgreSQL outbox worker, the Slack targets and the fake Slack Web API over HTTP. The incident's
// thread (root, replies, its own channel, a private incident's private channel) and customer
// channels (paced, 429 Retry-After honoured, waiting updates folded) are delivered, and nothing is
// left waiting in the outbox.

const postgres = engines.find((e) => e.name === 'PostgreSQL')!;

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

interface Sitrep {
  app: App;
  fake: FakeSlackApi;
  url: string;
  /** A signed /incident slash command; resolves with what its sender was shown. */
  slash(text: string, opts?: { user?: string; channel?: string }): Promise<string>;
  /** A signed interaction (a modal's submission). */
  interaction(payload: Record<string, unknown>): Promise<number>;
  /** A command as the CLI runs it. */
  run(text: string): Promise<any>;
  rows(text: string, ...params: unknown[]): Promise<any[]>;
  /** Waits until no Slack row is pending or in flight; every one of them then is delivered (or folded). */
  drained(): Promise<void>;
}

/** Slash commands' trigger ids: one per invocation, across the replicas of a test. */
let triggers = 0;

async function sitrep(env: Record<string, string> = {}, fakeOptions: Omit<FakeSlackOptions, 'token'> = {}, fake?: FakeSlackApi): Promise<Sitrep> {
  if (!fake) {
    const f = await startFakeSlackApi({ ...fakeOptions, token: TOKEN });
    closers.push(() => f.close());
    fake = f;
  }
  const api = fake;
  const app = await postgres.app({
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_BOT_TOKEN: TOKEN,
    SLACK_API_URL: api.apiUrl,
    SITREP_APPROVAL: 'off',
    SITREP_ADMINS: 'cli:admin',
    USER: 'admin',
    ...env,
  });
  const worker = app.background.find((b): b is PgOutboxWorker => b instanceof PgOutboxWorker);
  if (!worker) throw new Error('no PostgreSQL outbox worker in app.background');
  worker.tune({ ...FAST, attemptTimeoutMs: 10_000 });
  const server = await startServer(app, 0, '127.0.0.1');
  closers.push(() => server.close());

  const post = async (body: string, contentType: string) => {
    const ts = Math.floor(Date.now() / 1000);
    const res = await fetch(`${server.url}/slack/events`, {
      method: 'POST',
      headers: { 'content-type': contentType, 'x-slack-request-timestamp': String(ts), 'x-slack-signature': sign(body, ts) },
      body,
    });
    return { status: res.status, text: await res.text() };
  };
  const rows = (text: string, ...params: unknown[]) => postgres.rows(app, text, ...params);
  return {
    app,
    fake: api,
    url: server.url,
    async slash(text, opts = {}) {
      const form = new URLSearchParams(fixture('slash_command-real.form.txt'));
      const id = `pg-cmd-${++triggers}`;
      form.set('command', '/incident');
      form.set('text', text);
      form.set('user_id', opts.user ?? 'U0ALICE');
      form.set('channel_id', opts.channel ?? 'C0GENERAL');
      form.set('trigger_id', `trigger.${id}`);
      form.set('response_url', api.responseUrl(id));
      const res = await post(form.toString(), 'application/x-www-form-urlencoded');
      expect(res.status).toBe(200);
      api.recordAck(id, res.text);
      await api.waitFor((f) => f.responses.some((r) => r.id === id));
      return String(api.responses.find((r) => r.id === id)!.body.text);
    },
    async interaction(payload) {
      return (await post(new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), 'application/x-www-form-urlencoded')).status;
    },
    async run(text) {
      const r = await app.run(text, 'cli:admin', { platform: 'cli' });
      if (!r.ok) throw new Error(`${text} → ${r.error.code}: ${r.error.message}`);
      return r.reply;
    },
    rows,
    async drained() {
      const waiting = () =>
        rows("select kind, state, last_error as \"lastError\" from outbox where target like 'slack:%' and state in ('pending', 'in_flight')");
      await until('the Slack rows to be delivered', async () => (await waiting()).length === 0, 20_000, waiting);
      expect(await rows("select id, kind, state, last_error from outbox where target like 'slack:%' and state not in ('delivered', 'folded')")).toEqual([]);
    },
  };
}

async function until(what: string, pred: () => Promise<boolean> | boolean, timeoutMs = 15_000, show?: () => Promise<unknown>): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${show ? `: ${JSON.stringify(await show())}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const rootIn = (fake: FakeSlackApi, channel: string) => fake.messages.find((m) => m.channel === channel && !m.thread_ts);
const repliesTo = (fake: FakeSlackApi, ts: string) => fake.messages.filter((m) => m.thread_ts === ts);
const blocksText = (m: FakeMessage | undefined) => JSON.stringify(m?.blocks ?? []);
const threadTarget = (t: App) => t.targets.find((x) => x.handles(`slack:thread:${INCIDENTS}`))!;
const row = (target: string, kind: string, incidentId: number) => ({ target, kind, payload: {}, incidentId });

describe.skipIf(postgres.skip)('Slack deliveries on PostgreSQL', () => {
  it('declare posts the root and records its ts; a note is a reply under it, the root is edited; nothing is left in the outbox', async () => {
    const s = await sitrep({ SLACK_INCIDENTS_CHANNEL: INCIDENTS });
    expect(await s.slash('declare Checkout errors sev:2')).toContain('INC-1 declared');
    await s.drained();
    const root = rootIn(s.fake, INCIDENTS)!;
    expect(blocksText(root)).toContain('INC-1 · Checkout errors');
    // The root's ts is what the thread row holds: replies and commands in the thread find the incident.
    expect(await s.rows('select incident_id as "incidentId", channel, root_ref as "rootRef", dedicated from incident_threads')).toEqual([
      { incidentId: 1, channel: INCIDENTS, rootRef: root.ts, dedicated: false },
    ]);

    const edits = s.fake.callsOf('chat.update').length;
    expect(await s.slash('note INC-1 DB failover started')).toContain('Noted on INC-1');
    await s.drained();
    const note = repliesTo(s.fake, root.ts).find((m) => blocksText(m).includes('DB failover started'));
    expect(note?.channel).toBe(INCIDENTS);
    expect(s.fake.callsOf('chat.update').length).toBeGreaterThan(edits);
    expect(s.fake.callsOf('chat.update').at(-1)!.params).toMatchObject({ channel: INCIDENTS, ts: root.ts });

    expect(s.fake.calls.filter((c) => !c.valid)).toEqual([]);
    // Every post to the incidents channel was paced: none closer than the interval to the one before.
    const posts = s.fake.calls.filter((c) => c.method === 'chat.postMessage' && c.params.channel === INCIDENTS).map((c) => c.at);
    for (let k = 1; k < posts.length; k++) expect(posts[k]! - posts[k - 1]!).toBeGreaterThanOrEqual(1_000 - 1);
  });

  it('a dedicated channel: created (a taken name retried), invited, root there, link in the incidents channel, replies in it', async () => {
    const s = await sitrep({ SLACK_INCIDENTS_CHANNEL: INCIDENTS });
    s.fake.channels.set('C0TAKEN', 'inc-1-db-down');
    const status = await s.interaction(dedicatedDeclareSubmission());
    expect(status).toBe(200);
    await until('the incident', async () => (await s.rows('select id from incidents')).length === 1);
    await s.drained();
    expect(s.fake.calls.filter((c) => c.method === 'conversations.create').map((c) => c.params.name)).toEqual(['inc-1-db-down', 'inc-1-db-down-2']);
    const channel = [...s.fake.channels].find(([, n]) => n === 'inc-1-db-down-2')![0];
    expect(s.fake.callsOf('conversations.invite')[0]!.params).toMatchObject({ channel, users: 'U0ALICE,U0BOB' });
    const own = rootIn(s.fake, channel)!;
    expect(blocksText(own)).toContain('INC-1 · DB down!');
    const link = rootIn(s.fake, INCIDENTS)!;
    expect(blocksText(link)).toContain(`<#${channel}>`);
    const threads = await s.rows('select channel, root_ref as "rootRef", dedicated from incident_threads order by dedicated');
    expect(threads).toEqual([
      { channel: INCIDENTS, rootRef: link.ts, dedicated: false },
      { channel, rootRef: own.ts, dedicated: true },
    ]);
    // The pace hook knows the incident's own channel (read by the deliveries): replies there are
    // paced under it, the link under the incidents channel.
    const thread = threadTarget(s.app);
    expect(thread.pace?.(row(`slack:thread:${INCIDENTS}`, 'thread_reply', 1))?.key).toBe(`slack:channel:${channel}`);
    expect(thread.pace?.(row(`slack:thread:${INCIDENTS}`, 'link_post', 1))?.key).toBe(`slack:channel:${INCIDENTS}`);

    // Typed in its own channel, a command is about its incident; the reply lands in that thread.
    expect(await s.slash('note checking replicas', { channel })).toContain('Noted on INC-1');
    await s.drained();
    expect(blocksText(repliesTo(s.fake, own.ts).at(-1))).toContain('checking replicas');
    // Every call carried what Slack requires (the refused create is the taken name's).
    expect(s.fake.calls.filter((c) => !c.valid && c.method !== 'conversations.create')).toEqual([]);
  });

  it('a private incident: a private channel, the declarer and lead invited and made members; nothing in the shared channel', async () => {
    const s = await sitrep({ SLACK_INCIDENTS_CHANNEL: INCIDENTS });
    const title = 'DB credentials leak';
    s.fake.channels.set('C0TAKEN', 'inc-1-db-credentials-leak');
    expect(await s.slash(`declare ${title} sev:1 lead:<@U0BOB> visibility:private`)).toContain('INC-1 declared');
    await s.drained();
    expect(s.fake.calls.filter((c) => c.method === 'conversations.create').map((c) => [c.params.name, String(c.params.is_private)])).toEqual([
      ['inc-1-db-credentials-leak', 'true'],
      ['inc-1-db-credentials-leak-2', 'true'],
    ]);
    const channel = [...s.fake.channels].find(([, n]) => n === 'inc-1-db-credentials-leak-2')![0];
    expect(s.fake.privateChannels.has(channel)).toBe(true);
    expect([...s.fake.members.get(channel)!].sort()).toEqual(['U0ALICE', 'U0BOB', 'U0SITREP']);
    const root = rootIn(s.fake, channel)!;
    expect(blocksText(root)).toContain(`INC-1 · ${title}`);
    expect(s.fake.callsOf('chat.postMessage').filter((c) => c.params.channel === INCIDENTS)).toEqual([]);
    expect(await s.rows('select channel, root_ref as "rootRef", dedicated from incident_threads')).toEqual([{ channel, rootRef: root.ts, dedicated: true }]);
    expect(await s.rows('select private_channel as c from incidents where id = 1')).toEqual([{ c: channel }]);
    // The invited may see it from anywhere: recorded as its members by the target.
    const members = await s.rows("select value, updated_by as by from settings where key like 'private_member:1:%' order by value");
    expect(members).toEqual(
      expect.arrayContaining([
        { value: 'slack:U0ALICE', by: 'system:sitrep' },
        { value: 'slack:U0BOB', by: 'system:sitrep' },
      ]),
    );

    // Typed in the private channel by someone in it, a command is about its incident.
    expect(await s.slash('note rotating the keys', { user: 'U0CAROL', channel })).toContain('Noted on INC-1');
    await s.drained();
    expect(blocksText(repliesTo(s.fake, root.ts).at(-1))).toContain('rotating the keys');
  });

  it('another replica, which delivered nothing yet, paces a private lane under its channel once lookup() has read it', async () => {
    const file = `pg-slack-lookup-${process.pid}.db`;
    const a = await sitrep({ SITREP_DB: file, SLACK_INCIDENTS_CHANNEL: INCIDENTS });
    expect(await a.slash('declare Quiet one sev:2 visibility:private')).toContain('INC-1 declared');
    await a.drained();
    const channel = (await a.rows('select private_channel as c from incidents where id = 1'))[0].c as string;
    expect(channel).toMatch(/^C/);
    // A second replica on the same database: its worker has not run a row of this incident.
    const b = await sitrep({ SITREP_DB: file, SLACK_INCIDENTS_CHANNEL: INCIDENTS }, {}, a.fake);
    const target: Target = threadTarget(b.app);
    const lane = 'slack:thread:private:INC-1';
    expect(target.lookup).toBeDefined();
    await target.lookup!([lane, `slack:thread:${INCIDENTS}`], [row(lane, 'thread_reply', 1)]);
    expect(target.pace?.(row(lane, 'thread_reply', 1))).toEqual({ key: `slack:channel:${channel}`, intervalMs: 1_000 });
    // A third replica learns the channel from the claimed row's incident alone, whatever its lane says.
    const c = await sitrep({ SITREP_DB: file, SLACK_INCIDENTS_CHANNEL: INCIDENTS }, {}, a.fake);
    const third: Target = threadTarget(c.app);
    const shared = `slack:thread:${INCIDENTS}`;
    expect(third.pace?.(row(shared, 'thread_reply', 1))).toEqual({ key: `slack:channel:${INCIDENTS}`, intervalMs: 1_000 });
    await third.lookup!([shared], [row(shared, 'thread_reply', 1)]);
    expect(third.pace?.(row(shared, 'thread_reply', 1))).toEqual({ key: `slack:channel:${channel}`, intervalMs: 1_000 });
    expect(target.pace?.(row(lane, 'root_update', 1))).toBeUndefined();
    // Either replica may deliver what either one writes: a note typed in the private channel (to
    // the second replica) lands under the root the first one posted.
    const root = rootIn(a.fake, channel)!;
    expect(await b.slash('note handled by the other replica', { channel })).toContain('Noted on INC-1');
    await b.drained();
    expect(blocksText(repliesTo(a.fake, root.ts).at(-1))).toContain('handled by the other replica');
    expect(a.fake.calls.filter((c) => c.method === 'conversations.create' && c.status === 200 && c.valid)).toHaveLength(1);
  });

  it('a maintenance thread and an incident approval: root, approval request, its edit once decided, root edits; customers get the approved text', async () => {
    const s = await sitrep({ SLACK_INCIDENTS_CHANNEL: INCIDENTS, SITREP_APPROVAL: 'required', SITREP_TIMEZONE: 'UTC' });
    await s.run('component add API');
    await s.run('approver add cli:admin');
    await s.run('subscribe slack:C0CUST0001');
    const starts = Math.ceil((Date.now() + 3_600_000) / 60_000) * 60_000;
    const window = `starts:${new Date(starts).toISOString()} ends:${new Date(starts + 3_600_000).toISOString()}`;
    const scheduled = await s.app.run(`maintenance schedule "DB upgrade" ${window} components:api We upgrade the database.`, 'slack:U0ALICE', {
      platform: 'slack',
      channel: 'C0GENERAL',
    });
    expect(scheduled.ok).toBe(true);
    await s.drained();
    const root = rootIn(s.fake, INCIDENTS)!;
    expect(blocksText(root)).toContain('M-1 · DB upgrade');
    expect(await s.rows('select channel, root_ref as "rootRef" from maintenance_threads')).toEqual([{ channel: INCIDENTS, rootRef: root.ts }]);
    const request = repliesTo(s.fake, root.ts).find((m) => blocksText(m).includes('D-1 needs approval'))!;
    expect(request).toBeDefined();
    expect(s.fake.messages.filter((m) => m.channel === 'C0CUST0001')).toEqual([]);

    await s.run('approve D-1');
    await s.drained();
    // The request is edited to say it was decided, and the root to show the text now public.
    const decided = s.fake.callsOf('chat.update').find((c) => c.params.ts === request.ts);
    expect(JSON.stringify(decided?.params.blocks)).toContain('D-1 approved');
    expect(s.fake.callsOf('chat.update').some((c) => c.params.ts === root.ts)).toBe(true);
    const customer = s.fake.messages.filter((m) => m.channel === 'C0CUST0001');
    expect(customer.map((m) => Boolean(m.thread_ts))).toEqual([false, true]);
    expect(customer[1]!.text).toContain('We upgrade the database.');

    // An incident's draft: its approval request in the thread, edited once approved.
    expect(await s.slash('declare Checkout errors sev:2')).toContain('INC-1 declared');
    // Written by someone else than the approver (the two-person rule).
    expect((await s.app.run('draft INC-1 "We are looking into checkout errors."', 'slack:U0ALICE', { platform: 'slack', channel: INCIDENTS })).ok).toBe(true);
    await s.drained();
    const incidentRoot = s.fake.messages.find((m) => m.channel === INCIDENTS && !m.thread_ts && blocksText(m).includes('INC-1'))!;
    const incidentRequest = repliesTo(s.fake, incidentRoot.ts).find((m) => blocksText(m).includes('D-2 needs approval'))!;
    expect(incidentRequest).toBeDefined();
    await s.run('approve D-2');
    await s.drained();
    expect(JSON.stringify(s.fake.callsOf('chat.update').find((c) => c.params.ts === incidentRequest.ts)?.params.blocks)).toContain('D-2 approved');
    expect(s.fake.calls.filter((c) => !c.valid)).toEqual([]);
  });

  it('an approved update reaches every subscribed customer channel, paced, with a 429 Retry-After honoured and waiting updates folded', async () => {
    // The fake keeps Slack's limit itself: a second post to a channel within a second is refused.
    const s = await sitrep({}, { rateLimit: { perChannel: 1 } });
    const channels = ['C0CUST0001', 'C0CUST0002', 'C0CUST0003'];
    for (const c of channels) await s.run(`subscribe slack:${c}`);
    await s.run('declare "Checkout errors" sev:2');
    // Slack refuses the first post with a 429 asking for 2 s: that channel's lane waits, and the
    // updates approved meanwhile wait behind it.
    s.fake.failNext('chat.postMessage', { status: 429, retryAfter: 2 });
    await s.run('draft INC-1 "We are investigating errors at checkout."');
    await until('the refused post', () => s.fake.calls.some((c) => c.method === 'chat.postMessage' && c.status === 429));
    const refused = s.fake.calls.find((c) => c.method === 'chat.postMessage' && c.status === 429)!;
    const slow = String(refused.params.channel);
    await s.run('draft INC-1 "We found the cause."');
    await s.run('draft INC-1 "A fix is being deployed."');
    await s.drained();

    // Nothing provoked the fake's own limit: every channel's posts were paced.
    expect(s.fake.rateLimited()).toBe(0);
    for (const c of channels) {
      const posts = s.fake.calls.filter((x) => x.method === 'chat.postMessage' && x.params.channel === c).map((x) => x.at);
      for (let k = 1; k < posts.length; k++) expect(posts[k]! - posts[k - 1]!, c).toBeGreaterThanOrEqual(1_000 - 1);
      const roots = s.fake.messages.filter((m) => m.channel === c && !m.thread_ts);
      expect(roots, c).toHaveLength(1); // the incident's one message: not lost, not doubled
      const replies = s.fake.messages.filter((m) => m.channel === c && m.thread_ts);
      expect(replies.every((m) => m.thread_ts === roots[0]!.ts)).toBe(true);
      expect(replies.at(-1)!.text, c).toContain('A fix is being deployed.');
    }
    // The refused post was sent again no sooner than Slack asked, and only once more.
    const again = s.fake.calls.filter((c) => c.method === 'chat.postMessage' && c.params.channel === slow);
    expect(again[1]!.at - refused.at).toBeGreaterThanOrEqual(2_000 - 1);
    // Behind it, the three updates waited: the newest went alone, folding in the two before it.
    const slowReplies = s.fake.messages.filter((m) => m.channel === slow && m.thread_ts);
    expect(slowReplies).toHaveLength(1);
    expect(slowReplies[0]!.text).toContain('This message folds in 2 earlier updates.');
    const updates = await s.rows(
      'select state, attempts, folded_into as "foldedInto" from outbox where target = ? and kind = \'slack.customer_update\' order by id',
      `slack:${slow}`,
    );
    expect(updates.map((u) => u.state)).toEqual(['folded', 'folded', 'delivered']);
    const rootRow = await s.rows("select state, attempts from outbox where target = ? and kind = 'slack.customer_root'", `slack:${slow}`);
    expect(rootRow).toEqual([{ state: 'delivered', attempts: 2 }]);
  });
});
