import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { rowCounts } from '../helpers.js';
import { fixture, jsonFixture, startHarness, type Harness } from './harness.js';

// Local mode (MICROSOFT_APP_ID unset): POST /api/messages accepts an activity only from a loopback
// socket and only when its serviceUrl is a loopback URL. Anything else is 401 and writes nothing:
// no command, no conversation reference, no processed-event row.

const run = promisify(execFile);

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A conversationUpdate (which only remembers the serviceUrl) replying to `serviceUrl`. */
function conversationUpdate(serviceUrl: string): Record<string, any> {
  const a = jsonFixture('conversationUpdate-bot-added-to-team-channel-docs.json');
  a.serviceUrl = serviceUrl;
  return a;
}

describe('from a loopback socket, the serviceUrl must be a loopback URL too', () => {
  const ELSEWHERE = [
    'https://smba.trafficmanager.net/amer/',
    'http://198.51.100.7:3978/',
    'http://127.0.0.1.evil.example/amer/',
    'http://localhost.evil.example/',
    'http://127.0.0.1@evil.example/amer/',
    'http://[::ffff:198.51.100.7]/',
    'http://[fd00::1]/',
    'ftp://127.0.0.1/amer/',
  ];

  it.each(ELSEWHERE)('serviceUrl %s: 401 for a command, a card button and a conversationUpdate; nothing written', async (serviceUrl) => {
    h = await startHarness();
    const before = rowCounts(h.app.db);
    const bind = h.mention('channel incidents');
    bind.serviceUrl = serviceUrl;
    const button = h.execute({ sitrep: 'sitrep.update', incident: 'INC-1', text: 'x' }, { rootId: '1' });
    button.serviceUrl = serviceUrl;
    for (const a of [bind, button, conversationUpdate(serviceUrl)]) {
      const res = await h.send(a);
      expect(res.status).toBe(401);
      expect(res.json().error).toMatch(/loopback serviceUrl/);
    }
    expect(rowCounts(h.app.db)).toEqual(before);
    expect(h.fake.calls).toEqual([]);
  });

  it('the captured channel activity, verbatim with its real Teams serviceUrl, is refused', async () => {
    h = await startHarness();
    const before = rowCounts(h.app.db);
    const res = await h.post(fixture('message-channel-thread-reply-mention.json'));
    expect(res.status).toBe(401);
    expect(rowCounts(h.app.db)).toEqual(before);
  });

  it.each(['http://localhost:3978/amer/', 'http://127.0.0.2:3978/', 'https://127.1/amer/', 'http://[::1]:3978/', 'http://[::ffff:127.0.0.1]:3978/'])(
    'serviceUrl %s (this machine) is accepted and remembered',
    async (serviceUrl) => {
      h = await startHarness();
      const res = await h.send(conversationUpdate(serviceUrl));
      expect(res.status).toBe(200);
      const rows = h.app.db.$client.prepare("select value from settings where key like 'teams:ref:%'").all() as Array<{ value: string }>;
      expect(rows.map((r) => JSON.parse(r.value).serviceUrl)).toContain(serviceUrl);
    },
  );

  it('over IPv6 loopback ([::1]) the command runs and is answered', async () => {
    h = await startHarness({}, undefined, { host: '::1' });
    const res = await h.send(h.personal('help'));
    expect(res.status).toBe(200);
    await h.drain();
    expect(h.fake.messages.some((m) => /declare <title>/.test(m.body.text ?? ''))).toBe(true);
  });

  it('with inbound auth on, the serviceUrl is not limited to this machine (the token decides)', async () => {
    // Auth on refuses an unauthenticated request before the serviceUrl is looked at: 401 for the
    // missing token, not for the address (see auth.test.ts for what a token must carry).
    h = await startHarness({ MICROSOFT_APP_ID: 'app-id', MICROSOFT_APP_PASSWORD: 'pw', MICROSOFT_APP_TENANT_ID: 'tenant' });
    const res = await h.send(conversationUpdate('https://smba.trafficmanager.net/amer/'));
    expect(res.status).toBe(401);
    expect(res.text).not.toMatch(/loopback/);
  });
});

// --- a real non-loopback peer --------------------------------------------------------------------
// A network namespace joined to this one by a veth pair, on addresses made here for the test
// (198.51.100.0/24 is reserved for documentation, so nothing real lives there). The namespace has
// no other interface and no route: its requests can only reach the address made for this side.

