import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

// A scriptable webhook receiver on 127.0.0.1. Each request takes the next scripted answer (then the
// default): a status (with headers), 'hang' (never answers), or 'close' (drops the connection).

export type Answer = { status: number; headers?: Record<string, string> } | 'hang' | 'close';

export interface ReceivedWebhook {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  json: any;
  answer: Answer;
  at: number;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  requests: ReceivedWebhook[];
  /** Requests answered 2xx: what the subscriber actually got. */
  accepted(): ReceivedWebhook[];
  script(...answers: Answer[]): void;
  setDefault(answer: Answer): void;
  waitFor(pred: (r: WebhookReceiver) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(defaultAnswer: Answer = { status: 200 }): Promise<WebhookReceiver> {
  const queue: Answer[] = [];
  let fallback = defaultAnswer;
  const sockets = new Set<Socket>();
  const requests: ReceivedWebhook[] = [];
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
      requests.push({
        id: String(req.headers['webhook-id'] ?? ''),
        timestamp: String(req.headers['webhook-timestamp'] ?? ''),
        signature: String(req.headers['webhook-signature'] ?? ''),
        body,
        json,
        answer,
        at: Date.now(),
      });
      if (answer === 'hang') return;
      if (answer === 'close') {
        req.socket.destroy();
        return;
      }
      res.writeHead(answer.status, answer.headers ?? {}).end('ok');
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const receiver: WebhookReceiver = {
    url: `http://127.0.0.1:${port}/hooks/sitrep`,
    port,
    requests,
    accepted: () => requests.filter((r) => typeof r.answer === 'object' && r.answer.status >= 200 && r.answer.status < 300),
    script: (...answers) => void queue.push(...answers),
    setDefault: (a) => void (fallback = a),
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
