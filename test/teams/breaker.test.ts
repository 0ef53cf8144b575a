import { afterEach, describe, expect, it } from 'vitest';
import { OutboxWorker } from '../../src/mirror/worker.js';
import { startFakeConnector, type FakeConnector } from '../fakes/teams-connector.js';
import { startHarness, type Harness } from './harness.js';

// One Bot Connector host that hangs or fails must not hold up Teams deliveries to another: the
// outbox worker's circuit breaker and its per-upstream slots are per serviceUrl host. Two fake
// Connectors on two loopback addresses stand for two hosts (127.0.0.2 is failing, 127.0.0.1 fine).

let h: Harness | undefined;
let bad: FakeConnector | undefined;
afterEach(async () => {
  await h?.close();
  await bad?.close();
  h = bad = undefined;
});

const workerOf = (x: Harness) => x.app.background.find((b): b is OutboxWorker => b instanceof OutboxWorker)!;

/** A personal chat of its own (its own outbox lane) whose replies go to `serviceUrl`. */
function chat(x: Harness, n: number, serviceUrl: string, text = 'help') {
  const a = x.personal(text);
  a.conversation.id = `a:chat-${n}`;
  a.serviceUrl = serviceUrl;
  return a;
}

const helpReplies = (f: FakeConnector) => f.messages.filter((m) => /declare <title>/.test(m.body.text ?? ''));

describe('Teams deliveries are isolated per serviceUrl host', () => {
  it('a host that never answers holds only its own slots: another host is answered meanwhile', async () => {
    h = await startHarness();
    bad = await startFakeConnector({ host: '127.0.0.2' });
    const worker = workerOf(h);
    // Attempts to the hanging host last longer than this test, so a delivery that had to wait
    // for one of them would never arrive.
    worker.tune({ attemptTimeoutMs: 120_000 });
    bad.failNext({ hang: true }, 1_000);
    const lanes = worker.settings.perUpstream + 2;
    for (let i = 0; i < lanes; i++) expect((await h.send(chat(h, i, bad.serviceUrl))).status).toBe(200);
    // The hanging host holds every slot it may have …
    await bad.waitFor((f) => f.calls.length === worker.settings.perUpstream);

    // … and a reply for the other host still goes out while they hang.
    expect((await h.send(chat(h, 100, h.fake.serviceUrl))).status).toBe(200);
    await h.fake.waitFor((f) => helpReplies(f).length === 1);
    expect(bad.calls.every((c) => c.status === 0)).toBe(true); // none of them answered
    expect(bad.calls).toHaveLength(worker.settings.perUpstream);
    // The breaker keys name the host, not the conversation.
    expect(worker.breakers.isOpen('teams:127.0.0.2')).toBe(false);
  });

  it('a host that keeps failing opens its own breaker; the other host is delivered to while it is open', async () => {
    h = await startHarness();
    bad = await startFakeConnector({ host: '127.0.0.2' });
    const worker = workerOf(h);
    // A short threshold and a cooldown far longer than the test: once open, it stays open.
    worker.tune({ breaker: { threshold: 3, cooldownMs: 600_000, maxCooldownMs: 600_000 }, backoff: { baseMs: 20, maxMs: 40, jitter: 0 } });
    bad.failNext({ status: 503 }, 1_000);
    for (let i = 0; i < 3; i++) expect((await h.send(chat(h, i, bad.serviceUrl))).status).toBe(200);
    await bad.waitFor(() => worker.breakers.isOpen('teams:127.0.0.2'));

    expect((await h.send(chat(h, 100, h.fake.serviceUrl))).status).toBe(200);
    await h.fake.waitFor((f) => helpReplies(f).length === 1);
    expect(worker.breakers.isOpen('teams:127.0.0.2')).toBe(true);
    expect(worker.breakers.isOpen('teams:127.0.0.1')).toBe(false);
  });

  it("cards in a bound channel use the host of the channel's serviceUrl", async () => {
    h = await startHarness();
    bad = await startFakeConnector({ host: '127.0.0.2' });
    const worker = workerOf(h);
    worker.tune({ attemptTimeoutMs: 120_000 });
    bad.failNext({ hang: true }, 1_000);
    // The incidents channel was last heard from through the hanging host …
    const bind = h.mention('channel incidents');
    bind.serviceUrl = bad.serviceUrl;
    await h.send(bind);
    for (let i = 0; i < worker.settings.perUpstream; i++) await h.app.run(`declare Outage ${i}`, 'cli:admin', { platform: 'cli' });
    await bad.waitFor((f) => f.calls.length === worker.settings.perUpstream);
    // … so its root cards hang there, and a personal chat on the other host is still answered.
    expect((await h.send(chat(h, 100, h.fake.serviceUrl))).status).toBe(200);
    await h.fake.waitFor((f) => helpReplies(f).length === 1);
  });
});
