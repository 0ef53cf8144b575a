import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Router } from '../http/router.js';
import { API_PATHS, renderApi, type ApiPath } from './api-v2.js';
import { renderAtom } from './atom.js';
import { buildFeed } from './feed.js';
import { CHART_CONTENT_SECURITY_POLICY, renderChart } from './chart.js';
import { CONTENT_SECURITY_POLICY, renderHome, renderIncident, renderMaintenance, renderNotFound } from './html.js';
import { renderRss } from './rss.js';
import type { Artifact, Need, StatusPageSnapshot } from './snapshot.js';

// Short freshness plus ETag: browsers and CDNs may reuse a copy for a few seconds and then
// revalidate cheaply (304). Longer would hide a fresh update from customers during an outage.
const CACHE_CONTROL = 'public, max-age=5, must-revalidate';

// The incident chart is served like the page it belongs to (same freshness and ETag rules), with
// a CSP of its own that allows its one stylesheet and nothing else.
const SVG_HEADERS: OutgoingHttpHeaders = {
  'cache-control': CACHE_CONTROL,
  'content-security-policy': CHART_CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const HTML_HEADERS: OutgoingHttpHeaders = {
  'cache-control': CACHE_CONTROL,
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

// Public data, readable from any site's JavaScript (status widgets): CORS for GET and HEAD.
const API_HEADERS: OutgoingHttpHeaders = {
  'cache-control': CACHE_CONTROL,
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'ETag',
  'x-content-type-options': 'nosniff',
};

/** If-None-Match: a comma-separated list of (possibly weak) tags, or `*`. */
function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header === etag) return true;
  for (const raw of header.split(',')) {
    const t = raw.trim();
    if (t === '*' || t === etag || t === `W/${etag}`) return true;
  }
  return false;
}

export function send(req: IncomingMessage, res: ServerResponse, a: Artifact): void {
  if (a.status === 200 && matches(req.headers['if-none-match'], a.etag)) {
    res.writeHead(304, a.notModified).end();
    return;
  }
  // For HEAD, node sends the headers (with content-length) and drops the body.
  res.writeHead(a.status, a.headers).end(a.body);
}

/**
 * Runs `answer` once the snapshot can answer from memory: at once on SQLite (ready() is undefined,
 * so no promise and no tick on the hot path), after the one shared rebuild on PostgreSQL. When the
 * database cannot be read, an older state is served if there is one, else 503.
 */
function whenReady(snap: StatusPageSnapshot, res: ServerResponse, answer: () => void, need?: Need): void | Promise<void> {
  const wait = snap.ready(need);
  if (!wait) return answer();
  return wait.then(answer, () => {
    if (snap.hasState()) answer();
    else res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '5' }).end('The status page cannot reach its database right now.\n');
  });
}

const incidentNumber = (raw: string | undefined): number => {
  const m = /^INC-(\d{1,12})$/i.exec(raw ?? '');
  return m ? Number(m[1]) : NaN;
};

const maintenanceNumber = (raw: string | undefined): number => {
  const m = /^M-(\d{1,9})$/i.exec(raw ?? '');
  return m ? Number(m[1]) : NaN;
};

