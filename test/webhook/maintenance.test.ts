import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { loadMaintenanceEvents } from '../../db/queries/maintenances.js';
import { noticeFor } from '../../src/domain/maintenance.js';
import { verifyWebhook } from '../../src/mirror/signing.js';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from '../fakes/webhook-receiver.js';
import { movableClock, startHarness, waitUntil, type Harness } from '../mirror/helpers.js';
import { skipToNextAttempt } from './schedule-clock.js';

// Scheduled maintenance on outgoing webhooks, through the real server: commands publish, the
// scheduler starts the work at its time (injected clock), and the outbox worker delivers to a
// receiver on 127.0.0.1 that several subscriptions share under different paths. Bodies are
// Statuspage's incident webhook (the real body in test/fixtures/statuspage/webhooks/) with the
// scheduled fields; a 410 from a maintenance's delivery disables the subscription and is told in
// the maintenance's timeline.

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const MIN = 60_000;
const REFERENCE = JSON.parse(readFileSync(new URL('../fixtures/statuspage/webhooks/zulip_incident_update.json', import.meta.url), 'utf8'));
/** `starts:`/`ends:` as typed (SITREP_TIMEZONE is UTC here). */
const typed = (ms: number) => new Date(ms).toISOString().slice(0, 16);

type Sub = { id: string; target: string; secret: string };

async function setup(rxDefault?: { status: number }) {
  const clock = movableClock();
  const rx = await startWebhookReceiver(rxDefault);
  closers.push(() => rx.close());
  // Attempts get a generous budget: a slow machine must not turn one delivery into two.
  const h = await startHarness(
    { SITREP_APPROVAL: 'required', SITREP_PUBLIC_URL: 'https://status.example.com' },
    { now: clock.now, tune: { attemptTimeoutMs: 15_000 } },
  );
  closers.push(() => h.close());
  await h.run('component add API');
  await h.run('component add "Web App"');
  await h.run('approver add @carol');
  const startsAt = Math.ceil((clock.now() + 120 * MIN) / MIN) * MIN;
  const endsAt = startsAt + 90 * MIN;
  return { clock, rx, h, startsAt, endsAt };
}
const subscribe = async (h: Harness, url: string, filter = ''): Promise<Sub> => (await h.run(`subscribe webhook:${url}${filter}`)).data;
/** What one subscription got, each message once (a receiver dedupes on webhook-id). */
const at = (rx: WebhookReceiver, path: string) => {
  const seen = new Set<string>();
  return rx.accepted().filter((r) => r.path === path && !seen.has(r.id) && seen.add(r.id));
};
/** Both filtered-in subscriptions got `n` messages, the last announcing `status`. */
const both = (rx: WebhookReceiver, n: number, status: string) =>
  rx.waitFor((x) => ['/hooks/sitrep/all', '/hooks/sitrep/api'].every((p) => at(x, p).length === n && at(x, p)[n - 1]!.json.incident.status === status));
const webhookRows = (h: Harness) => h.rows().filter((r) => r.target.startsWith('webhook:'));

/**
 * Whether `ours` has the reference's shape: the same keys at every level (objects in arrays
 * against the reference's first), and the same JSON type wherever neither side is null.
 */
function shapeProblems(ours: unknown, ref: unknown, path: string, out: string[] = []): string[] {
  if (ours === null || ref === null) return out;
  if (Array.isArray(ref)) {
    if (!Array.isArray(ours)) out.push(`${path}: expected an array`);
    else if (ref.length) for (const [i, v] of ours.entries()) shapeProblems(v, ref[0], `${path}[${i}]`, out);
    return out;
  }
  if (typeof ref === 'object') {
    if (typeof ours !== 'object' || Array.isArray(ours)) return [...out, `${path}: expected an object`];
    const a = Object.keys(ours as object).sort();
    const b = Object.keys(ref as object).sort();
    for (const k of b) if (!a.includes(k)) out.push(`${path}.${k}: missing`);
    for (const k of a) if (!b.includes(k)) out.push(`${path}.${k}: not in Statuspage's body`);
    for (const k of b) if (a.includes(k)) shapeProblems((ours as any)[k], (ref as any)[k], `${path}.${k}`, out);
    return out;
  }
  if (typeof ours !== typeof ref) out.push(`${path}: ${typeof ours}, Statuspage sends ${typeof ref}`);
  return out;
}

