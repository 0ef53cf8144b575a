import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../adapters/console/cli.js';
import { loadConfig } from '../../src/config.js';
import { createApp } from '../../src/main.js';
import { createLogger } from '../../src/logger.js';
import { verifyWebhook } from '../../src/mirror/signing.js';
import { startWebhookReceiver } from '../fakes/webhook-receiver.js';
import { startHarness, waitUntil, type Harness } from '../mirror/helpers.js';
import { frozenClock, skipUntil } from './schedule-clock.js';

// 410 Gone through real HTTP to a scripted receiver on 127.0.0.1: the subscription is disabled at
// once (the endpoint said it is gone for good), what still waits for it is kept as dead letters,
// each incident's thread is told once, nothing more is enqueued or sent to it, and an admin
// enables it again with `subscribe` of the same target or `deliveries retry`.

const H = 3_600_000;
const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

type Row = ReturnType<Harness['rows']>[number];

async function setup() {
  const clock = frozenClock();
  const rx = await startWebhookReceiver({ status: 500 });
  closers.push(() => rx.close());
  const h = await startHarness({ SITREP_ADMINS: 'cli:admin' }, { now: clock.now });
  closers.push(() => h.close());
  await h.run('component add Web App');
  const sub = (await h.run(`subscribe webhook:${rx.url}`)).data as { id: string; secret: string };
  await h.run('declare "Database down" components:web-app=major');
  await h.run('declare "Texts delayed" components:web-app=degraded');
  return { clock, rx, h, sub };
}

async function cli(h: Harness, ...argv: string[]): Promise<{ code: number; json: any }> {
  let out = '';
  const config = loadConfig({ SITREP_DB: h.app.config.dbFile, LOG_LEVEL: 'silent', USER: 'admin', SITREP_ADMINS: 'cli:admin' });
  const code = await runCli([...argv, '--json'], {
    config,
    createApp: (c) => createApp(c, { log: createLogger('silent') }),
    out: (s) => (out += s),
    err: (s) => (out += s),
  });
  return { code, json: JSON.parse(out) };
}

const rowOf = (h: Harness, id: number): Row => h.rows().find((r) => r.id === id)!;
const newest = (h: Harness, incidentId: number) =>
  h
    .rows()
    .filter((r) => r.target === 'webhook:S-1' && r.incidentId === incidentId)
    .at(-1)!;
const failures = async (h: Harness, inc: string) =>
  ((await h.run(`timeline ${inc}`)).data.events as Array<{ kind: string; text: string }>).filter((e) => e.kind === 'delivery_failed');
const settled = (h: Harness, id: number, attempts: number) =>
  waitUntil(() => rowOf(h, id).attempts === attempts && rowOf(h, id).state !== 'in_flight', 10_000, `attempt ${attempts} of #${id} recorded`);

