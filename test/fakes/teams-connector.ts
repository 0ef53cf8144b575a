import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

// A fake Bot Connector service (what an activity's serviceUrl points at) on a loopback address
// (127.0.0.1 unless told another, e.g. 127.0.0.2 to stand for a second Connector host). It serves
// the endpoints Sitrep calls:
//   POST /v3/conversations/{conversationId}/activities               (SendToConversation)
//   POST /v3/conversations/{conversationId}/activities/{activityId}  (ReplyToActivity)
//   PUT  /v3/conversations/{conversationId}/activities/{activityId}  (UpdateActivity)
// validates every body against the Activity schema of the Bot Connector's own Swagger spec
// (ConnectorAPI.json, kept in test/teams/fixtures), records the calls with their Authorization
// header, keeps the messages (so tests can read threads and edits), and can be scripted to answer
// 429 with Retry-After, 412 or HTTP 5xx (with or without a Retry-After, in seconds or as an HTTP
// date, as the Connector sends it when throttling), or nothing at all.

const SPEC = JSON.parse(readFileSync(new URL('../teams/fixtures/ConnectorAPI.json', import.meta.url), 'utf8')) as {
  definitions: Record<string, Schema>;
};

interface Schema {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  additionalProperties?: unknown;
  items?: Schema;
}

/** Checks `value` against a Swagger 2.0 schema; returns the first problem, or null. */
export function validate(value: unknown, schema: Schema, path = '$'): string | null {
  if (schema.$ref) {
    const name = schema.$ref.replace('#/definitions/', '');
    const def = SPEC.definitions[name];
    if (!def) return `${path}: unknown schema ${name}`;
    return validate(value, def, path);
  }
  if (value === null || value === undefined) return null;
  switch (schema.type) {
    case 'string':
      if (typeof value !== 'string') return `${path}: expected a string`;
      break;
    case 'boolean':
      if (typeof value !== 'boolean') return `${path}: expected a boolean`;
      break;
    case 'integer':
    case 'number':
      if (typeof value !== 'number') return `${path}: expected a number`;
      break;
    case 'array': {
      if (!Array.isArray(value)) return `${path}: expected an array`;
      for (let i = 0; i < value.length; i++) {
        const p = schema.items ? validate(value[i], schema.items, `${path}[${i}]`) : null;
        if (p) return p;
      }
      break;
    }
    case 'object':
    case undefined: {
      if (schema.type === 'object' && (typeof value !== 'object' || Array.isArray(value))) return `${path}: expected an object`;
      if (!schema.properties) break;
      if (typeof value !== 'object' || Array.isArray(value)) return `${path}: expected an object`;
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const prop = schema.properties[k];
        if (!prop) {
          if (schema.additionalProperties) continue;
          return `${path}.${k}: not a property of this schema`;
        }
        const p = validate(v, prop, `${path}.${k}`);
        if (p) return p;
      }
      break;
    }
  }
  if (schema.enum && !schema.enum.includes(value)) return `${path}: ${JSON.stringify(value)} is not one of ${schema.enum.join(', ')}`;
  return null;
}

export interface ConnectorCall {
  method: 'POST' | 'PUT';
  conversationId: string;
  activityId?: string;
  body: Record<string, any>;
  authorization?: string;
  status: number;
  error?: string;
  /** When the fake received it (Date.now()), so tests can see how far apart retries came. */
  at: number;
}

export interface ConnectorMessage {
  id: string;
  /** The conversation it was posted to: a channel id for top-level posts, `…;messageid=<root>` for replies. */
  conversationId: string;
  body: Record<string, any>;
  /** Each PUT replaces `body` and bumps this. */
  edits: number;
}

export type ConnectorFailure =
  | { status: 429; retryAfter: number | string }
  | { status: 400 | 403 | 404 | 412 | 500 | 502 | 503 | 504; retryAfter?: number | string }
  | { hang: true };

