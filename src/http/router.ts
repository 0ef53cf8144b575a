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
        refuseTooLarge(res);
        return;
      }
      const params: Record<string, string> = {};
      try {
        r.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1]!)));
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
/** Answers 413 and closes the connection, so an oversized upload is not read any further. */
export function refuseTooLarge(res: ServerResponse): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(413, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end(`request body over ${MAX_BODY_BYTES} bytes\n`);
  res.once('finish', () => res.socket?.destroy());
}

export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  if (declaresTooLarge(req, limit)) throw new BodyTooLargeError(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLargeError(limit);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