describe('scheduled maintenance on webhooks', () => {
  it('sends each public text, signed, in order, to the subscriptions whose filter meets its components; nothing before approval', async () => {
    const { clock, rx, h, startsAt, endsAt } = await setup();
    const all = await subscribe(h, `${rx.url}/all`);
    const api = await subscribe(h, `${rx.url}/api`, ' components:api');
    await subscribe(h, `${rx.url}/web`, ' components:web-app');

    await h.run(`maintenance schedule "Database upgrade" starts:${typed(startsAt)} ends:${typed(endsAt)} components:api We are upgrading our database.`);
    // The announcement is a draft: nothing is enqueued for anyone.
    expect(webhookRows(h)).toEqual([]);
    await h.run('approve D-1', 'cli:carol');
    // One row per matching subscription, in the approving transaction, each in the maintenance's lane of it.
    expect(webhookRows(h).map((r) => [r.target, r.incidentId, r.kind, r.customerFacing])).toEqual([
      ['webhook:S-1|M-1', null, 'webhook.maintenance_update', true],
      ['webhook:S-2|M-1', null, 'webhook.maintenance_update', true],
    ]);
    await both(rx, 1, 'scheduled');

    // The scheduler starts it at starts: and its notice goes out; a typed update waits for its approval.
    clock.advance(startsAt - clock.now() + 1_000);
    await both(rx, 2, 'in_progress');
    await h.run('maintenance update M-1 status:verifying The upgrade is done; we are checking it.');
    expect(webhookRows(h)).toHaveLength(4);
    await h.run('approve D-3', 'cli:carol');
    await both(rx, 3, 'verifying');
    await h.run('maintenance complete M-1', 'cli:carol');
    await both(rx, 4, 'completed');
    await waitUntil(() => webhookRows(h).every((r) => r.state === 'delivered'), 5_000, 'all delivered');

    expect(rx.requests.filter((r) => r.path === '/hooks/sitrep/web')).toEqual([]);
    const rows = webhookRows(h);
    for (const [path, sub] of [
      ['/hooks/sitrep/all', all],
      ['/hooks/sitrep/api', api],
    ] as const) {
      const got = at(rx, path);
      expect(got).toHaveLength(4);
      for (const r of got) {
        expect(verifyWebhook(sub.secret, r, r.body)).toBe(true);
        expect(rows.find((row) => row.deliveryId === r.id)?.target).toBe(`webhook:${sub.id}|M-1`);
      }
      expect(new Set(got.map((r) => r.id)).size).toBe(4);
      expect(got.map((r) => r.json.incident.status)).toEqual(['scheduled', 'in_progress', 'verifying', 'completed']);
      // Every body lists every text so far, newest first, each with the status it announced.
      expect(got.map((r: ReceivedWebhook) => r.json.incident.incident_updates.map((u: any) => [u.status, u.body]))).toEqual([
        [['scheduled', 'We are upgrading our database.']],
        [
          ['in_progress', noticeFor('start')],
          ['scheduled', 'We are upgrading our database.'],
        ],
        [
          ['verifying', 'The upgrade is done; we are checking it.'],
          ['in_progress', noticeFor('start')],
          ['scheduled', 'We are upgrading our database.'],
        ],
        [
          ['completed', noticeFor('complete')],
          ['verifying', 'The upgrade is done; we are checking it.'],
          ['in_progress', noticeFor('start')],
          ['scheduled', 'We are upgrading our database.'],
        ],
      ]);
      for (const r of got) {
        expect(r.json.incident).toMatchObject({
          id: 'M-1',
          name: 'Database upgrade',
          impact: 'maintenance',
          shortlink: 'https://status.example.com/maintenances/M-1',
          scheduled_for: new Date(startsAt).toISOString(),
          scheduled_until: new Date(endsAt).toISOString(),
          scheduled_remind_prior: false,
          scheduled_reminded_at: null,
        });
        expect(r.json.sitrep).toMatchObject({ incident_id: null, maintenance_id: 'M-1', folded: 0 });
      }
      expect(got.map((r) => [r.json.incident.scheduled_auto_in_progress, r.json.incident.scheduled_auto_completed])).toEqual([
        [true, true],
        [false, true],
        [false, true],
        [false, false],
      ]);
      // Its components in their public status at each text, and what each text did to them.
      expect(got.map((r) => r.json.incident.components.map((c: any) => [c.id, c.status]))).toEqual([
        [['api', 'operational']],
        [['api', 'under_maintenance']],
        [['api', 'under_maintenance']],
        [['api', 'operational']],
      ]);
      expect(got[1]!.json.incident.incident_updates[0].affected_components).toEqual([
        { code: 'api', name: 'API', old_status: 'operational', new_status: 'under_maintenance' },
      ]);
      expect(got[3]!.json.incident.resolved_at).toBe(got[3]!.json.incident.incident_updates[0].display_at);
      expect(got[2]!.json.incident.monitoring_at).toBe(got[2]!.json.incident.incident_updates[0].display_at);
    }
    // Shaped like the body Statuspage itself sends (the sitrep block aside, which says so).
    const { sitrep, ...body } = at(rx, '/hooks/sitrep/all')[3]!.json;
    expect(sitrep).toBeDefined();
    expect(shapeProblems(body, REFERENCE, 'body')).toEqual([]);
  });

  it('a cancelled maintenance is completed, with its cancellation notice; a maintenance without components (work on everything) reaches every subscription, filtered or not', async () => {
    const { rx, h, startsAt, endsAt } = await setup();
    await subscribe(h, `${rx.url}/all`);
    await subscribe(h, `${rx.url}/api`, ' components:api');
    await h.run(`maintenance schedule "Office move" starts:${typed(startsAt)} ends:${typed(endsAt)} We are moving offices.`);
    await h.run('approve D-1', 'cli:carol');
    await h.run('maintenance cancel M-1', 'cli:carol');
    // The cancellation may fold into the announcement if that had not gone yet: the newest body tells both.
    await waitUntil(() => webhookRows(h).length === 4 && webhookRows(h).every((r) => r.state === 'delivered' || r.state === 'folded'), 5_000, 'settled');
    expect(new Set(rx.accepted().map((r) => r.path))).toEqual(new Set(['/hooks/sitrep/all', '/hooks/sitrep/api']));
    const last = rx
      .accepted()
      .filter((r) => r.path === '/hooks/sitrep/api')
      .at(-1)!.json.incident;
    expect(last.status).toBe('completed');
    expect(last.incident_updates.map((u: any) => [u.status, u.body])).toEqual([
      ['completed', noticeFor('cancel')],
      ['scheduled', 'We are moving offices.'],
    ]);
    expect(last).toMatchObject({ scheduled_auto_in_progress: false, scheduled_auto_completed: false, components: [] });
  });

  it("unsubscribing drops what still waits in a maintenance's lane of the subscription", async () => {
    const { rx, h, startsAt, endsAt } = await setup({ status: 500 });
    const sub = await subscribe(h, `${rx.url}/all`);
    await h.run(`maintenance schedule "Database upgrade" starts:${typed(startsAt)} ends:${typed(endsAt)} Upgrading.`);
    await h.run('approve D-1', 'cli:carol');
    await waitUntil(() => webhookRows(h)[0]?.attempts === 1 && webhookRows(h)[0]?.state === 'pending', 5_000, 'first attempt failed');
    const r = await h.run(`unsubscribe ${sub.id}`);
    expect(r.data).toMatchObject({ unsubscribed: true, dropped: 1 });
    expect(webhookRows(h)[0]).toMatchObject({ state: 'dead', lastError: 'unsubscribed by @admin before delivery' });
  });

  it('410 Gone from a maintenance delivery disables the subscription without a crash, and each maintenance whose text did not get through is told in its timeline once', async () => {
    const { clock, rx, h, startsAt, endsAt } = await setup({ status: 500 });
    const sub = await subscribe(h, `${rx.url}/all`);
    const other = await startWebhookReceiver();
    closers.push(() => other.close());
    await subscribe(h, other.url);
    await h.run(`maintenance schedule "Database upgrade" starts:${typed(startsAt)} ends:${typed(endsAt)} Upgrading.`);
    await h.run(`maintenance schedule "Network work" starts:${typed(startsAt)} ends:${typed(endsAt)} Routers.`);
    await h.run('approve D-1', 'cli:carol');
    await h.run('approve D-2', 'cli:carol');
    await other.waitFor((r) => r.accepted().length === 2);
    const mine = () => webhookRows(h).filter((r) => r.target.startsWith(`webhook:${sub.id}|`));
    // Both first attempts failed (500): each maintenance has its own lane of the subscription, so
    // neither waited behind the other (nor may fold into it). The endpoint is gone by the next ones.
    expect(mine().map((r) => r.target)).toEqual([`webhook:${sub.id}|M-1`, `webhook:${sub.id}|M-2`]);
    await waitUntil(() => mine().every((r) => r.attempts === 1 && r.state === 'pending'), 5_000, 'first attempts failed');
    rx.setDefault({ status: 410 });
    await skipToNextAttempt(h, clock);
    await waitUntil(() => mine().every((r) => r.state === 'dead'), 5_000, 'both dead');

    const listed = (await h.run('subscriptions')).data.subscriptions as any[];
    expect(listed.find((s) => s.id === sub.id)).toMatchObject({ disabled: true, disabled_cause: 'gone' });
    for (const [m, row] of [1, 2].map((m) => [m, mine().find((r) => r.target.endsWith(`|M-${m}`))!] as const)) {
      const failures = (await loadMaintenanceEvents(h.app.db, m)).filter((e) => e.kind === 'delivery_failed');
      expect(failures, `M-${m}`).toHaveLength(1);
      expect(failures[0]!.actor).toBe('sitrep');
      expect(failures[0]!.text).toContain(`webhook:${sub.id}`);
      expect(failures[0]!.text).not.toContain('|M-');
      expect(failures[0]!.text).toContain(`#${row.id}`);
      expect(failures[0]!.payload).toMatchObject({ disabledSubscription: Number(sub.id.slice(2)), cause: 'gone' });
    }
    const texts = (await Promise.all([1, 2].map((m) => loadMaintenanceEvents(h.app.db, m)))).flat().map((e) => e.text);
    expect(texts.join('\n')).toContain(`${sub.id} is now disabled (the endpoint answered 410 Gone)`);

    // The worker carries on: the next text reaches the other subscription, and none is enqueued for the disabled one.
    const before = mine().length;
    await h.run('maintenance cancel M-1', 'cli:carol');
    await other.waitFor((r) => r.accepted().length === 3);
    expect(mine()).toHaveLength(before);
    // `deliveries retry` of a maintenance's dead letter enables the subscription again and names the other one.
    rx.setDefault({ status: 200 });
    const first = mine()[0]!;
    const retried = await h.run(`deliveries retry ${first.id}`);
    expect(retried.text).toContain(`${sub.id} was disabled`);
    expect(retried.text).toContain(`#${mine()[1]!.id}`);
    await rx.waitFor((r) => r.accepted().length === 1);
  });
});