export interface FakeConnector {
  /** The serviceUrl to put in activities (has a path prefix, like the real ones). */
  serviceUrl: string;
  calls: ConnectorCall[];
  messages: ConnectorMessage[];
  /** Answers the next `times` calls (any endpoint, or only those `when` accepts) with `failure`. */
  failNext(failure: ConnectorFailure, times?: number, when?: (call: ConnectorCall) => boolean): void;
  /** Top-level posts in a channel. */
  posts(channel: string): ConnectorMessage[];
  /** Replies in the thread under `rootId`. */
  replies(channel: string, rootId: string): ConnectorMessage[];
  waitFor(pred: (f: FakeConnector) => boolean, ms?: number): Promise<void>;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startFakeConnector(opts: { host?: string } = {}): Promise<FakeConnector> {
  const host = opts.host ?? '127.0.0.1';
  const calls: ConnectorCall[] = [];
  const messages: ConnectorMessage[] = [];
  const failures: Array<{ failure: ConnectorFailure; when?: (call: ConnectorCall) => boolean }> = [];
  const sockets = new Set<Socket>();
  let seq = 1_700_000_000_000;

  const server: Server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) =>
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
      // The SDK puts conversation ids in the path unencoded (`19:…@thread.tacv2;messageid=…`).
      const m = /^\/amer\/v3\/conversations\/([^/]+)\/activities(?:\/([^/?]+))?(?:\?.*)?$/.exec(req.url ?? '');
      const method = req.method === 'PUT' ? 'PUT' : 'POST';
      if (!m || (req.method !== 'POST' && req.method !== 'PUT') || (req.method === 'PUT' && !m[2])) {
        send(404, { error: { code: 'NotFound', message: `${req.method} ${req.url} is not implemented by the fake` } });
        return;
      }
      const conversationId = decodeURIComponent(m[1]!);
      const activityId = m[2] ? decodeURIComponent(m[2]) : undefined;
      let body: Record<string, any> = {};
      const call: ConnectorCall = {
        method,
        conversationId,
        ...(activityId ? { activityId } : {}),
        body,
        status: 200,
        at: Date.now(),
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      };
      calls.push(call);
      try {
        body = JSON.parse(raw) as Record<string, any>;
        call.body = body;
      } catch {
        call.status = 400;
        call.error = 'body is not JSON';
        send(400, { error: { code: 'BadArgument', message: call.error } });
        return;
      }
      const problem =
        validate(body, { $ref: '#/definitions/Activity' }) ??
        (body.type === 'message' ? null : `$.type: expected "message" (got ${JSON.stringify(body.type)})`);
      if (problem) {
        call.status = 400;
        call.error = problem;
        send(400, { error: { code: 'BadArgument', message: problem } });
        return;
      }
      const at = failures.findIndex((f) => !f.when || f.when(call));
      const failure = at < 0 ? undefined : failures.splice(at, 1)[0]!.failure;
      if (failure) {
        if ('hang' in failure) {
          call.status = 0;
          return; // never answers; the socket is destroyed on close
        }
        call.status = failure.status;
        const code = failure.status === 429 ? 'Throttled' : failure.status === 412 ? 'PreconditionFailed' : 'ServiceError';
        send(
          failure.status,
          { error: { code, message: 'scripted failure' } },
          failure.retryAfter !== undefined ? { 'retry-after': String(failure.retryAfter) } : {},
        );
        return;
      }
      if (method === 'PUT') {
        const msg = messages.find((x) => x.id === activityId);
        if (!msg) {
          call.status = 404;
          send(404, { error: { code: 'NotFound', message: `no activity ${activityId}` } });
          return;
        }
        msg.body = body;
        msg.edits++;
        send(200, { id: activityId });
        return;
      }
      const id = String(++seq);
      // ReplyToActivity in a channel threads under the activity it answers.
      const target = activityId && !conversationId.includes(';messageid=') ? `${conversationId};messageid=${activityId}` : conversationId;
      messages.push({ id, conversationId: target, body, edits: 0 });
      call.status = 201;
      send(201, { id });
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const fake: FakeConnector = {
    serviceUrl: `http://${host.includes(':') ? `[${host}]` : host}:${port}/amer/`,
    calls,
    messages,
    failNext(failure, times = 1, when) {
      for (let i = 0; i < times; i++) failures.push(when ? { failure, when } : { failure });
    },
    posts: (channel) => messages.filter((x) => x.conversationId === channel),
    replies: (channel, rootId) => messages.filter((x) => x.conversationId === `${channel};messageid=${rootId}`),
    async waitFor(pred, ms = 10_000) {
      const end = Date.now() + ms;
      while (!pred(fake)) {
        if (Date.now() > end)
          throw new Error(`fake connector: condition not met; calls: ${JSON.stringify(calls.map((c) => [c.method, c.conversationId, c.status, c.error]))}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}