interface Netns {
  name: string;
  /** This side's address (the server is reached on it). */
  host: string;
  /** The namespace's address (the peer the server sees). */
  peer: string;
  exec(args: string[]): Promise<string>;
}

function setUpNetns(): Netns | null {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return null;
  const n = process.pid % 60;
  const name = `sitrep-teams-${process.pid}`;
  const veth = `srt${process.pid % 100_000}`;
  const host = `198.51.100.${n * 4 + 1}`;
  const peer = `198.51.100.${n * 4 + 2}`;
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    ip('netns', 'add', name);
  } catch {
    return null; // not permitted here: the namespace tests are skipped
  }
  try {
    ip('link', 'add', `${veth}a`, 'type', 'veth', 'peer', 'name', `${veth}b`);
    ip('link', 'set', `${veth}b`, 'netns', name);
    ip('addr', 'add', `${host}/30`, 'dev', `${veth}a`);
    ip('link', 'set', `${veth}a`, 'up');
    ip('netns', 'exec', name, 'ip', 'addr', 'add', `${peer}/30`, 'dev', `${veth}b`);
    ip('netns', 'exec', name, 'ip', 'link', 'set', `${veth}b`, 'up');
    ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
  } catch (err) {
    tearDownNetns(name, veth);
    throw err;
  }
  const cleanup = () => tearDownNetns(name, veth);
  process.once('exit', cleanup);
  afterAll(async () => {
    process.removeListener('exit', cleanup);
    cleanup();
  });
  return {
    name,
    host,
    peer,
    // Async: the server answering these requests runs in this very process.
    exec: async (args) => (await run('ip', ['netns', 'exec', name, ...args], { timeout: 30_000 })).stdout,
  };
}

function tearDownNetns(name: string, veth: string): void {
  // Deleting the namespace deletes its end of the pair, and with it this end.
  for (const args of [
    ['netns', 'del', name],
    ['link', 'del', `${veth}a`],
  ]) {
    try {
      execFileSync('ip', args, { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}

const netns = setUpNetns();

/** Sends one request from inside the namespace; resolves with the HTTP status the server gave. */
async function fromPeer(ns: Netns, url: string, init: { method: string; headers?: Record<string, string>; body?: string }): Promise<number> {
  const script =
    'fetch(process.argv[1], JSON.parse(process.argv[2])).then(async (r) => { await r.text(); console.log(r.status); }, (e) => { console.log("error " + e.message); process.exitCode = 1; })';
  const out = await ns.exec([process.execPath, '-e', script, url, JSON.stringify(init)]);
  return Number(out.trim());
}

describe.skipIf(!netns)('from a non-loopback peer (a network namespace on a veth pair)', () => {
  const ns = netns!;

  it('is refused with 401 and nothing written, whatever forwarding headers it sends; the same peer reaches /healthz', async () => {
    // Listening everywhere, as `npm start` does: IPv4 peers arrive as ::ffff:a.b.c.d.
    h = await startHarness({}, undefined, { host: '::' });
    const port = (h.server.server.address() as { port: number }).port;
    const url = `http://${ns.host}:${port}`;
    // The path works: the peer is heard, and only the Teams route turns it away.
    expect(await fromPeer(ns, `${url}/healthz`, { method: 'GET' })).toBe(200);

    const before = rowCounts(h.app.db);
    const activity = JSON.stringify(h.mention('channel incidents')); // a loopback serviceUrl: only the peer is wrong
    const forwarding: Array<Record<string, string>> = [
      {},
      { 'x-forwarded-for': '127.0.0.1' },
      { forwarded: 'for=127.0.0.1', 'x-real-ip': '127.0.0.1' },
      { host: 'localhost' },
    ];
    for (const headers of forwarding) {
      const status = await fromPeer(ns, `${url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: activity });
      expect(status).toBe(401);
    }
    expect(rowCounts(h.app.db)).toEqual(before);
    expect(h.fake.calls).toEqual([]);

    // The same activity from this machine's loopback is accepted.
    expect((await h.post(activity)).status).toBe(200);
  });

  it('a request from this machine to its own non-loopback address is not a loopback request either', async () => {
    h = await startHarness({}, undefined, { host: ns.host });
    const before = rowCounts(h.app.db);
    const res = await h.send(h.mention('channel incidents')); // h.url is http://<the veth address>:port
    expect(res.status).toBe(401);
    expect(res.json().error).toMatch(/only requests over loopback/);
    expect(rowCounts(h.app.db)).toEqual(before);
  });
});
