import { createHash } from 'node:crypto';
import type { OutgoingHttpHeaders } from 'node:http';
import type { Db } from '../../db/client.js';
import type { PublicMaintenance } from './maintenance-json.js';
import {
  loadArchivedIncident,
  loadArchivedMaintenance,
  loadPublicState,
  publicFingerprint,
  type LoadOptions,
  type PublicIncident,
  type PublicState,
} from './model.js';

// The refresh storm: during an outage customers reload the page and poll the API hard. Every
// response is served from bytes rendered once per state change (with a precomputed ETag and
// header set), so a request costs a map lookup and a socket write, never a database query.

export interface Artifact {
  status: number;
  body: Buffer;
  etag: string;
  headers: OutgoingHttpHeaders;
  /** Headers of the 304 answer to a matching If-None-Match. */
  notModified: OutgoingHttpHeaders;
}

export interface ArtifactSpec {
  status?: number;
  contentType: string;
  body: string;
  extraHeaders?: OutgoingHttpHeaders;
}

export function makeArtifact(spec: ArtifactSpec): Artifact {
  const body = Buffer.from(spec.body, 'utf8');
  const etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
  const common: OutgoingHttpHeaders = { etag, ...spec.extraHeaders };
  return {
    status: spec.status ?? 200,
    body,
    etag,
    headers: { 'content-type': spec.contentType, 'content-length': body.length, ...common },
    notModified: common,
  };
}

const MAX_ARTIFACTS = 500;

export class StatusPageSnapshot {
  private state: PublicState | null = null;
  private artifacts = new Map<string, Artifact>();
  private dirty = true;
  /** How many times the public state was loaded from the database (exported as a metric). */
  rebuilds = 0;
  /** How many change notifications were checked against the public fingerprint. */
  checks = 0;
  /** Time spent loading and the longest single load, in ms (the cost a change puts on the event loop). */
  rebuildMsTotal = 0;
  rebuildMsMax = 0;

  constructor(
    private readonly db: Db,
    private readonly opts: Omit<LoadOptions, 'now'>,
    private readonly now: () => number,
  ) {}

  /** The clock the snapshot runs on (a chart of an open incident ends at it). */
  time(): number {
    return this.now();
  }

  /** Called on every write (in this process or another): the next reader rebuilds once. */
  invalidate(): void {
    this.dirty = true;
  }

  current(): PublicState {
    const state = this.state;
    if (state && this.now() < state.validUntil) {
      if (!this.dirty) return state;
      // Once per change, not per request: did the change touch anything public?
      this.dirty = false;
      this.checks++;
      const fingerprint = publicFingerprint(this.db);
      if (fingerprint === state.fingerprint) return state;
      return this.rebuild(fingerprint);
    }
    return this.rebuild();
  }

  private rebuild(fingerprint?: string): PublicState {
    this.dirty = false;
    const t0 = performance.now();
    // The previous state lends what did not change (src/statuspage/model.ts, Reuse).
    const state = loadPublicState(this.db, { ...this.opts, now: this.now() }, this.state ?? undefined, fingerprint);
    this.state = state;
    this.artifacts = new Map();
    this.rebuilds++;
    const ms = performance.now() - t0;
    this.rebuildMsTotal += ms;
    if (ms > this.rebuildMsMax) this.rebuildMsMax = ms;
    return state;
  }

  /** The rendered bytes for `key`, rendered at most once per state. */
  artifact(key: string, render: (s: PublicState) => ArtifactSpec): Artifact {
    const state = this.current();
    let a = this.artifacts.get(key);
    if (!a) {
      a = makeArtifact(render(state));
      // Old incident reports are cached too; a crawler walking every id must not grow this unbounded.
      if (this.artifacts.size >= MAX_ARTIFACTS) this.artifacts.clear();
      this.artifacts.set(key, a);
    }
    return a;
  }

  /** A public incident: from the snapshot, or (older ones) loaded once for the caller to cache. */
  incident(id: number): PublicIncident | null {
    const state = this.current();
    return state.incidents.find((i) => i.id === id) ?? loadArchivedIncident(this.db, state, id);
  }

  isPublic(id: number): boolean {
    const state = this.current();
    return state.archivedIncidentIds.has(id) || state.incidents.some((i) => i.id === id);
  }

  /** A public maintenance: from the snapshot, or (older ones) loaded once for the caller to cache. */
  maintenance(id: number): PublicMaintenance | null {
    const state = this.current();
    return state.maintenances.find((m) => m.id === id) ?? loadArchivedMaintenance(this.db, state, id);
  }

  isPublicMaintenance(id: number): boolean {
    const state = this.current();
    return state.archivedMaintenanceIds.has(id) || state.maintenances.some((m) => m.id === id);
  }
}
