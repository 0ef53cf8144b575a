import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { RollingLimit } from '../../bench/ratelimit-window.js';

// A fake Atlassian Statuspage Manage API (v1) on 127.0.0.1. It records every request and checks
// it against the official OpenAPI spec (test/fixtures/statuspage/v1/statuspage-v1-openapi.json): the path
// and method exist, the query parameters are declared, the Authorization header is
// `OAuth <key>`, and the JSON body matches the request schema with no unknown fields. Anything
// wrong lands in `violations` (tests assert it stays empty) and is answered like Statuspage
// would (400/401/404). It can be scripted to answer 429/420/5xx or never answer. With `rateLimit`
// it also keeps Statuspage's own limit, 1 request per second per API key: a request arriving
// sooner after the key's last accepted one is answered 429 with Retry-After, and counted.
//
// Scheduled incidents (scheduled maintenance) are checked against what the spec says of them
// beyond the schema: the status field's own description names the statuses of a realtime incident
// and of a scheduled one, so an incident is created as one or the other by its status, and keeps
// to that kind's statuses afterwards; a scheduled one is created with its window (scheduled_for and
// scheduled_until, the end after the start), and a realtime one carries no scheduled_* fields.

const SPEC_FILE = new URL('../fixtures/statuspage/v1/statuspage-v1-openapi.json', import.meta.url).pathname;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface Schema {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  enum?: unknown[];
  items?: Schema;
  format?: string;
  minimum?: number;
  maximum?: number;
}
interface Operation {
  parameters?: Array<{ in: string; name: string; required?: boolean; schema?: Schema }>;
  requestBody?: { content: { 'application/json': { schema: Schema } }; required?: boolean };
}
interface Spec {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

let specCache: Spec | null = null;
function spec(): Spec {
  specCache ??= JSON.parse(readFileSync(SPEC_FILE, 'utf8')) as Spec;
  return specCache;
}

function resolve(s: Schema): Schema {
  let cur = s;
  while (cur.$ref) {
    const name = cur.$ref.replace('#/components/schemas/', '');
    const next = spec().components.schemas[name];
    if (!next) throw new Error(`unknown $ref ${cur.$ref}`);
    cur = next;
  }
  return cur;
}

/** Validates `value` against an OpenAPI schema, strictly: unknown object keys are errors. */
export function validate(value: unknown, schema: Schema, path: string, out: string[]): void {
  const s = resolve(schema);
  if (s.type === 'object' || (s.type === undefined && s.properties)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      out.push(`${path}: expected an object`);
      return;
    }
    const props = s.properties;
    if (!props) return; // free-form object (e.g. metadata)
    const keys = Object.keys(props);
    // The spec writes id-keyed maps (components: {<component id>: status}) as one example key.
    const single = keys.length === 1 ? keys[0]! : undefined;
    const isMap = single !== undefined && /^[a-z0-9]{12}$/.test(single);
    for (const [k, v] of Object.entries(value)) {
      const sub = isMap ? props[single!]! : props[k];
      if (!sub) out.push(`${path}.${k}: not a field of this request`);
      else validate(v, sub, `${path}.${k}`, out);
    }
    for (const r of s.required ?? []) if (!(r in value)) out.push(`${path}.${r}: required`);
    return;
  }
  if (s.type === 'array') {
    if (!Array.isArray(value)) {
      out.push(`${path}: expected an array`);
      return;
    }
    value.forEach((v, i) => {
      if (s.items) validate(v, s.items, `${path}[${i}]`, out);
    });
    return;
  }
  if (s.type === 'string') {
    if (typeof value !== 'string') out.push(`${path}: expected a string`);
    else if (s.enum && !s.enum.includes(value)) out.push(`${path}: "${value}" is not one of ${s.enum.join(', ')}`);
    else if (s.format === 'date-time' && Number.isNaN(Date.parse(value))) out.push(`${path}: not a date-time`);
    return;
  }
  if (s.type === 'boolean' && typeof value !== 'boolean') out.push(`${path}: expected a boolean`);
  if (s.type === 'integer' && !Number.isInteger(value)) out.push(`${path}: expected an integer`);
  if (s.type === 'number' && typeof value !== 'number') out.push(`${path}: expected a number`);
}

/**
 * The statuses of each kind of incident, as the spec's description of the incident `status` field
 * gives them: "For realtime incidents, valid values are investigating, identified, monitoring, and
 * resolved. For scheduled incidents, valid values are scheduled, in_progress, verifying, and completed."
 */