describe('410 Gone', () => {
  it('disables the subscription: shown in `subscriptions`, what waits is kept dead, each incident told once, nothing more enqueued; `subscribe` of the same target enables it again with the same secret', async () => {
    const { clock, rx, h, sub } = await setup();
    // INC-2's row fails twice (waits 5 min), INC-1's once (waits 5 s); then the endpoint is gone.
    await h.run('draft INC-2 "SMS is slow"');
    const waiting = newest(h, 2);
    await settled(h, waiting.id, 1);
    clock.advance(rowOf(h, waiting.id).nextAttemptAt - clock.now());
    await settled(h, waiting.id, 2);
    await h.run('draft INC-1 "Investigating"');
    const gone = newest(h, 1);
    await settled(h, gone.id, 1);
    rx.setDefault({ status: 410 });
    clock.advance(rowOf(h, gone.id).nextAttemptAt - clock.now());
    await waitUntil(() => rowOf(h, gone.id).state === 'dead' && rowOf(h, waiting.id).state === 'dead', 5_000, 'both dead');

    expect(rowOf(h, gone.id)).toMatchObject({ attempts: 2, lastError: 'HTTP 410 Gone: the receiver says this endpoint no longer exists' });
    expect(rowOf(h, waiting.id)).toMatchObject({ attempts: 2, lastError: 'not sent: S-1 was disabled (the endpoint answered 410 Gone)' });
    expect(rx.requests.map((q) => (typeof q.answer === 'object' ? q.answer.status : q.answer))).toEqual([500, 500, 500, 410]);

    const listed = (await cli(h, 'subscriptions')).json.subscriptions[0];
    expect(listed).toMatchObject({ id: 'S-1', disabled: true, disabled_cause: 'gone', disabled_reason: 'the endpoint answered 410 Gone' });
    expect(Math.abs(Date.parse(listed.disabled_at) - clock.now())).toBeLessThan(1_000);
    expect((await h.run('subscriptions')).text).toContain('DISABLED');
    expect((await h.run('subscriptions')).text).toContain('the endpoint answered 410 Gone');

    const inc1 = await failures(h, 'INC-1');
    expect(inc1).toHaveLength(1);
    expect(inc1[0]!.text).toContain('did not reach webhook:S-1: HTTP 410 Gone');
    expect(inc1[0]!.text).toContain('S-1 is now disabled (the endpoint answered 410 Gone): nothing more is sent to it');
    expect(inc1[0]!.text).toContain(`Kept as delivery #${gone.id}`);
    const inc2 = await failures(h, 'INC-2');
    expect(inc2).toHaveLength(1);
    expect(inc2[0]!.text).toContain(`Kept as delivery #${waiting.id}`);

    // Nothing more is enqueued, and nothing more is sent, however long it waits.
    const count = h.rows().length;
    await h.run('draft INC-1 "Cause found"');
    expect(h.rows()).toHaveLength(count);
    clock.advance(80 * H);
    await new Promise((r) => setTimeout(r, 150));
    expect(rx.requests).toHaveLength(4);

    // A changed filter is refused and writes nothing; the same target as before enables it.
    const refused = await cli(h, 'subscribe', `webhook:${rx.url}`, 'components:web-app');
    expect(refused.code).toBe(1);
    expect(refused.json.error.code).toBe('CONFLICT');
    expect((await cli(h, 'subscriptions')).json.subscriptions[0].disabled).toBe(true);
    rx.setDefault({ status: 200 });
    const again = await cli(h, 'subscribe', `webhook:${rx.url}`);
    expect(again.code).toBe(0);
    expect(again.json).toMatchObject({ id: 'S-1', secret: null, reenabled: true, dead: [waiting.id, gone.id] });
    expect((await cli(h, 'subscriptions')).json.subscriptions[0]).toMatchObject({ disabled: false, disabled_cause: null, disabled_reason: null });
    await h.run('draft INC-1 "Fix deployed"');
    await rx.waitFor((r) => r.accepted().length === 1);
    const got = rx.accepted()[0]!;
    expect(got.json.incident.incident_updates.map((u: { body: string }) => u.body)).toEqual(['Fix deployed', 'Cause found', 'Investigating']);
    expect(verifyWebhook(sub.secret, got, got.body)).toBe(true); // the secret the receiver holds still verifies
    // The dead letters stay dead until retried, and are retryable.
    expect(rowOf(h, gone.id).state).toBe('dead');
    expect((await cli(h, 'deliveries', 'retry', String(gone.id))).code).toBe(0);
    await waitUntil(() => rowOf(h, gone.id).state === 'delivered', 5_000, 'dead letter delivered');
    expect(rx.accepted().map((q) => q.id)).toContain(gone.deliveryId);
    expect(await failures(h, 'INC-1')).toHaveLength(1);
  }, 30_000);

  it('a row in flight in another lane when the 410 came is not sent again, and its incident is told once', async () => {
    const { clock, rx, h } = await setup();
    rx.script('hang', { status: 410 });
    await h.run('draft INC-1 "Investigating"');
    await h.run('draft INC-2 "SMS is slow"');
    await rx.waitFor((r) => r.requests.length === 2);
    const [hung, refused] = rx.requests[0]!.json.incident.id === 'INC-1' ? [newest(h, 1), newest(h, 2)] : [newest(h, 2), newest(h, 1)];
    await waitUntil(() => rowOf(h, refused.id).state === 'dead', 5_000, 'the 410 recorded');
    expect((await h.run('subscriptions')).data.subscriptions[0].disabled).toBe(true);
    // The hung attempt times out, comes back to retry, and finds S-1 disabled when it is due.
    await skipUntil(h, clock, () => rowOf(h, hung.id).state === 'dead');
    expect(rowOf(h, hung.id).lastError).toBe('not sent: S-1 is disabled (the endpoint answered 410 Gone)');
    expect(rx.requests).toHaveLength(2);
    for (const inc of ['INC-1', 'INC-2']) expect(await failures(h, inc), inc).toHaveLength(1);
    const told = (await failures(h, `INC-${hung.incidentId}`))[0]!.text;
    expect(told).toContain('S-1 is disabled (the endpoint answered 410 Gone)');
    expect(told).toContain(`deliveries retry ${hung.id}\` sends it again and enables S-1 again`);
    // `deliveries retry` enables it and sends the row that never got through.
    rx.setDefault({ status: 200 });
    const retried = await cli(h, 'deliveries', 'retry', String(hung.id));
    expect(retried.json).toMatchObject({ reenabled: true, subscription: 'S-1' });
    await waitUntil(() => rowOf(h, hung.id).state === 'delivered', 5_000, 'delivered after retry');
    expect(rx.accepted().map((q) => q.id)).toEqual([hung.deliveryId]);
  }, 30_000);
});
