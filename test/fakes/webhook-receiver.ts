import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

// A scriptable webhook receiver on loopback (127.0.0.1 unless another 127.x address is asked
// for). Each request takes the next scripted answer (then the default): a status (with headers,
// and optionally only after `delayMs`), 'hang' (never answers), or 'close' (drops the
// connection). It counts the connections it accepted and the most requests it held at once.

export type Answer = { status: number; headers?: Record<string, string>; delayMs?: number } | 'hang' | 'close';

export interface ReceivedWebhook {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  json: any;
  answer: Answer;
  at: number;
  /** The request path: several subscribers can share one receiver under different paths. */
  path: string;
  /** When the answer was written (a delayed or held one only then counts as accepted). */
  answeredAt?: number;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  requests: ReceivedWebhook[];
  /** Requests answered 2xx (the answer written): what the subscriber actually got. */
  accepted(): ReceivedWebhook[];
  script(...answers: Answer[]): void;
  setDefault(answer: Answer): void;
  /** TCP connections accepted so far (keep-alive senders open far fewer than they send requests). */
  connections(): number;
  /** Requests being held (read, not yet answered) right now, and the most at any moment. */
  open(): number;
  peakOpen(): number;
  /** Answers every request being held ('hang' ones included) with `answer` now. */
  release(answer?: { status: number }): void;
  waitFor(pred: (r: WebhookReceiver) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(defaultAnswer: Answer = { status: 200 }, opts: { host?: string; port?: number } = {}): Promise<WebhookReceiver> {
  const host = opts.host ?? '127.0.0.1';
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) throw new Error(`webhook receiver: ${host} is not a loopback address`);
  const queue: Answer[] = [];
  let fallback = defaultAnswer;
  const sockets = new Set<Socket>();
  const requests: ReceivedWebhook[] = [];
  const held = new Map<ServerResponse, ReceivedWebhook>();
  let accepted = 0;
  let peak = 0;
  const hold = (res: ServerResponse, rec: ReceivedWebhook) => {
    held.set(res, rec);
    peak = Math.max(peak, held.size);
    res.once('close', () => held.delete(res));
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const answer = queue.shift() ?? fallback;
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {
        json = null;
      }
      const rec: ReceivedWebhook = {
        id: String(req.headers['webhook-id'] ?? ''),
        timestamp: String(req.headers['webhook-timestamp'] ?? ''),
        signature: String(req.headers['webhook-signature'] ?? ''),
        body,
        json,
        answer,
        at: Date.now(),
        path: req.url ?? '',
      };
      requests.push(rec);
      hold(res, rec);
      if (answer === 'hang') return;
      if (answer === 'close') {
        req.socket.destroy();
        return;
      }
      const reply = () => {
        if (res.headersSent || res.destroyed) return;
        rec.answeredAt = Date.now();
        res.writeHead(answer.status, answer.headers ?? {}).end('ok');
      };
      if (answer.delayMs) setTimeout(reply, answer.delayMs);
      else reply();
    });
  });
  server.on('connection', (s: Socket) => {
    accepted += 1;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const receiver: WebhookReceiver = {
    url: `http://${host}:${port}/hooks/sitrep`,
    port,
    requests,
    accepted: () => requests.filter((r) => r.answeredAt !== undefined && typeof r.answer === 'object' && r.answer.status >= 200 && r.answer.status < 300),
    script: (...answers) => void queue.push(...answers),
    setDefault: (a) => void (fallback = a),
    connections: () => accepted,
    open: () => held.size,
    peakOpen: () => peak,
    release(answer = { status: 200 }) {
      for (const [res, rec] of [...held]) {
        if (res.headersSent || res.destroyed) continue;
        rec.answer = answer;
        rec.answeredAt = Date.now();
        res.writeHead(answer.status).end('ok');
      }
    },
    async waitFor(pred, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      while (!pred(receiver)) {
        if (Date.now() > until) throw new Error(`webhook receiver: condition not met within ${timeoutMs} ms (got ${requests.length} requests)`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  return receiver;
}
