import type { IncomingMessage, ServerResponse } from 'node:http';

export type Handler = (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => void | Promise<void>;

interface Route {
  methods: readonly string[];
  pattern: RegExp;
  keys: string[];
  handler: Handler;
}

/** A tiny router: one HTTP server serves Slack, Teams, the status page, its API, health and metrics. */
export class Router {
  private readonly routes: Route[] = [];

  /** `path` may contain `:name` segments, e.g. /incidents/:id. */
  add(methods: string | readonly string[], path: string, handler: Handler): this {
    const keys: string[] = [];
    const src = path.replace(/[.+*?^${}()|[\]\\]/g, '\\$&').replace(/:([a-zA-Z_]+)/g, (_m, k: string) => {
      keys.push(k);
      return '([^/]+)';
    });
    this.routes.push({ methods: typeof methods === 'string' ? [methods] : methods, pattern: new RegExp(`^${src}/?$`), keys, handler });
    return this;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let pathMatched = false;
    for (const r of this.routes) {
      const m = r.pattern.exec(url.pathname);
      if (!m) continue;
      pathMatched = true;
      if (!r.methods.includes(req.method ?? 'GET')) continue;
      // Every route with a body refuses an oversized one before any handler (or signature check)
      // runs; the connection is closed so the rest of the upload is never read.
      if (req.method !== 'GET' && req.method !== 'HEAD' && declaresTooLarge(req)) {
        refuseTooLarge(res, req);
        return;
      }
      const params: Record<string, string> = {};
      try {
        r.keys.forEach((k, i) => {
          params[k] = decodeURIComponent(m[i + 1]!);
        });
      } catch {
        // A malformed escape (`/incidents/%E0`) names nothing we have.
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
        return;
      }
      await r.handler(req, res, params);
      return;
    }
    if (pathMatched) {
      res.writeHead(405, { 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
  }
}

/** The largest request body any POST route accepts (CONTRACT.md: 1 MiB, refused with 413). */
export const MAX_BODY_BYTES = 1024 * 1024;

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body is larger than ${limit} bytes`);
  }
}

/** True when the request says up front that its body is over `limit` (Content-Length). */
export function declaresTooLarge(req: IncomingMessage, limit = MAX_BODY_BYTES): boolean {
  const len = Number(req.headers['content-length'] ?? NaN);
  return Number.isFinite(len) && len > limit;
}

/**
 * Reads a request body, refusing it with BodyTooLargeError as soon as it passes `limit`: a declared
 * Content-Length over the limit is refused before a byte is read, and a chunked body is cut off
 * at the first chunk past it, so a 200 MB upload costs at most `limit` bytes of memory.
 */
/** What a refused upload may still send (discarded, never kept) while its client reads the 413. */
const DRAIN_BYTES = MAX_BODY_BYTES;
/** How long a refused connection stays open for its client to read the 413. */
const LINGER_MS = 1_000;

/**
 * Answers 413 and closes the connection, so an oversized upload is not read any further.
 *
 * Closing a socket with the client's next chunks unread makes the kernel send a reset, and a reset
 * that reaches the client before it has read the answer throws the answer away: the client sees
 * only "connection reset". So the answer is followed by a half-close (FIN: the response is
 * complete), at most DRAIN_BYTES more are read and discarded, then reading stops (TCP flow control
 * stalls the uploader at no cost to us), and the socket is destroyed after LINGER_MS. Nothing of
 * the body is kept, and the cost per refused request stays bounded.
 */
export function refuseTooLarge(res: ServerResponse, req: IncomingMessage = res.req): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const socket = res.socket;
  if (socket) {
    // node:http ends a `connection: close` response with destroySoon(), which resets a socket
    // with unread input; a half-close instead lets the client read the answer first.
    socket.destroySoon = () => void socket.end();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    let drained = 0;
    req.on('data', (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > DRAIN_BYTES) req.pause();
    });
    req.resume();
  }
  res.writeHead(413, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end(`request body over ${MAX_BODY_BYTES} bytes\n`);
}

export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  if (declaresTooLarge(req, limit)) return Promise.reject(new BodyTooLargeError(limit));
  // Listeners rather than `for await`: leaving an async iterator early destroys the request, and
  // with it the socket, before the 413 can be written.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.off('end', onEnd);
        chunks.length = 0;
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', reject);
  });
}
