import { afterEach, describe, expect, it } from 'vitest';
import { verifyWebhook } from '../../src/mirror/signing.js';
import { formatClock } from '../../src/render/time.js';
import { startWebhookReceiver, type WebhookReceiver } from '../fakes/webhook-receiver.js';
import { movableClock, startHarness, waitUntil, type Harness } from '../mirror/helpers.js';
import { fastForward, skipToNextAttempt } from './schedule-clock.js';

// Through real HTTP and real SQLite: commands publish, the worker in the running server delivers
// to a scripted receiver on 127.0.0.1. Retries follow the Standard Webhooks schedule, whose waits
// the tests pass by moving the injected clock (schedule.test.ts checks the waits themselves, and
// gone.test.ts 410 Gone and a schedule that runs out).

let h: Harness | undefined;
let rx: WebhookReceiver | undefined;
afterEach(async () => {
  await h?.close();
  await rx?.close();
  h = undefined;
  rx = undefined;
});

const updateBodies = (r: { json: any }) => (r.json.incident.incident_updates as Array<{ body: string }>).map((u) => u.body);

async function setup(env: Record<string, string> = {}, now?: () => number) {
  rx = await startWebhookReceiver();
  h = await startHarness(env, now ? { now } : {});
  await h.run('component add Web App');
  await h.run('component add SMS Routing');
  const sub = (await h.run(`subscribe webhook:${rx.url}`)).data as { id: string; target: string; secret: string };
  await h.run('declare "Database down" components:web-app=major');
  return { rx, h, sub };
}