export function addStatusPageRoutes(router: Router, snap: StatusPageSnapshot): void {
  const GET = ['GET', 'HEAD'] as const;
  // Each route's answer, run once the snapshot is ready (whenReady).
  const route = (
    path: string,
    need: ((params: Record<string, string>) => Need) | null,
    answer: (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => void,
  ) =>
    router.add(
      GET,
      path,
      // SQLite: the answer itself is the handler (nothing to wait for, no wrapper on the hot path).
      snap.waits ? (req, res, params) => whenReady(snap, res, () => answer(req, res, params), need ? need(params) : undefined) : answer,
    );

  route('/', null, (req, res) => {
    send(
      req,
      res,
      snap.artifact('home', (s) => ({ contentType: 'text/html; charset=utf-8', body: renderHome(s), extraHeaders: HTML_HEADERS })),
    );
  });

  const notFoundIncident = (s: Parameters<typeof renderNotFound>[0]) => ({
    status: 404,
    contentType: 'text/html; charset=utf-8',
    body: renderNotFound(s, 'There is no public incident report at this address.'),
    extraHeaders: HTML_HEADERS,
  });

  route(
    '/incidents/:id/chart.svg',
    (p) => ({ incident: incidentNumber(p.id) }),
    (req, res, params) => {
      const n = incidentNumber(params.id);
      // Public like the page: 404 until the first published update, and for unknown ids.
      if (!snap.isPublic(n)) {
        send(req, res, snap.artifact('incident:404', notFoundIncident));
        return;
      }
      const inc = snap.incident(n);
      // A resolved incident's picture is fixed; an open one's runs to now, so it is re-rendered each minute.
      const now = snap.time();
      const minute = inc && inc.resolvedAt === null ? `:${Math.floor(now / 60_000)}` : '';
      send(
        req,
        res,
        snap.artifact(`chart:${n}${minute}`, (s) =>
          inc ? { contentType: 'image/svg+xml; charset=utf-8', body: renderChart(s, inc, now), extraHeaders: SVG_HEADERS } : notFoundIncident(s),
        ),
      );
    },
  );

  route(
    '/incidents/:id',
    (p) => ({ incident: incidentNumber(p.id) }),
    (req, res, params) => {
      const n = incidentNumber(params.id);
      // Only incidents with a published update are public: others are 404, like unknown ids.
      const key = snap.isPublic(n) ? `incident:${n}` : 'incident:404';
      send(
        req,
        res,
        snap.artifact(key, (s) => {
          const inc = key === 'incident:404' ? null : snap.incident(n);
          return inc ? { contentType: 'text/html; charset=utf-8', body: renderIncident(s, inc), extraHeaders: HTML_HEADERS } : notFoundIncident(s);
        }),
      );
    },
  );

  route(
    '/maintenances/:id',
    (p) => ({ maintenance: maintenanceNumber(p.id) }),
    (req, res, params) => {
      const n = maintenanceNumber(params.id);
      // Only announced maintenances are public: one whose announcement awaits approval is 404, like an unknown id.
      const key = snap.isPublicMaintenance(n) ? `maintenance:${n}` : 'maintenance:404';
      send(
        req,
        res,
        snap.artifact(key, (s) => {
          const found = key === 'maintenance:404' ? null : snap.maintenance(n);
          return found
            ? { contentType: 'text/html; charset=utf-8', body: renderMaintenance(s, found), extraHeaders: HTML_HEADERS }
            : {
                status: 404,
                contentType: 'text/html; charset=utf-8',
                body: renderNotFound(s, 'There is no public maintenance at this address.'),
                extraHeaders: HTML_HEADERS,
              };
        }),
      );
    },
  );

  route('/history.atom', null, (req, res) => {
    send(
      req,
      res,
      snap.artifact('atom', (s) => ({ contentType: 'application/atom+xml; charset=utf-8', body: renderAtom(buildFeed(s)), extraHeaders: API_HEADERS })),
    );
  });

  route('/history.rss', null, (req, res) => {
    send(
      req,
      res,
      snap.artifact('rss', (s) => ({ contentType: 'application/rss+xml; charset=utf-8', body: renderRss(buildFeed(s)), extraHeaders: API_HEADERS })),
    );
  });

  for (const path of API_PATHS) {
    const p: ApiPath = path;
    route(`/api/v2/${p}`, null, (req, res) => {
      send(
        req,
        res,
        snap.artifact(`api:${p}`, (s) => ({ contentType: 'application/json; charset=utf-8', body: renderApi(s, p), extraHeaders: API_HEADERS })),
      );
    });
    router.add('OPTIONS', `/api/v2/${p}`, (_req, res) => {
      res
        .writeHead(204, {
          'access-control-allow-origin': '*',
          'access-control-allow-methods': 'GET, HEAD, OPTIONS',
          'access-control-allow-headers': 'If-None-Match',
          'access-control-max-age': '86400',
        })
        .end();
    });
  }
}
