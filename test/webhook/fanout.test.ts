import type { LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createWebhookTarget, type Resolver } from '../../adapters/webhook/target.js';
import { verifyWebhook } from '../../src/mirror/signing.js';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from '../fakes/webhook-receiver.js';
import { movableClock, startHarness, waitUntil, type Harness } from '../mirror/helpers.js';

// Webhooks at fan-out width, through the running server's worker and real HTTP to receivers on
// loopback: hundreds of subscribers on a few hosts get their signed update over kept-alive
// connections (a later update opens none), a hanging host holds only its share of the slots, a
// name whose DNS answer changed never rides a connection pooled for its old address, and
// updates that pile up behind failing receivers fold, in order, for every subscriber at once.

let h: Harness | undefined;
const receivers: WebhookReceiver[] = [];
afterEach(async () => {
  await h?.close();
  h = undefined;
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

async function receiver(...args: Parameters<typeof startWebhookReceiver>): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver(...args);
  receivers.push(r);
  return r;
}

const updateBodies = (r: { json: any }) => (r.json.incident.incident_updates as Array<{ body: string }>).map((u) => u.body);

function byPath(requests: ReceivedWebhook[]): Map<string, ReceivedWebhook[]> {
  const m = new Map<string, ReceivedWebhook[]>();
  for (const q of requests) m.set(q.path, [...(m.get(q.path) ?? []), q]);
  return m;
}

/** `per` subscribers on each receiver, each under its own path; returns path → secret. */
async function subscribe(x: Harness, rxs: WebhookReceiver[], per: number, host = '127.0.0.1'): Promise<Map<string, string>> {
  const secrets = new Map<string, string>();
  for (const [i, rx] of rxs.entries()) {
    for (let k = 0; k < per; k++) {
      const path = `/hooks/${rx.port}-${i}-${k}`;
      const sub = (await x.run(`subscribe webhook:http://${host}:${rx.port}${path}`)).data as { secret: string };
      secrets.set(path, sub.secret);
    }
  }
  return secrets;
}

describe('webhooks at fan-out width', () => {
  it('hundreds of subscribers on a few hosts get their signed update over kept-alive connections; the next update reuses them', async () => {
    const rxs = [await receiver(), await receiver(), await receiver()];
    h = await startHarness();
    await h.run('component add Web App');
    const secrets = await subscribe(h, rxs, 100);
    await h.run('declare "Database down" components:web-app=major');
    const all = () => rxs.flatMap((r) => r.accepted());

    await h.run('draft INC-1 "We are investigating"');
    await waitUntil(() => all().length === 300, 20_000, 'first update everywhere');
    const perUpstream = h.worker.settings.perUpstream;
    const opened = rxs.map((r) => r.connections());
    // At most one connection per delivery slot of the host, far fewer than the requests.
    for (const n of opened) expect(n).toBeLessThanOrEqual(perUpstream);

    await h.run('draft INC-1 "We found the cause"');
    await waitUntil(() => all().length === 600, 20_000, 'second update everywhere');
    // The pool's connections are reused for the next update. (One left idle for longer than the
    // pool's 5 s idle timeout — a slow first round on a loaded machine — is closed and reopened, so
    // only "no connection per request" is certain: a host's 100 requests reuse its open ones.)
    const reopened = rxs.map((r, i) => r.connections() - opened[i]!);
    for (const n of reopened) expect(n).toBeLessThanOrEqual(perUpstream);

    const paths = byPath(all());
    expect(paths.size).toBe(300);
    for (const [path, qs] of paths) {
      expect(qs.map((q) => updateBodies(q)[0])).toEqual(['We are investigating', 'We found the cause']);
      for (const q of qs) expect(verifyWebhook(secrets.get(path)!, q, q.body)).toBe(true);
    }
    await waitUntil(() => h!.rows().every((r) => r.state === 'delivered'), 5_000, 'all recorded');
  });

  it('a host that hangs holds its share of the slots only: every subscriber elsewhere is delivered meanwhile', async () => {
    const hanging = await receiver('hang');
    const fine = await receiver();
    h = await startHarness({}, { tune: { attemptTimeoutMs: 120_000 } });
    await h.run('component add Web App');
    // The hanging host's lanes come first: they are claimed first.
    await subscribe(h, [hanging], 100);
    await subscribe(h, [fine], 50);
    await h.run('declare "Database down" components:web-app=major');
    await h.run('draft INC-1 "We are investigating"');
    const share = h.worker.settings.perUpstream;
    await fine.waitFor((r) => r.accepted().length === 50 && hanging.requests.length >= share, 20_000);
    // Given time, the hanging host still gets no more than its share.
    await new Promise((r) => setTimeout(r, 300));
    expect(hanging.requests).toHaveLength(share);
    expect(hanging.peakOpen()).toBe(share);
    await waitUntil(() => h!.rows().filter((r) => r.state === 'delivered').length === 50, 5_000, 'recorded');
    expect(h.worker.inFlight).toBe(share);
  });

  it('a name whose DNS answer changed gets a new connection to its new address, not one pooled for the old', async () => {
    const second = await receiver({ status: 200 }, { host: '127.0.0.2' });
    const first = await receiver({ status: 200 }, { host: '127.0.0.1', port: second.port });
    const answers: Record<string, string[]> = { 'hooks.test': ['127.0.0.1'] };
    const resolve: Resolver = async (hostname) => (answers[hostname] ?? []).map((address): LookupAddress => ({ address, family: isIP(address) as 4 | 6 }));
    h = await startHarness(
      {},
      {
        targets: ({ db, now, config }) => [
          createWebhookTarget({ db, now, publicOnly: config.webhookPublicOnly, allowLinkLocal: config.webhookAllowLinkLocal, resolve }),
        ],
      },
    );
    await h.run('component add Web App');
    await h.run(`subscribe webhook:http://hooks.test:${second.port}/hooks/sitrep`);
    await h.run('declare "Database down" components:web-app=major');
    await h.run('draft INC-1 "We are investigating"');
    await first.waitFor((r) => r.accepted().length === 1);
    await waitUntil(() => h!.rows()[0]!.state === 'delivered', 5_000, 'first recorded');

    answers['hooks.test'] = ['127.0.0.2'];
    await h.run('draft INC-1 "We found the cause"');
    await second.waitFor((r) => r.accepted().length === 1);
    expect(first.requests).toHaveLength(1);
    expect(updateBodies(second.accepted()[0]!)[0]).toBe('We found the cause');
  });

  it('updates that pile up behind failing receivers fold for every subscriber at once, newest carrying all, in order', async () => {
    const rxs = [await receiver({ status: 500 }), await receiver({ status: 500 }), await receiver({ status: 500 }), await receiver({ status: 500 })];
    const clock = movableClock();
    h = await startHarness({}, { now: clock.now });
    await h.run('component add Web App');
    await subscribe(h, rxs, 50);
    await h.run('declare "Database down" components:web-app=major');
    const all = () => rxs.flatMap((r) => r.requests);

    await h.run('draft INC-1 "Investigating"');
    await waitUntil(() => all().length === 200, 20_000, 'every first attempt failed');
    await waitUntil(() => h!.rows().every((r) => r.state === 'pending'), 5_000, 'every first attempt recorded');
    await h.run('draft INC-1 status:identified "Identified"');
    await h.run('draft INC-1 status:monitoring "Monitoring a fix"');
    for (const r of rxs) r.setDefault({ status: 200 });
    // Past the schedule's first wait (5 s ± 10%): every lane's head is due again.
    clock.advance(6_000);
    await waitUntil(() => h!.rows().every((r) => r.state === 'delivered' || r.state === 'folded'), 20_000, 'settled');

    const paths = byPath(all());
    expect(paths.size).toBe(200);
    for (const qs of paths.values()) {
      expect(qs.map((q) => updateBodies(q)[0])).toEqual(['Investigating', 'Monitoring a fix']);
      const got = qs[1]!;
      expect(updateBodies(got)).toEqual(['Monitoring a fix', 'Identified', 'Investigating']);
      expect(got.json.sitrep).toMatchObject({ folded: 2, fold_notice: 'This message folds in 2 earlier updates.' });
    }
    const rows = h.rows();
    for (const target of new Set(rows.map((r) => r.target))) {
      const lane = rows.filter((r) => r.target === target);
      expect(lane.map((r) => r.state)).toEqual(['folded', 'folded', 'delivered']);
      expect(lane.slice(0, 2).map((r) => r.foldedInto)).toEqual([lane[2]!.id, lane[2]!.id]);
    }
  }, 60_000);
});