describe('webhook delivery', () => {
  it('sends a signed, Statuspage-shaped body that verifies with the printed secret', async () => {
    const { rx, h, sub } = await setup();
    expect(sub.id).toMatch(/^S-\d+$/);
    expect(sub.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    await h.run('draft INC-1 status:identified components:web-app=partial "We found the cause"');
    await rx.waitFor((r) => r.accepted().length === 1);
    const got = rx.requests[0]!;
    expect(verifyWebhook(sub.secret, got, got.body)).toBe(true);
    expect(verifyWebhook(sub.secret, { ...got, timestamp: String(Number(got.timestamp) + 1) }, got.body)).toBe(false);
    expect(got.id).toBe(h.rows()[0]!.deliveryId);
    expect(Math.abs(Number(got.timestamp) - Date.now() / 1000)).toBeLessThan(60);
    const b = got.json;
    expect(Object.keys(b)).toEqual(expect.arrayContaining(['meta', 'page', 'incident']));
    expect(b.page).toMatchObject({ status_indicator: expect.any(String), status_description: expect.any(String) });
    expect(b.incident).toMatchObject({ id: 'INC-1', name: 'Database down', status: 'identified' });
    expect(b.incident.incident_updates).toHaveLength(1);
    expect(b.incident.incident_updates[0]).toMatchObject({
      body: 'We found the cause',
      status: 'identified',
      incident_id: 'INC-1',
      affected_components: [{ code: 'web-app', name: 'Web App', old_status: 'operational', new_status: 'partial_outage' }],
    });
    expect(b.incident.components.map((c: any) => [c.name, c.status])).toEqual([['Web App', 'partial_outage']]);
    expect(b.sitrep).toMatchObject({ folded: 0, fold_notice: null, delayed: false, delay_notice: null });
    await waitUntil(() => h!.rows()[0]!.state === 'delivered', 5_000, 'delivered recorded');
    const list = (await h.run('deliveries INC-1')).data.deliveries;
    expect(list).toEqual([expect.objectContaining({ target: 'webhook:S-1', state: 'delivered', attempts: 1, last_error: null })]);
  });

  it('retries 500, 429 with Retry-After, a hang past the timeout and a dropped connection; each update arrives once, in order, same id on every retry', async () => {
    const clock = movableClock();
    const { rx, h } = await setup({}, clock.now);
    const texts = ['First look', 'Cause found', 'Fix deployed'];
    rx.script({ status: 500 }, { status: 429, headers: { 'retry-after': '1' } }, 'hang', 'close');
    const ff = fastForward(h, clock);
    try {
      for (const [i, text] of texts.entries()) {
        await h.run(`draft INC-1 "${text}"`);
        await rx.waitFor((r) => r.accepted().length === i + 1, 15_000);
        if (i === 0) rx.script({ status: 503 }, 'close');
      }
    } finally {
      ff.stop();
    }
    const accepted = rx.accepted();
    expect(accepted.map((r) => updateBodies(r)[0])).toEqual(texts);
    expect(accepted.map((r) => updateBodies(r))).toEqual([['First look'], ['Cause found', 'First look'], ['Fix deployed', 'Cause found', 'First look']]);
    expect(new Set(accepted.map((r) => r.id)).size).toBe(3);
    // Every failed attempt of a message used that message's id: the receiver can dedupe.
    for (const r of rx.requests) expect(accepted.map((a) => a.id)).toContain(r.id);
    const firstId = accepted[0]!.id;
    expect(rx.requests.filter((r) => r.id === firstId).map((r) => (typeof r.answer === 'object' ? r.answer.status : r.answer))).toEqual([
      500,
      429,
      'hang',
      'close',
      200,
    ]);
    // The fifth attempt came after four waits of the schedule (over two and a half hours): it says it is late.
    expect(accepted[0]!.json.sitrep).toMatchObject({ folded: 0, delayed: true });
    for (const r of accepted) expect(r.json.sitrep).toMatchObject({ folded: 0 });
    await waitUntil(() => h!.rows().every((r) => r.state === 'delivered'), 5_000, 'all delivered');
    const rows = (await h.run('deliveries INC-1')).data.deliveries as any[];
    expect(rows.map((r) => [r.state, r.attempts])).toEqual([
      ['delivered', 5],
      ['delivered', 3],
      ['delivered', 1],
    ]);
    expect(rows[0].last_error).toBeNull();
  });

  it('folds updates that wait behind a failing receiver into one message that says so', async () => {
    const clock = movableClock();
    const { rx, h } = await setup({}, clock.now);
    rx.setDefault({ status: 500 });
    await h.run('draft INC-1 "Investigating"');
    await rx.waitFor((r) => r.requests.length >= 1);
    await h.run('draft INC-1 status:identified "Identified"');
    await h.run('draft INC-1 status:monitoring "Monitoring a fix"');
    await skipToNextAttempt(h, clock);
    // Only once an attempt carrying the newest update failed: no older attempt can still be answered 200.
    await rx.waitFor((r) => r.requests.some((q) => updateBodies(q)[0] === 'Monitoring a fix'));
    rx.setDefault({ status: 200 });
    await skipToNextAttempt(h, clock);
    await rx.waitFor((r) => r.accepted().length === 1);
    await waitUntil(() => h.rows().every((r) => r.state === 'delivered' || r.state === 'folded'), 5_000, 'rows settled');
    await new Promise((r) => setTimeout(r, 300));
    expect(rx.accepted()).toHaveLength(1);
    const got = rx.accepted()[0]!;
    expect(updateBodies(got)).toEqual(['Monitoring a fix', 'Identified', 'Investigating']);
    expect(got.json.incident.status).toBe('monitoring');
    expect(got.json.sitrep).toMatchObject({ folded: 2, fold_notice: 'This message folds in 2 earlier updates.' });
    const rows = h.rows();
    expect(rows.map((r) => r.state)).toEqual(['folded', 'folded', 'delivered']);
    expect(rows[0]!.foldedInto).toBe(rows[2]!.id);
    expect(rows[1]!.foldedInto).toBe(rows[2]!.id);
    const text = (await h.run('deliveries INC-1')).text as string;
    expect(text).toContain(`folded into #${rows[2]!.id}`);
  });

  it('says "Delayed: originally posted …" only when delivered more than the notice period after approval', async () => {
    const clock = movableClock();
    const { rx, h } = await setup({ SITREP_TIMEZONE: 'America/Los_Angeles', SITREP_DELAY_NOTICE_MINUTES: '5' }, clock.now);
    await h.run('draft INC-1 "On time"');
    await rx.waitFor((r) => r.accepted().length === 1);
    expect(rx.accepted()[0]!.json.sitrep).toMatchObject({ delayed: false, delay_notice: null });

    rx.setDefault({ status: 500 });
    await h.run('draft INC-1 "Late"');
    const approvedAt = h.rows()[1]!.approvedAt!;
    await rx.waitFor((r) => r.requests.some((q) => updateBodies(q)[0] === 'Late'));
    clock.advance(4 * 60_000); // inside the notice period: still on time
    await h.run('draft INC-1 "Still on time"');
    await rx.waitFor((r) => r.requests.some((q) => updateBodies(q)[0] === 'Still on time'));
    rx.setDefault({ status: 200 });
    await skipToNextAttempt(h, clock);
    await rx.waitFor((r) => r.accepted().length === 2);
    expect(rx.accepted()[1]!.json.sitrep).toMatchObject({ delayed: false, delay_notice: null, folded: 1 });

    rx.setDefault({ status: 500 });
    await h.run('draft INC-1 "Very late"');
    const late = h.rows()[3]!;
    await rx.waitFor((r) => r.requests.some((q) => updateBodies(q)[0] === 'Very late'));
    await skipToNextAttempt(h, clock);
    clock.advance(6 * 60_000);
    await rx.waitFor((r) => r.requests.some((q) => q.json.sitrep.delayed === true));
    rx.setDefault({ status: 200 });
    await skipToNextAttempt(h, clock);
    await rx.waitFor((r) => r.accepted().length === 3);
    const notice = `Delayed: originally posted ${formatClock(late.approvedAt!, 'America/Los_Angeles', false)}`;
    expect(notice).toMatch(/^Delayed: originally posted \d\d:\d\d P[SD]T$/);
    expect(rx.accepted()[2]!.json.sitrep).toMatchObject({ delayed: true, delay_notice: notice, folded: 0 });
    // Every earlier attempt of "Very late" (before the clock passed the notice period) said nothing.
    for (const q of rx.requests) if (!q.json.sitrep.delayed) expect(q.at).toBeLessThanOrEqual(rx.accepted()[2]!.at);
    expect(approvedAt).toBeLessThan(late.approvedAt!);
  });

  it('keeps lanes apart: a hanging receiver does not delay another subscriber or another incident', async () => {
    const { rx, h } = await setup({ SITREP_ADMINS: 'cli:admin' });
    const other = await startWebhookReceiver();
    try {
      rx.setDefault('hang');
      await h.run(`subscribe webhook:${other.url}`);
      await h.run('draft INC-1 "Only the second receiver answers"');
      await other.waitFor((r) => r.accepted().length === 1);
      expect(rx.accepted()).toHaveLength(0);
      await h.run('declare "Second incident"');
      await h.run('draft INC-2 "Second incident update"');
      await other.waitFor((r) => r.accepted().length === 2);
      // The hung lane to the first receiver is retried (with the same id) but nothing was lost.
      const lane1 = h.rows().filter((r) => r.target === 'webhook:S-1');
      expect(lane1).toHaveLength(2);
      for (const r of lane1) expect(['pending', 'in_flight']).toContain(r.state);
      expect(new Set(rx.requests.map((r) => r.id)).size).toBeLessThanOrEqual(2);
    } finally {
      await other.close();
    }
  });

  it('sends only to subscriptions whose components the incident affects', async () => {
    const { rx, h } = await setup();
    const sms = await startWebhookReceiver();
    try {
      await h.run(`subscribe webhook:${sms.url} components:sms-routing`);
      await h.run('draft INC-1 "Web App trouble"'); // INC-1 affects web-app only
      await rx.waitFor((r) => r.accepted().length === 1);
      await h.run('declare "Texts delayed" components:sms-routing=degraded');
      await h.run('draft INC-2 "SMS trouble"');
      await sms.waitFor((r) => r.accepted().length === 1);
      await rx.waitFor((r) => r.accepted().length === 2);
      await new Promise((r) => setTimeout(r, 200));
      expect(sms.accepted().map((r) => r.json.incident.id)).toEqual(['INC-2']);
      expect(
        h
          .rows()
          .filter((r) => r.target === 'webhook:S-2')
          .map((r) => r.incidentId),
      ).toEqual([2]);
    } finally {
      await sms.close();
    }
  });

  it('internal updates never leave; unsubscribe stops waiting deliveries', async () => {
    const { rx, h } = await setup();
    await h.run('update INC-1 "internal only: db01 is on fire"');
    await h.run('note INC-1 "paged the DBA"');
    await new Promise((r) => setTimeout(r, 200));
    expect(rx.requests).toHaveLength(0);
    expect(h.rows()).toHaveLength(0);
    rx.setDefault({ status: 500 });
    await h.run('draft INC-1 "Public words"');
    await rx.waitFor((r) => r.requests.length >= 1);
    await h.run(`unsubscribe webhook:${rx.url}`);
    await waitUntil(() => h.rows()[0]!.state === 'dead', 5_000, 'dropped');
    expect(h.rows()[0]!.lastError).toMatch(/unsubscribed/);
    expect(JSON.stringify(rx.requests.map((r) => r.json))).not.toContain('on fire');
  });
});