export function incidentStatusKinds(): { realtime: string[]; scheduled: string[] } {
  const incident = resolve(spec().components.schemas.postPagesPageIdIncidents!).properties!.incident!;
  const description = (resolve(incident).properties!.status as Schema & { description?: string }).description ?? '';
  const list = (kind: string) => {
    const m = new RegExp(`For ${kind} incidents, valid values are ([^.]+)\\.`).exec(description);
    if (!m) throw new Error(`the spec no longer says which statuses a ${kind} incident has`);
    return m[1]!.split(/,\s*(?:and\s+)?|\s+and\s+/).map((v) => v.trim());
  };
  return { realtime: list('realtime'), scheduled: list('scheduled') };
}

const SCHEDULED_FIELDS = [
  'scheduled_for',
  'scheduled_until',
  'scheduled_remind_prior',
  'scheduled_auto_in_progress',
  'scheduled_auto_completed',
  'scheduled_auto_transition',
  'auto_transition_to_maintenance_state',
  'auto_transition_to_operational_state',
  'auto_transition_deliver_notifications_at_start',
  'auto_transition_deliver_notifications_at_end',
];

/** What the spec says of scheduled incidents beyond the schema (see the header); problems, if any. */
export function scheduledIncidentProblems(
  b: Record<string, unknown>,
  existing: Pick<FakeIncident, 'scheduled' | 'scheduled_for' | 'scheduled_until'> | null,
): string[] {
  const kinds = incidentStatusKinds();
  const out: string[] = [];
  const status = typeof b.status === 'string' ? b.status : undefined;
  const scheduled = existing ? existing.scheduled : status !== undefined && kinds.scheduled.includes(status);
  const allowed = scheduled ? kinds.scheduled : kinds.realtime;
  if (status !== undefined && !allowed.includes(status)) {
    out.push(`body.incident.status: "${status}" is not a status of a ${scheduled ? 'scheduled' : 'realtime'} incident (${allowed.join(', ')})`);
  }
  if (!scheduled) {
    for (const f of SCHEDULED_FIELDS) if (f in b) out.push(`body.incident.${f}: only for a scheduled incident`);
    return out;
  }
  const from = typeof b.scheduled_for === 'string' ? b.scheduled_for : (existing?.scheduled_for ?? undefined);
  const until = typeof b.scheduled_until === 'string' ? b.scheduled_until : (existing?.scheduled_until ?? undefined);
  if (!existing && from === undefined) out.push('body.incident.scheduled_for: required for a scheduled incident');
  if (!existing && until === undefined) out.push('body.incident.scheduled_until: required for a scheduled incident');
  if (from !== undefined && until !== undefined && !(Date.parse(until) > Date.parse(from))) {
    out.push('body.incident.scheduled_until: must be after scheduled_for');
  }
  return out;
}

interface Route {
  template: string;
  pattern: RegExp;
  names: string[];
}
function routes(): Route[] {
  return Object.keys(spec().paths).map((template) => {
    const names: string[] = [];
    const src = template.replace(/[.]/g, '\\.').replace(/\{([a-z_]+)\}/g, (_m, n: string) => {
      names.push(n);
      return '([^/]+)';
    });
    return { template, pattern: new RegExp(`^${src}$`), names };
  });
}

export interface RecordedRequest {
  method: string;
  /** Path below the API base, e.g. /pages/abc/incidents. */
  path: string;
  query: Record<string, string>;
  headers: IncomingMessage['headers'];
  body: any;
  /** The spec's path template it matched. */
  template: string | null;
}

export type ScriptStep =
  | { status: 429 | 420 | 500 | 502 | 503; retryAfter?: string; method?: string }
  /** Never answer; with `apply`, do the work first (a create whose outcome the client never learns). */
  | { hang: true; apply?: boolean; method?: string };

export interface FakeIncident {
  id: string;
  name: string;
  status: string;
  /** Scheduled (maintenance) or realtime, by the status it was created with. */
  scheduled: boolean;
  impact: string;
  scheduled_for: string | null;
  scheduled_until: string | null;
  scheduled_auto_in_progress: boolean;
  scheduled_auto_completed: boolean;
  metadata: Record<string, unknown>;
  components: Record<string, string>;
  component_ids: string[];
  incident_updates: Array<{ status: string; body: string }>;
  postmortem_body: string | null;
  postmortem_published: boolean;
  created_at: string;
}

export interface FakeStatuspage {
  /** The API base to put in STATUSPAGE_API_URL. */
  url: string;
  apiKey: string;
  pageId: string;
  requests: RecordedRequest[];
  violations: string[];
  incidents: FakeIncident[];
  components: Array<{ id: string; name: string; status: string; group?: boolean }>;
  /** Answers the next matching requests with these steps, in order. */
  script(...steps: ScriptStep[]): void;
  /** Requests the rate limit refused with 429 (0 without `rateLimit`). */
  rateLimited(): number;
  /** When each request arrived (performance.now()), in order: how far apart Sitrep sent them. */
  arrivals: number[];
  close(): Promise<void>;
}

