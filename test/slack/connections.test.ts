import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { stopHttpThread } from '../../adapters/slack/http-thread.js';
import { toDeliveryResult } from '../../adapters/slack/target.js';
import { createSlackWebApi } from '../../adapters/slack/web-api.js';

// How many connections the Slack client opens for a burst (adapters/slack/web-api.ts,
// ConnectionBudget): a fan-out to a near Slack rides on a few connections instead of opening one
// per channel, a far Slack still gets hundreds of requests in flight, and a request given up on
// while it waits for a connection is never sent. Over HTTP to a loopback stand-in that counts the
// connections it accepts and the requests it holds at once.

const TOKEN = 'xoxb-connections-test';

interface Upstream {
  apiUrl: string;
  connections: number;
  /** The most requests it held unanswered at once. */
  peak: number;
  /** Answers sent. */
  answered: number;
  channels: string[];
  server: Server;
}

function upstream(answerAfterMs: number): Promise<Upstream> {
  const u: Upstream = { apiUrl: '', connections: 0, peak: 0, answered: 0, channels: [], server: null as unknown as Server };
  let open = 0;
  u.server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      open += 1;
      u.peak = Math.max(u.peak, open);
      const { channel } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { channel: string };
      u.channels.push(channel);
      const answer = () => {
        open -= 1;
        u.answered += 1;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, channel, ts: `1.${u.channels.length}` }));
      };
      if (answerAfterMs > 0) setTimeout(answer, answerAfterMs);
      else answer();
    });
  });
  u.server.on('connection', () => (u.connections += 1));
  return new Promise((resolve) =>
    u.server.listen(0, '127.0.0.1', () => {
      u.apiUrl = `http://127.0.0.1:${(u.server.address() as AddressInfo).port}/api/`;
      resolve(u);
    }),
  );
}

let servers: Server[] = [];
afterEach(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  servers = [];
});

/** A Slack stand-in, and the client under test pointed at it. */
async function client(answerAfterMs: number, sockets: { maxSockets?: number; initialSockets?: number } = {}) {
  const u = await upstream(answerAfterMs);
  servers.push(u.server);
  return { u, web: createSlackWebApi({ token: TOKEN, apiUrl: u.apiUrl, ...sockets }) };
}

async function burst(answerAfterMs: number, posts: number, sockets: { maxSockets?: number; initialSockets?: number } = {}) {
  const { u, web } = await client(answerAfterMs, sockets);
  const answers = await Promise.all(Array.from({ length: posts }, (_, i) => web.chat.postMessage({ channel: `C${i}`, text: 'Checkout errors' })));
  return { u, answers };
}

describe('the Slack client’s connections', () => {
  it('a burst to a Slack that answers at once goes out on a few connections, not one per channel', async () => {
    const { u, answers } = await burst(0, 200);
    expect(answers.every((a) => a.ts)).toBe(true);
    expect(new Set(u.channels).size).toBe(200);
    // 16 to start with; a test process descheduled on a crowded machine may see one stall and
    // double it, or two, but never anything near one connection per channel.
    expect(u.connections).toBeLessThanOrEqual(64);
    expect(u.peak).toBeLessThanOrEqual(64);
  });

  it('a burst to a Slack that answers slowly gets hundreds of requests in flight', async () => {
    const { u, answers } = await burst(300, 300);
    expect(answers.every((a) => a.ts)).toBe(true);
    expect(u.channels).toHaveLength(300);
    // 16 connections would hold 16 at a time; the budget grew while requests waited.
    expect(u.peak).toBeGreaterThanOrEqual(128);
    expect(u.connections).toBeLessThanOrEqual(256);
  });

  it('never holds more than its most, however long requests wait', async () => {
    const { u, answers } = await burst(200, 100, { maxSockets: 24, initialSockets: 4 });
    expect(answers).toHaveLength(100);
    expect(u.channels).toHaveLength(100);
    expect(u.peak).toBeGreaterThan(4);
    expect(u.peak).toBeLessThanOrEqual(24);
    expect(u.connections).toBeLessThanOrEqual(24);
  });

  it('a request given up on while it waits for a connection is never sent', async () => {
    const { u, web } = await client(150, { maxSockets: 1, initialSockets: 1 });
    const first = web.chat.postMessage({ channel: 'C-first', text: 'x' });
    const ac = new AbortController();
    const waiting = web.chat.postMessage({ channel: 'C-abandoned', text: 'x' }, ac.signal);
    const after = web.chat.postMessage({ channel: 'C-after', text: 'x' });
    ac.abort();
    await expect(waiting).rejects.toThrow(/aborted before sending/);
    await Promise.all([first, after]);
    expect(u.channels).toEqual(['C-first', 'C-after']);
  });

  it('a call in flight when the HTTP thread stops fails as a dropped connection does (a retry), and the next call goes through', async () => {
    const { u, web } = await client(300);
    const lost = web.chat.postMessage({ channel: 'C-lost', text: 'x' }).catch((e: unknown) => e);
    while (u.channels.length === 0) await new Promise((r) => setTimeout(r, 5));
    await stopHttpThread();
    expect(toDeliveryResult(await lost)).toMatchObject({ kind: 'retry' });
    const again = await web.chat.postMessage({ channel: 'C-again', text: 'x' });
    expect(again.ts).toBeTruthy();
    expect(u.channels).toEqual(['C-lost', 'C-again']);
  });

  it('a call given up on while in flight ends at once, without waiting for the answer', async () => {
    const { u, web } = await client(5_000);
    const ac = new AbortController();
    const call = web.chat.postMessage({ channel: 'C-slow', text: 'x' }, ac.signal).catch((e: unknown) => e);
    // Once the stand-in holds the request (it answers only after 5 s).
    while (u.channels.length === 0) await new Promise((r) => setTimeout(r, 5));
    ac.abort();
    const err = await call;
    expect(toDeliveryResult(err)).toMatchObject({ kind: 'retry' });
    expect(u.channels).toEqual(['C-slow']);
    expect(u.answered).toBe(0);
  });

  it('an answer cut off mid-way is a retry, not a hang', async () => {
    const cut = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"ok":true,');
        setTimeout(() => req.socket.destroy(), 20);
      });
    });
    servers.push(cut);
    await new Promise<void>((resolve) => cut.listen(0, '127.0.0.1', () => resolve()));
    const web = createSlackWebApi({ token: TOKEN, apiUrl: `http://127.0.0.1:${(cut.address() as AddressInfo).port}/api/` });
    const err = await web.chat.postMessage({ channel: 'C-cut', text: 'x' }).catch((e: unknown) => e);
    expect(toDeliveryResult(err)).toMatchObject({ kind: 'retry' });
  });
});
