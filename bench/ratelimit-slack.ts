import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RollingLimit } from './ratelimit-window.js';

// For the rate-limited fan-out benchmark: a loopback stand-in for the Slack Web API that keeps
// Slack's posting limit itself, as test/fakes/slack-api.ts does with `rateLimit` (the same rule,
// ./ratelimit-window.ts): chat.postMessage beyond one message per second in a channel is answered
// 429 with Retry-After and not kept. It records every message it accepts with the time it arrived,
// says when every expected channel has every expected message, and counts what was lost or came
// twice. Only what the benchmark's path calls is served (chat.postMessage, chat.update); anything
// else is a plain `ok`.

export interface Expectation {
  /** Channel ids that must each receive `roots` top-level messages and `replies` thread replies. */
  channels: string[];
  roots: number;
  replies: number;
}

export interface ChannelCounts {
  roots: number;
  replies: number;
}

export interface SlackStats {
  accepted: number;
  refused: number;
  updates: number;
  /** Expected messages that never arrived, and arrivals beyond what was expected, over the expected channels. */
  lost: number;
  duplicated: number;
  /** Accepted messages in channels that were not expected (the incidents channel's thread). */
  elsewhere: number;
  /** Epoch ms (sub-millisecond) of the first and last accepted message in the expected channels. */
  firstAt: number | null;
  lastAt: number | null;
  /** The closest two accepted messages in one expected channel came, in ms. */
  minSpacingMs: number | null;
  /** When every expected message had arrived (epoch ms), or null. */
  completeAt: number | null;
  /** Arrival times (epoch ms) of each channel's first and last message, over the expected channels, sorted. */
  firstPerChannel: number[];
  lastPerChannel: number[];
  /** Per expected channel with two or more messages: ms between its first and last, sorted. */
  spreadPerChannel: number[];
}

export interface RateLimitedSlack {
  apiUrl: string;
  expect(e: Expectation, onComplete: (at: number) => void): void;
  stats(): SlackStats;
  close(): Promise<void>;
}

/** Epoch milliseconds with sub-millisecond precision, comparable across processes on one machine. */
export const epochNow = () => performance.timeOrigin + performance.now();

function params(req: IncomingMessage, raw: string): Record<string, string> {
  if (String(req.headers['content-type'] ?? '').includes('application/json')) {
    const j = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    return Object.fromEntries(Object.entries(j).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  }
  return Object.fromEntries(new URLSearchParams(raw));
}

export async function startRateLimitedSlack(opts: { token: string; perChannel?: number }): Promise<RateLimitedSlack> {
  const limit = new RollingLimit({ limit: opts.perChannel ?? 1, windowMs: 1_000 });
  const byChannel = new Map<string, { roots: Set<string>; replies: number; times: number[] }>();
  let expectation: Expectation | null = null;
  let expected = new Set<string>();
  let onComplete: ((at: number) => void) | null = null;
  let completeAt: number | null = null;
  let accepted = 0;
  let updates = 0;
  let seq = 0;
  let done = 0;

  const isDone = (c: { roots: Set<string>; replies: number }) => c.roots.size >= expectation!.roots && c.replies >= expectation!.replies;

  function post(p: Record<string, string>): { status: number; body: Record<string, unknown>; headers?: Record<string, string> } {
    const channel = p.channel ?? '';
    const room = limit.check(channel);
    if (!room.ok) return { status: 429, body: { ok: false, error: 'ratelimited' }, headers: { 'retry-after': String(room.retryAfterSeconds) } };
    const c = byChannel.get(channel) ?? { roots: new Set<string>(), replies: 0, times: [] };
    if (p.thread_ts && !c.roots.has(p.thread_ts)) return { status: 200, body: { ok: false, error: 'thread_not_found' } };
    limit.record(channel);
    const at = epochNow();
    seq += 1;
    const ts = `${1_700_000_000 + seq}.${String(seq).padStart(6, '0')}`;
    const wasDone = expectation !== null && expected.has(channel) && isDone(c);
    if (p.thread_ts) c.replies += 1;
    else c.roots.add(ts);
    c.times.push(at);
    byChannel.set(channel, c);
    accepted += 1;
    if (expectation && expected.has(channel) && !wasDone && isDone(c)) {
      done += 1;
      if (done === expected.size && completeAt === null) {
        completeAt = at;
        onComplete?.(at);
      }
    }
    return { status: 200, body: { ok: true, channel, ts, message: { ts, text: p.text ?? '' } } };
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) =>
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));
      if (req.headers.authorization !== `Bearer ${opts.token}`) return send(200, { ok: false, error: 'invalid_auth' });
      const method = /^\/api\/([a-zA-Z.]+)$/.exec(new URL(req.url ?? '/', 'http://127.0.0.1').pathname)?.[1];
      let p: Record<string, string>;
      try {
        p = params(req, Buffer.concat(chunks).toString('utf8'));
      } catch {
        return send(200, { ok: false, error: 'invalid_json' });
      }
      if (method === 'chat.postMessage') {
        const r = post(p);
        return send(r.status, r.body, r.headers);
      }
      if (method === 'chat.update') {
        updates += 1;
        return send(200, { ok: true, channel: p.channel, ts: p.ts, text: p.text ?? '' });
      }
      return send(200, { ok: true });
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    apiUrl: `${origin}/api/`,
    expect(e, cb) {
      expectation = e;
      expected = new Set(e.channels);
      onComplete = cb;
      completeAt = null;
      done = [...expected].filter((ch) => {
        const c = byChannel.get(ch);
        return c !== undefined && isDone(c);
      }).length;
    },
    stats() {
      let lost = 0;
      let duplicated = 0;
      let elsewhere = 0;
      let firstAt: number | null = null;
      let lastAt: number | null = null;
      let minSpacingMs: number | null = null;
      const firstPerChannel: number[] = [];
      const lastPerChannel: number[] = [];
      const spreadPerChannel: number[] = [];
      for (const [channel, c] of byChannel) {
        if (!expected.has(channel)) {
          elsewhere += c.times.length;
          continue;
        }
        if (c.times.length) {
          firstPerChannel.push(c.times[0]!);
          lastPerChannel.push(c.times.at(-1)!);
          if (c.times.length > 1) spreadPerChannel.push(c.times.at(-1)! - c.times[0]!);
        }
        for (const t of c.times) {
          firstAt = firstAt === null ? t : Math.min(firstAt, t);
          lastAt = lastAt === null ? t : Math.max(lastAt, t);
        }
        for (let i = 1; i < c.times.length; i++) {
          const gap = c.times[i]! - c.times[i - 1]!;
          minSpacingMs = minSpacingMs === null ? gap : Math.min(minSpacingMs, gap);
        }
      }
      if (expectation) {
        for (const ch of expected) {
          const c = byChannel.get(ch) ?? { roots: new Set<string>(), replies: 0 };
          lost += Math.max(0, expectation.roots - c.roots.size) + Math.max(0, expectation.replies - c.replies);
          duplicated += Math.max(0, c.roots.size - expectation.roots) + Math.max(0, c.replies - expectation.replies);
        }
      }
      firstPerChannel.sort((a, b) => a - b);
      lastPerChannel.sort((a, b) => a - b);
      spreadPerChannel.sort((a, b) => a - b);
      return {
        accepted,
        refused: limit.refusedTotal,
        updates,
        lost,
        duplicated,
        elsewhere,
        firstAt,
        lastAt,
        minSpacingMs,
        completeAt,
        firstPerChannel,
        lastPerChannel,
        spreadPerChannel,
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
