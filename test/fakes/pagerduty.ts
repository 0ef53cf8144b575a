import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

// A PagerDuty Events API v2 stand-in on 127.0.0.1: POST /v2/enqueue, validated as the Events API
// documents it (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ and
// resolve-events): a 32-character routing_key, event_action trigger|acknowledge|resolve, a
// dedup_key of at most 255 characters (required to resolve), and for a trigger a payload with a
// summary of 1 to 1,024 characters, a source and a severity of critical|error|warning|info; no
// field it does not know. A valid event is answered 202 {status, message, dedup_key}, an invalid one
// 400 {status: "invalid event", errors}. Answers can be scripted (429 with Retry-After, 500) ahead.

export interface PdEvent {
  body: any;
  status: number;
  errors: string[];
}

export interface FakePagerDuty {
  url: string;
  events: PdEvent[];
  /** The valid events answered 202, in arrival order. */
  accepted(): any[];
  script(...answers: Array<{ status: number; headers?: Record<string, string> }>): void;
  waitFor(pred: (pd: FakePagerDuty) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const SEVERITIES = ['critical', 'error', 'warning', 'info'];
const TOP = new Set(['routing_key', 'event_action', 'dedup_key', 'payload', 'images', 'links', 'client', 'client_url']);
const PAYLOAD = new Set(['summary', 'source', 'severity', 'timestamp', 'component', 'group', 'class', 'custom_details']);

export function validateEvent(b: unknown): string[] {
  const errors: string[] = [];
  if (typeof b !== 'object' || b === null || Array.isArray(b)) return ['the body is not a JSON object'];
  const e = b as Record<string, unknown>;
  for (const k of Object.keys(e)) if (!TOP.has(k)) errors.push(`unknown field ${k}`);
  if (typeof e.routing_key !== 'string' || e.routing_key.length !== 32) errors.push('routing_key must be a 32-character string');
  if (!['trigger', 'acknowledge', 'resolve'].includes(e.event_action as string)) errors.push('event_action must be trigger, acknowledge or resolve');
  if (e.dedup_key !== undefined && (typeof e.dedup_key !== 'string' || e.dedup_key.length === 0 || e.dedup_key.length > 255))
    errors.push('dedup_key must be 1 to 255 characters');
  if (e.event_action !== 'trigger' && typeof e.dedup_key !== 'string') errors.push(`dedup_key is required to ${String(e.event_action)}`);
  if (e.event_action === 'trigger') {
    const p = e.payload;
    if (typeof p !== 'object' || p === null || Array.isArray(p)) errors.push('payload is required to trigger');
    else {
      const q = p as Record<string, unknown>;
      for (const k of Object.keys(q)) if (!PAYLOAD.has(k)) errors.push(`unknown payload field ${k}`);
      if (typeof q.summary !== 'string' || q.summary.length < 1 || q.summary.length > 1024) errors.push('payload.summary must be 1 to 1,024 characters');
      if (typeof q.source !== 'string' || q.source.length < 1) errors.push('payload.source is required');
      if (!SEVERITIES.includes(q.severity as string)) errors.push('payload.severity must be critical, error, warning or info');
      if (q.custom_details !== undefined && (typeof q.custom_details !== 'object' || q.custom_details === null))
        errors.push('payload.custom_details must be an object');
    }
  } else if (e.payload !== undefined) errors.push(`payload is not taken to ${String(e.event_action)}`);
  if (e.links !== undefined) {
    if (!Array.isArray(e.links)) errors.push('links must be an array');
    else for (const l of e.links) if (typeof l !== 'object' || l === null || typeof (l as any).href !== 'string') errors.push('each link needs an href');
  }
  return errors;
}

export async function startFakePagerDuty(): Promise<FakePagerDuty> {
  const events: PdEvent[] = [];
  const queue: Array<{ status: number; headers?: Record<string, string> }> = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = (status: number, body: unknown, headers: Record<string, string> = {}) =>
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
      if (req.method !== 'POST' || req.url !== '/v2/enqueue') return answer(404, { status: 'not found' });
      if (!(req.headers['content-type'] ?? '').startsWith('application/json'))
        return answer(400, { status: 'invalid event', errors: ['content-type must be application/json'] });
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        events.push({ body: null, status: 400, errors: ['not JSON'] });
        return answer(400, { status: 'invalid event', message: 'Event object is invalid', errors: ['not JSON'] });
      }
      const scripted = queue.shift();
      if (scripted) {
        events.push({ body, status: scripted.status, errors: [] });
        return answer(scripted.status, { status: 'throttled' }, scripted.headers);
      }
      const errors = validateEvent(body);
      const status = errors.length ? 400 : 202;
      events.push({ body, status, errors });
      if (errors.length) return answer(400, { status: 'invalid event', message: 'Event object is invalid', errors });
      return answer(202, { status: 'success', message: 'Event processed', dedup_key: (body as any).dedup_key ?? 'generated' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const pd: FakePagerDuty = {
    url: `http://127.0.0.1:${port}/v2/enqueue`,
    events,
    accepted: () => events.filter((e) => e.status === 202).map((e) => e.body),
    script: (...a) => queue.push(...a),
    async waitFor(pred, timeoutMs = 10_000) {
      const end = Date.now() + timeoutMs;
      while (!pred(pd)) {
        if (Date.now() > end)
          throw new Error(`PagerDuty fake: condition not met; events: ${JSON.stringify(events.map((e) => [e.status, e.body?.event_action, e.errors]))}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  return pd;
}
