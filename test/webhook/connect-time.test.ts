import type { LookupAddress } from 'node:dns';
import { isIP, Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../adapters/console/cli.js';
import { createWebhookTarget, type Resolver } from '../../adapters/webhook/target.js';
import { loadConfig } from '../../src/config.js';
import { createApp } from '../../src/main.js';
import { createLogger } from '../../src/logger.js';
import { startWebhookReceiver, type WebhookReceiver } from '../fakes/webhook-receiver.js';
import { startHarness, waitUntil, type Harness } from '../mirror/helpers.js';

// The address policy again at connection time, through the running server's outbox worker: a
// host name is judged by the address it resolves to when the delivery connects, so a name that
// resolves to a blocked address, or whose DNS changed after it was subscribed, is refused at
// delivery without connecting. Names under .test are answered by a resolver passed to the webhook
// target (no DNS query leaves the machine); the receiver listens on 127.0.0.1.

// Safety net: should the policy ever let a blocked address through, the socket is destroyed as
// soon as its lookup answers, before it connects, so this test can never send a packet anywhere
// but loopback. Whatever it stops is recorded and fails the test.
const stopped: string[] = [];
const originalEmit = Socket.prototype.emit;
const isLoopback = (ip: string) => /^(127\.|::1$|::ffff:127\.)/.test(ip);
beforeAll(async () => {
  Socket.prototype.emit = function (this: Socket, event: string | symbol, ...args: unknown[]) {
    if (event === 'lookup') {
      const ip = args[1];
      if (typeof ip === 'string' && isIP(ip) && !isLoopback(ip)) {
        stopped.push(ip);
        this.destroy(new Error(`test safety net: refused to connect to ${ip}`));
        return true;
      }
    }
    return originalEmit.apply(this, [event, ...args] as Parameters<typeof originalEmit>);
  } as typeof Socket.prototype.emit;
});
afterAll(async () => {
  Socket.prototype.emit = originalEmit;
});

let h: Harness | undefined;
let rx: WebhookReceiver | undefined;
afterEach(async () => {
  await h?.close();
  await rx?.close();
  h = undefined;
  rx = undefined;
  expect(stopped.splice(0)).toEqual([]);
});

/** A resolver the test controls: name → addresses, and every name it was asked. */
function fakeDns(answers: Record<string, string[]>) {
  const asked: string[] = [];
  const resolve: Resolver = async (hostname) => {
    asked.push(hostname);
    const list = answers[hostname];
    if (!list) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return list.map((address): LookupAddress => ({ address, family: isIP(address) as 4 | 6 }));
  };
  return { answers, asked, resolve };
}

/** A running server whose webhook target uses `dns` (the worker picks the first target that handles a row). */
async function setup(dns: ReturnType<typeof fakeDns>, env: Record<string, string> = {}) {
  rx = await startWebhookReceiver();
  h = await startHarness(env, {
    targets: ({ db, now, config }) => [
      createWebhookTarget({ db, now, publicOnly: config.webhookPublicOnly, allowLinkLocal: config.webhookAllowLinkLocal, resolve: dns.resolve }),
    ],
  });
  await h.run('component add Web App');
  await h.run('declare "Database down" components:web-app=major');
  return { rx, h };
}

const timelineFailures = async (h: Harness) =>
  ((await h.run('timeline INC-1')).data.events as Array<{ kind: string; text: string }>).filter((e) => e.kind === 'delivery_failed');

describe('webhook address policy at connection time', () => {
  it('refuses a name whose DNS changed after it was subscribed to a cloud metadata address, without connecting', async () => {
    const dns = fakeDns({ 'hooks.test': ['127.0.0.1'] });
    const { rx, h } = await setup(dns);
    await h.run(`subscribe webhook:http://hooks.test:${rx.port}/hooks/sitrep`);
    await h.run('draft INC-1 "We are investigating"');
    await rx.waitFor((r) => r.accepted().length === 1);
    await waitUntil(() => h.rows()[0]!.state === 'delivered', 5_000, 'first delivery recorded');

    dns.answers['hooks.test'] = ['::ffff:a9fe:a9fe'];
    await h.run('draft INC-1 "We found the cause"');
    await waitUntil(() => h.rows()[1]?.state === 'dead', 5_000, 'second delivery refused');
    expect(h.rows()[1]!.lastError).toBe('hooks.test (::ffff:a9fe:a9fe, that is 169.254.169.254) is a cloud metadata address; webhooks may never point there');
    expect(h.rows()[1]!.attempts).toBe(1);
    expect(rx.requests).toHaveLength(1);
    expect(dns.asked).toEqual(['hooks.test', 'hooks.test']);
    // Refused, never dropped silently: the incident's thread is told.
    expect(await timelineFailures(h)).toEqual([expect.objectContaining({ text: expect.stringContaining('cloud metadata address') })]);
  });

  const BLOCKED: Array<[string, string[], RegExp]> = [
    ['IPv4 metadata', ['169.254.169.254'], /cloud metadata/],
    ['IPv4-mapped metadata', ['::ffff:169.254.169.254'], /cloud metadata/],
    ['IPv4-compatible metadata', ['::a9fe:a9fe'], /cloud metadata/],
    ['NAT64 metadata', ['64:ff9b::a9fe:a9fe'], /cloud metadata/],
    ['local-use NAT64 metadata', ['64:ff9b:1::a9fe:a9fe'], /cloud metadata/],
    ['AWS IPv6 metadata', ['fd00:ec2::254'], /cloud metadata/],
    ['link-local with a zone id', ['fe80::1%eth0'], /link-local/],
    ['one bad address among good ones', ['127.0.0.1', '::ffff:169.254.170.2'], /cloud metadata/],
  ];

  it('refuses every name resolving to a blocked address, in every spelling, and reports each one', async () => {
    const dns = fakeDns(Object.fromEntries(BLOCKED.map(([, addresses], i) => [`n${i}.test`, addresses])));
    const { rx, h } = await setup(dns);
    for (const [i] of BLOCKED.entries()) {
      await h.run(`subscribe webhook:http://n${i}.test:${rx.port}/hooks/sitrep`);
    }
    await h.run('draft INC-1 "We are investigating"');
    await waitUntil(() => h.rows().length === BLOCKED.length && h.rows().every((r) => r.state === 'dead'), 10_000, 'every delivery refused');
    const byTarget = new Map(h.rows().map((r) => [r.target, r.lastError ?? '']));
    BLOCKED.forEach(([what, , why], i) => {
      expect(byTarget.get(`webhook:S-${i + 1}`), what).toMatch(why);
    });
    expect(rx.requests).toHaveLength(0);
    expect(new Set(dns.asked)).toEqual(new Set(BLOCKED.map((_, i) => `n${i}.test`)));
    expect(await timelineFailures(h)).toHaveLength(BLOCKED.length);
  });

  it('SITREP_WEBHOOK_ALLOW_LINK_LOCAL lets link-local names through but still refuses metadata at connection time', async () => {
    const dns = fakeDns({ 'meta.test': ['::ffff:169.254.169.254'] });
    const { rx, h } = await setup(dns, { SITREP_WEBHOOK_ALLOW_LINK_LOCAL: 'true' });
    await h.run(`subscribe webhook:http://meta.test:${rx.port}/hooks/sitrep`);
    await h.run('draft INC-1 "We are investigating"');
    await waitUntil(() => h.rows()[0]?.state === 'dead', 5_000, 'refused');
    expect(h.rows()[0]!.lastError).toMatch(/cloud metadata address; webhooks may never point there/);
    expect(rx.requests).toHaveLength(0);
  });

  it('SITREP_WEBHOOK_PUBLIC_ONLY refuses a name resolving to loopback in any spelling: the receiver on 127.0.0.1 hears nothing', async () => {
    // These addresses all reach the receiver itself, so a lapse in the policy would show up as a request.
    const spellings = ['127.0.0.1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::FFFF:7F00:0001'];
    const dns = fakeDns(Object.fromEntries(spellings.map((a, i) => [`lo${i}.test`, [a]])));
    const { rx, h } = await setup(dns, { SITREP_WEBHOOK_PUBLIC_ONLY: 'true' });
    for (const [i] of spellings.entries()) {
      await h.run(`subscribe webhook:http://lo${i}.test:${rx.port}/hooks/sitrep`);
    }
    await h.run('draft INC-1 "We are investigating"');
    await waitUntil(() => h.rows().length === spellings.length && h.rows().every((r) => r.state === 'dead'), 10_000, 'every delivery refused');
    for (const r of h.rows()) expect(r.lastError).toMatch(/loopback address and SITREP_WEBHOOK_PUBLIC_ONLY=true refuses those/);
    expect(rx.requests).toHaveLength(0);
  });

  it('judges a literal address again at delivery: subscribed before SITREP_WEBHOOK_PUBLIC_ONLY was set, refused after', async () => {
    const dns = fakeDns({});
    const { rx, h } = await setup(dns, { SITREP_WEBHOOK_PUBLIC_ONLY: 'true' });
    // The subscription was made by a CLI run without the setting, on the same database file.
    const config = loadConfig({ SITREP_DB: h.app.config.dbFile, LOG_LEVEL: 'silent', USER: 'admin' });
    let out = '';
    const code = await runCli(['subscribe', `webhook:http://[::ffff:127.0.0.1]:${rx.port}/hooks/sitrep`, '--json'], {
      config,
      createApp: (c) => createApp(c, { log: createLogger('silent') }),
      out: (s) => (out += s),
      err: (s) => (out += s),
    });
    expect(code, out).toBe(0);
    await h.run('draft INC-1 "We are investigating"');
    await waitUntil(() => h.rows()[0]?.state === 'dead', 5_000, 'refused');
    expect(h.rows()[0]!.lastError).toBe('[::ffff:7f00:1] (127.0.0.1) is a loopback address and SITREP_WEBHOOK_PUBLIC_ONLY=true refuses those');
    expect(rx.requests).toHaveLength(0);
    expect(dns.asked).toEqual([]);
  });
});
