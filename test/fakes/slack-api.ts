import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { RollingLimit } from '../../bench/ratelimit-window.js';

// A fake Slack Web API on 127.0.0.1, for adapter tests and the benchmark. It records every call,
// validates the required parameters of each method it implements (from Slack's own OpenAPI spec,
// plus the few the spec leaves unmarked but the real API enforces), checks the bot token, keeps
// the messages it was sent (so conversations.replies and chat.update behave), and can be scripted
// to answer 429 with Retry-After, HTTP 5xx or `ok:false, error:"ratelimited"`. With `rateLimit`
// it also enforces Slack's posting limit the way Slack does, on its own: chat.postMessage beyond
// `perChannel` messages per second in one channel is answered 429 with Retry-After (and counted),
// and only accepted messages are kept. It also accepts response_url posts at /response/<id>.

// An excerpt of Slack's OpenAPI spec (see its _provenance), kept in the repo so CI needs nothing else.
const SPEC = new URL('../slack/fixtures/slack-web-api-methods.json', import.meta.url);

/** Required by the real API though the 2020 spec does not mark them so. */
const EXTRA_REQUIRED: Record<string, string[]> = {
  'conversations.create': ['name'],
  'conversations.invite': ['channel', 'users'],
  'conversations.replies': ['channel', 'ts'],
};

export const IMPLEMENTED = [
  'auth.test',
  'chat.postMessage',
  'chat.update',
  'chat.postEphemeral',
  'views.open',
  'conversations.create',
  'conversations.invite',
  'conversations.replies',
] as const;

export interface FakeCall {
  method: string;
  params: Record<string, unknown>;
  /** False when the fake refused the call for a missing parameter or a bad token. */
  valid: boolean;
  status: number;
  at: number;
}

export interface FakeMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  user?: string;
  bot_id?: string;
  text: string;
  blocks?: unknown[];
  reply_broadcast?: boolean;
  /** When the fake accepted it (Date.now()); absent for messages added with addMessage. */
  at?: number;
}

export type Failure = { status: 429; retryAfter: number } | { status: 500 | 502 | 503 } | { error: string } | { hang: true };

export interface FakeSlackApi {
  /** Base URL for SLACK_API_URL (ends with /api/). */
  apiUrl: string;
  origin: string;
  calls: FakeCall[];
  /**
   * What a slash command's sender was shown, in arrival order: posts received on response_url
   * endpoints, and messages carried by acks (`via: 'ack'`: an HTTP ack the test handed to
   * recordAck, or a Socket Mode envelope ack whose command carried one of this fake's
   * response_urls).
   */
  responses: Array<{ id: string; body: Record<string, unknown>; at: number; via?: 'ack' }>;
  /**
   * Keeps a slash command's HTTP ack body as a response when it carries a message. `responseId`
   * is the id given to responseUrl, or the whole response_url.
   */
  recordAck(responseId: string, ackBody: string): void;
  messages: FakeMessage[];
  /** Channel id → name: those conversations.create made, and any a test adds (to take a name). */
  channels: Map<string, string>;
  /** The ids of channels created with is_private (Slack's private channels). */
  privateChannels: Set<string>;
  /** Channel id → the user ids in it (the bot is in every channel it created; conversations.invite adds). */
  members: Map<string, Set<string>>;
  /** Answers the next `times` calls of `method` with `failure`. */
  failNext(method: string, failure: Failure, times?: number): void;
  /** A response_url that posts back to this fake. */
  responseUrl(id: string): string;
  /** A message written by a person (for reactions and replies). */
  addMessage(m: FakeMessage): void;
  callsOf(method: string): FakeCall[];
  /** chat.postMessage calls the per-channel limit refused with 429 (0 without `rateLimit`). */
  rateLimited(): number;
  /** Socket Mode: the app token apps.connections.open accepts; envelopes sent and acks received. */
  socket: {
    appToken: string;
    connected: () => boolean;
    send(envelope: Record<string, unknown>): void;
    acks: Array<Record<string, unknown>>;
  };
  /** Resolves when `pred` holds for the recorded calls (polls; rejects after `ms`). */
  waitFor(pred: (f: FakeSlackApi) => boolean, ms?: number): Promise<void>;
  close(): Promise<void>;
}

