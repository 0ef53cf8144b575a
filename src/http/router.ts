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

export async function readBody(req: IncomingMessage, limit = 1_000_000): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