const id12 = () =>
  randomBytes(9)
    .toString('base64url')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, 'x')
    .slice(0, 12);

export interface FakeStatuspageOptions {
  apiKey?: string;
  pageId?: string;
  components?: string[];
  /** Enforce the per-key limit (Statuspage's is 1 request per second); off by default. */
  rateLimit?: { perSecond: number };
}

export async function startFakeStatuspage(opts: FakeStatuspageOptions = {}): Promise<FakeStatuspage> {
  const limit = opts.rateLimit ? new RollingLimit({ limit: opts.rateLimit.perSecond, windowMs: 1_000 }) : null;
  const apiKey = opts.apiKey ?? 'test-key-0123456789';
  const pageId = opts.pageId ?? 'pg0testpage1';
  const table = routes();
  const sockets = new Set<Socket>();
  const steps: ScriptStep[] = [];
  const fake: FakeStatuspage = {
    url: '',
    apiKey,
    pageId,
    requests: [],
    violations: [],
    incidents: [],
    components: (opts.components ?? []).map((name) => ({ id: id12(), name, status: 'operational' })),
    script: (...s) => steps.push(...s),
    rateLimited: () => limit?.refusedTotal ?? 0,
    arrivals: [],
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  const incidentJson = (i: FakeIncident) => ({
    id: i.id,
    name: i.name,
    status: i.status,
    impact: i.impact,
    scheduled_for: i.scheduled_for,
    scheduled_until: i.scheduled_until,
    scheduled_auto_in_progress: i.scheduled_auto_in_progress,
    scheduled_auto_completed: i.scheduled_auto_completed,
    page_id: pageId,
    metadata: i.metadata,
    created_at: i.created_at,
    components: Object.entries(i.components).map(([id, status]) => ({ id, status })),
    incident_updates: [...i.incident_updates].reverse(),
    postmortem_body: i.postmortem_body,
  });

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

  function apply(req: RecordedRequest, res: ServerResponse | null): void {
    const reply = (status: number, body: unknown) => res && send(res, status, body);
    const m = /^\/pages\/[^/]+\/(components|incidents)(?:\/([^/]+))?(?:\/(postmortem)(?:\/(publish))?)?$/.exec(req.path);
    if (!m) return void reply(404, { error: 'not found' });
    const [, kind, incidentId, pm, publish] = m;
    if (kind === 'components' && req.method === 'GET') return void reply(200, fake.components);
    if (kind !== 'incidents') return void reply(404, { error: 'not found' });
    if (!incidentId && req.method === 'GET') return void reply(200, [...fake.incidents].reverse().map(incidentJson));
    if (!incidentId && req.method === 'POST') {
      const b = req.body.incident;
      const scheduled = incidentStatusKinds().scheduled.includes(b.status);
      const inc: FakeIncident = {
        id: id12(),
        name: b.name,
        status: b.status ?? 'investigating',
        scheduled,
        impact: scheduled ? 'maintenance' : 'none',
        scheduled_for: b.scheduled_for ?? null,
        scheduled_until: b.scheduled_until ?? null,
        scheduled_auto_in_progress: b.scheduled_auto_in_progress ?? false,
        scheduled_auto_completed: b.scheduled_auto_completed ?? false,
        metadata: b.metadata ?? {},
        components: { ...(b.components ?? {}) },
        component_ids: b.component_ids ?? [],
        incident_updates: [{ status: b.status ?? 'investigating', body: b.body ?? '' }],
        postmortem_body: null,
        postmortem_published: false,
        created_at: new Date().toISOString(),
      };
      fake.incidents.push(inc);
      return void reply(201, incidentJson(inc));
    }
    const inc = fake.incidents.find((i) => i.id === incidentId);
    if (!inc) return void reply(404, { error: 'The requested resource could not be found.' });
    if (!pm && req.method === 'PATCH') {
      const b = req.body.incident;
      if (b.status) inc.status = b.status;
      for (const f of ['scheduled_for', 'scheduled_until', 'scheduled_auto_in_progress', 'scheduled_auto_completed'] as const) {
        if (f in b) (inc as unknown as Record<string, unknown>)[f] = b[f];
      }
      Object.assign(inc.components, b.components ?? {});
      if (b.component_ids) inc.component_ids = b.component_ids;
      inc.incident_updates.push({ status: inc.status, body: b.body ?? '' });
      return void reply(200, incidentJson(inc));
    }
    if (pm && !publish && req.method === 'PUT') {
      inc.postmortem_body = req.body.postmortem.body_draft;
      return void reply(200, { body_draft: inc.postmortem_body });
    }
    if (pm && publish && req.method === 'PUT') {
      inc.postmortem_published = true;
      return void reply(200, { body: inc.postmortem_body });
    }
    if (req.method === 'GET') return void reply(200, incidentJson(inc));
    reply(404, { error: 'not found' });
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const path = url.pathname.replace(/^\/v1/, '');
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: any = null;
      const problems: string[] = [];
      if (raw) {
        try {
          body = JSON.parse(raw);
        } catch {
          problems.push('body is not JSON');
        }
        if (!/^application\/json/.test(req.headers['content-type'] ?? '')) problems.push('content-type is not application/json');
      }
      const route = table.find((r) => r.pattern.test(path)) ?? null;
      const rec: RecordedRequest = {
        method: req.method ?? 'GET',
        path,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body,
        template: route?.template ?? null,
      };
      fake.requests.push(rec);
      const where = `${rec.method} ${path}`;
      const op = route ? spec().paths[route.template]?.[rec.method.toLowerCase()] : undefined;
      if (!route || !op) {
        fake.violations.push(`${where}: no such operation in the spec`);
        return send(res, 404, { error: 'not found' });
      }
      if (req.headers.authorization !== `OAuth ${apiKey}`) {
        fake.violations.push(`${where}: Authorization is not "OAuth <key>"`);
        return send(res, 401, { error: 'Could not authenticate' });
      }
      fake.arrivals.push(performance.now());
      const room = limit?.admit(apiKey);
      if (room && !room.ok) {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': String(room.retryAfterSeconds) });
        return void res.end(JSON.stringify({ error: 'Rate limit exceeded' }));
      }
      const m = route.pattern.exec(path)!;
      if (route.names[0] === 'page_id' && decodeURIComponent(m[1]!) !== pageId) {
        fake.violations.push(`${where}: unknown page id`);
        return send(res, 404, { error: 'not found' });
      }
      const declared = new Map((op.parameters ?? []).filter((p) => p.in === 'query').map((p) => [p.name, p.schema ?? {}]));
      for (const [k, v] of url.searchParams) {
        const s = declared.get(k);
        if (!s) problems.push(`query ${k}: not a parameter of this operation`);
        else if (s.type === 'integer' && !/^\d+$/.test(v)) problems.push(`query ${k}: not an integer`);
      }
      const schema = op.requestBody?.content['application/json'].schema;
      if (schema) {
        if (body === null) problems.push('request body required');
        else validate(body, schema, 'body', problems);
      } else if (raw) problems.push('this operation takes no body');
      // Statuspage: "All top-level values in the object [metadata] must also be objects."
      const meta = body?.incident?.metadata;
      if (
        meta !== undefined &&
        (typeof meta !== 'object' || meta === null || Object.values(meta).some((v) => typeof v !== 'object' || v === null || Array.isArray(v)))
      ) {
        problems.push('body.incident.metadata: top-level values must be objects');
      }
      const incidentBody = body?.incident;
      if (!problems.length && typeof incidentBody === 'object' && incidentBody !== null && (rec.method === 'POST' || rec.method === 'PATCH')) {
        const target = /^\/pages\/[^/]+\/incidents(?:\/([^/]+))?$/.exec(path);
        if (target && (rec.method === 'POST') === (target[1] === undefined)) {
          const existing = target[1] ? (fake.incidents.find((i) => i.id === target[1]) ?? null) : null;
          if (!target[1] || existing) problems.push(...scheduledIncidentProblems(incidentBody, existing));
        }
      }
      if (problems.length) {
        fake.violations.push(...problems.map((p) => `${where}: ${p}`));
        return send(res, 400, { error: problems.join('; ') });
      }
      const stepIdx = steps.findIndex((s) => !s.method || s.method === rec.method);
      const step = stepIdx >= 0 ? steps.splice(stepIdx, 1)[0] : undefined;
      if (step && 'hang' in step) {
        if (step.apply) apply(rec, null);
        return; // never answers; close() destroys the socket
      }
      if (step) {
        res.writeHead(step.status, { 'content-type': 'application/json', ...(step.retryAfter ? { 'retry-after': step.retryAfter } : {}) });
        return void res.end(JSON.stringify({ error: step.status === 420 || step.status === 429 ? 'Rate limit exceeded' : 'Internal error' }));
      }
      apply(rec, res);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  fake.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/v1`;
  return fake;
}

export type { Json };