function loadRequired(): Record<string, string[]> {
  const spec = JSON.parse(readFileSync(SPEC, 'utf8')) as {
    paths: Record<string, Record<string, { parameters?: Array<{ name: string; required?: boolean }> }>>;
  };
  const out: Record<string, string[]> = {};
  for (const m of IMPLEMENTED) {
    const path = spec.paths[`/${m}`];
    if (!path) throw new Error(`the Slack spec has no /${m}`);
    const params = Object.values(path).flatMap((op) => op.parameters ?? []);
    out[m] = [...new Set([...params.filter((p) => p.required && p.name !== 'token').map((p) => p.name), ...(EXTRA_REQUIRED[m] ?? [])])];
  }
  return out;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseParams(req: IncomingMessage, raw: string, url: URL): Record<string, unknown> {
  const out: Record<string, unknown> = Object.fromEntries(url.searchParams);
  const type = String(req.headers['content-type'] ?? '');
  if (type.includes('application/json') && raw) Object.assign(out, JSON.parse(raw));
  else if (raw) for (const [k, v] of new URLSearchParams(raw)) out[k] = v;
  // The WebClient sends objects (blocks, view) JSON-encoded inside the form.
  for (const k of ['blocks', 'view', 'attachments']) {
    if (typeof out[k] === 'string') {
      try {
        out[k] = JSON.parse(out[k] as string);
      } catch {
        /* left as text; the method decides */
      }
    }
  }
  return out;
}

// --- a minimal WebSocket server (RFC 6455: handshake, unfragmented text frames, ping/pong, close) ---

function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head =
    len < 126
      ? Buffer.from([0x80 | opcode, len])
      : len < 65536
        ? Buffer.from([0x80 | opcode, 126, len >> 8, len & 255])
        : (() => {
            const b = Buffer.alloc(10);
            b[0] = 0x80 | opcode;
            b[1] = 127;
            b.writeBigUInt64BE(BigInt(len), 2);
            return b;
          })();
  return Buffer.concat([head, payload]);
}

function wsAttach(socket: Socket, onText: (text: string) => void): { send(text: string): void } {
  let buf = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 2) return;
      const opcode = buf[0]! & 0x0f;
      const masked = (buf[1]! & 0x80) !== 0;
      let len = buf[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      const maskOff = off;
      if (masked) off += 4;
      if (buf.length < off + len) return;
      const payload = Buffer.from(buf.subarray(off, off + len));
      if (masked) for (let i = 0; i < len; i++) payload[i]! ^= buf[maskOff + (i % 4)]!;
      buf = buf.subarray(off + len);
      if (opcode === 0x1) onText(payload.toString('utf8'));
      else if (opcode === 0x9) socket.write(encodeFrame(0xa, payload));
      else if (opcode === 0x8) {
        socket.end(encodeFrame(0x8, payload.subarray(0, 2)));
        return;
      }
    }
  });
  return { send: (text) => void socket.write(encodeFrame(0x1, Buffer.from(text, 'utf8'))) };
}

export interface FakeSlackOptions {
  token: string;
  appToken?: string;
  now?: () => number;
  /** Slack's per-channel posting limit (about one message per second per channel); off by default. */
  rateLimit?: { perChannel: number; windowMs?: number };
  /**
   * Per-method limits for the whole workspace, as Slack keeps them for its rate tiers: e.g.
   * conversations.replies at one call a minute for new apps outside the Marketplace
   * (`{ 'conversations.replies': { limit: 1, windowMs: 60_000 } }`). A call beyond the limit is
   * answered 429 with the Retry-After (whole seconds) until the window has room.
   */
  methodLimits?: Record<string, { limit: number; windowMs: number }>;
}

export async function startFakeSlackApi(opts: FakeSlackOptions): Promise<FakeSlackApi> {
  const required = loadRequired();
  const limit = opts.rateLimit ? new RollingLimit({ limit: opts.rateLimit.perChannel, windowMs: opts.rateLimit.windowMs ?? 1_000 }) : null;
  const failures = new Map<string, Failure[]>();
  const methodLimits = new Map(Object.entries(opts.methodLimits ?? {}).map(([m, l]) => [m, new RollingLimit({ limit: l.limit, windowMs: l.windowMs })]));
  let seq = 0;
  const nextTs = () => {
    seq += 1;
    return `${1_700_000_000 + seq}.${String(seq).padStart(6, '0')}`;
  };
  let channelSeq = 0;
  const now = opts.now ?? Date.now;

  let ws: { send(text: string): void } | null = null;
  const sockets = new Set<Socket>();
  /** Socket Mode envelopes sent with a slash command: envelope_id → its response_url id. */
  const envelopeResponses = new Map<string, string>();
  const fake: FakeSlackApi = {
    socket: {
      appToken: opts.appToken ?? 'xapp-test-token',
      connected: () => ws !== null,
      send: (envelope) => {
        if (!ws) throw new Error('no Socket Mode client is connected');
        const payload = (envelope as { payload?: { response_url?: unknown } }).payload;
        const m = typeof payload?.response_url === 'string' ? /\/response\/([^/?]+)$/.exec(payload.response_url) : null;
        if (m) envelopeResponses.set(String((envelope as { envelope_id?: unknown }).envelope_id), decodeURIComponent(m[1]!));
        ws.send(JSON.stringify(envelope));
      },
      acks: [],
    },
    apiUrl: '',
    origin: '',
    calls: [],
    responses: [],
    recordAck(responseIdOrUrl, ackBody) {
      const m = /\/response\/([^/?]+)$/.exec(responseIdOrUrl);
      const responseId = m ? decodeURIComponent(m[1]!) : responseIdOrUrl;
      let body: unknown;
      try {
        body = JSON.parse(ackBody);
      } catch {
        return; // an empty ack
      }
      if (body && typeof body === 'object' && typeof (body as { text?: unknown }).text === 'string') {
        fake.responses.push({ id: responseId, body: body as Record<string, unknown>, at: Date.now(), via: 'ack' });
      }
    },
    messages: [],
    channels: new Map(),
    privateChannels: new Set(),
    members: new Map(),
    failNext(method, failure, times = 1) {
      const list = failures.get(method) ?? [];
      for (let i = 0; i < times; i++) list.push(failure);
      failures.set(method, list);
    },
    responseUrl: (id) => `${fake.origin}/response/${encodeURIComponent(id)}`,
    addMessage: (m) => void fake.messages.push(m),
    callsOf: (method) => fake.calls.filter((c) => c.method === method && c.valid),
    rateLimited: () => limit?.refusedTotal ?? 0,
    async waitFor(pred, ms = 10_000) {
      const end = Date.now() + ms;
      while (!pred(fake)) {
        if (Date.now() > end) throw new Error(`fake Slack: condition not met in ${ms} ms; calls: ${fake.calls.map((c) => c.method).join(', ')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: async () => undefined,
  };

  function handle(method: string, p: Record<string, unknown>): Record<string, unknown> {
    switch (method) {
      case 'auth.test':
        return { ok: true, url: 'https://fake.slack.com/', team: 'Fake', user: 'sitrep', team_id: 'T0FAKE', user_id: 'U0SITREP', bot_id: 'B0SITREP' };
      case 'chat.postMessage': {
        if (p.text === undefined && p.blocks === undefined && p.attachments === undefined) return { ok: false, error: 'no_text' };
        const m: FakeMessage = {
          channel: String(p.channel),
          ts: nextTs(),
          bot_id: 'B0SITREP',
          text: String(p.text ?? ''),
          ...(p.thread_ts ? { thread_ts: String(p.thread_ts) } : {}),
          ...(Array.isArray(p.blocks) ? { blocks: p.blocks } : {}),
          ...(p.reply_broadcast === true || p.reply_broadcast === 'true' ? { reply_broadcast: true } : {}),
        };
        if (m.thread_ts && !fake.messages.some((x) => x.channel === m.channel && x.ts === m.thread_ts)) return { ok: false, error: 'thread_not_found' };
        m.at = Date.now();
        limit?.record(m.channel);
        fake.messages.push(m);
        return { ok: true, channel: m.channel, ts: m.ts, message: { text: m.text, ts: m.ts, bot_id: m.bot_id } };
      }
      case 'chat.update': {
        const m = fake.messages.find((x) => x.channel === p.channel && x.ts === p.ts);
        if (!m) return { ok: false, error: 'message_not_found' };
        m.text = String(p.text ?? m.text);
        if (Array.isArray(p.blocks)) m.blocks = p.blocks;
        return { ok: true, channel: m.channel, ts: m.ts, text: m.text };
      }
      case 'chat.postEphemeral':
        return { ok: true, message_ts: nextTs() };
      case 'views.open': {
        const view = p.view as { type?: string; blocks?: unknown[] } | string;
        if (typeof view !== 'object' || view.type !== 'modal' || !Array.isArray(view.blocks)) return { ok: false, error: 'invalid_arguments' };
        return { ok: true, view: { id: `V${++channelSeq}`, ...view } };
      }
      case 'conversations.create': {
        const name = String(p.name);
        if (!/^[a-z0-9_-]{1,80}$/.test(name)) return { ok: false, error: 'invalid_name_specials' };
        if ([...fake.channels.values()].includes(name)) return { ok: false, error: 'name_taken' };
        // Form posts carry booleans as text; Slack reads "true" and "1" as true.
        const isPrivate = p.is_private === true || p.is_private === 'true' || p.is_private === '1';
        // Slack's private channels have G-prefixed ids in older workspaces and C in newer ones; C here.
        const id = `C0NEW${++channelSeq}`;
        fake.channels.set(id, name);
        if (isPrivate) fake.privateChannels.add(id);
        fake.members.set(id, new Set(['U0SITREP']));
        return {
          ok: true,
          channel: { id, name, is_channel: !isPrivate, is_group: false, is_private: isPrivate, created: Math.floor(now() / 1000), creator: 'U0SITREP' },
        };
      }
      case 'conversations.invite': {
        const channel = String(p.channel);
        if (!fake.channels.has(channel)) return { ok: false, error: 'channel_not_found' };
        const members = fake.members.get(channel) ?? new Set<string>();
        fake.members.set(channel, members);
        const users = String(p.users)
          .split(',')
          .map((u) => u.trim())
          .filter(Boolean);
        if (!users.length || users.some((u) => !/^[UW][A-Z0-9]+$/.test(u))) return { ok: false, error: 'user_not_found' };
        if (users.includes('U0SITREP')) return { ok: false, error: 'cant_invite_self' };
        if (users.every((u) => members.has(u))) return { ok: false, error: 'already_in_channel' };
        for (const u of users) members.add(u);
        return { ok: true, channel: { id: channel, name: fake.channels.get(channel), is_private: fake.privateChannels.has(channel) } };
      }
      case 'conversations.replies': {
        const all = fake.messages.filter((m) => m.channel === p.channel);
        const first = all.find((m) => m.ts === p.ts);
        if (!first) return { ok: false, error: 'thread_not_found' };
        const root = first.thread_ts ?? first.ts;
        const thread = all.filter((m) => m.ts === root || m.thread_ts === root);
        // With inclusive + limit 1 and the ts of a reply, Slack answers with that one message.
        const msgs = p.ts !== root && Number(p.limit) === 1 ? [first] : thread;
        return { ok: true, messages: msgs.map((m) => ({ type: 'message', ...m })), has_more: false };
      }
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const raw = await readBody(req);
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) =>
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));
      const resp = /^\/response\/(.+)$/.exec(url.pathname);
      if (resp) {
        fake.responses.push({ id: decodeURIComponent(resp[1]!), body: raw ? (JSON.parse(raw) as Record<string, unknown>) : {}, at: Date.now() });
        return send(200, { ok: true });
      }
      const m = /^\/api\/([a-zA-Z.]+)$/.exec(url.pathname);
      if (!m) return send(404, { ok: false, error: 'not_found' });
      const method = m[1]!;
      const params = parseParams(req, raw, url);
      const call: FakeCall = { method, params, valid: true, status: 200, at: Date.now() };
      fake.calls.push(call);
      const auth = String(req.headers.authorization ?? '');
      const token = auth.startsWith('Bearer ') ? auth.slice(7) : String(params.token ?? '');
      if (method === 'apps.connections.open') {
        if (token !== fake.socket.appToken) {
          call.valid = false;
          return send(200, { ok: false, error: 'invalid_auth' });
        }
        return send(200, { ok: true, url: `ws://127.0.0.1:${port}/socket` });
      }
      if (token !== opts.token) {
        call.valid = false;
        return send(200, { ok: false, error: token ? 'invalid_auth' : 'not_authed' });
      }
      const missing = (required[method] ?? []).filter((k) => params[k] === undefined || params[k] === '');
      if (missing.length) {
        call.valid = false;
        return send(200, {
          ok: false,
          error: 'invalid_arguments',
          response_metadata: { messages: missing.map((k) => `[ERROR] missing required field: ${k}`) },
        });
      }
      const scripted = failures.get(method)?.shift();
      if (scripted) {
        call.valid = false;
        if ('hang' in scripted) return; // never answered; closed with the fake
        if ('status' in scripted) {
          call.status = scripted.status;
          return scripted.status === 429
            ? send(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(scripted.retryAfter) })
            : send(scripted.status, { ok: false, error: 'internal_error' });
        }
        return send(200, { ok: false, error: scripted.error });
      }
      const tier = methodLimits.get(method);
      if (tier) {
        const room = tier.admit(method);
        if (!room.ok) {
          call.valid = false;
          call.status = 429;
          return send(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(room.retryAfterSeconds) });
        }
      }
      if (limit && method === 'chat.postMessage') {
        const room = limit.check(String(params.channel));
        if (!room.ok) {
          call.valid = false;
          call.status = 429;
          return send(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(room.retryAfterSeconds) });
        }
      }
      const body = handle(method, params);
      if (body.ok !== true) call.valid = false;
      return send(200, body);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });
  server.on('upgrade', (req, socket: Socket) => {
    const key = String(req.headers['sec-websocket-key'] ?? '');
    const accept = createHash('sha1')
      .update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
      .digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    sockets.add(socket);
    const conn = wsAttach(socket, (text) => {
      const ack = JSON.parse(text) as Record<string, unknown>;
      fake.socket.acks.push(ack);
      const id = envelopeResponses.get(String(ack.envelope_id));
      if (id !== undefined && ack.payload && typeof ack.payload === 'object') fake.recordAck(id, JSON.stringify(ack.payload));
    });
    socket.on('close', () => {
      sockets.delete(socket);
      if (ws === conn) ws = null;
    });
    // An upgraded socket stays half open (the HTTP server's allowHalfOpen): a client that is gone
    // (killed with nothing unread, so its kernel sent FIN rather than RST) would otherwise still
    // look connected.
    socket.on('end', () => socket.destroy());
    socket.on('error', () => undefined);
    ws = conn;
    conn.send(
      JSON.stringify({
        type: 'hello',
        num_connections: 1,
        debug_info: { host: 'fake', approximate_connection_time: 3600 },
        connection_info: { app_id: 'A0FAKE' },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  fake.origin = `http://127.0.0.1:${port}`;
  fake.apiUrl = `${fake.origin}/api/`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}
