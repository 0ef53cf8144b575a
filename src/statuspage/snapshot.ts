import { createHash } from 'node:crypto';
import type { OutgoingHttpHeaders } from 'node:http';
import type { Db } from '../../db/client.js';
import type { PublicMaintenance } from './maintenance-json.js';
import type { Store } from '../../db/store.js';
import {
  loadArchivedIncident,
  loadArchivedIncidentAsync,
  loadArchivedMaintenance,
  loadArchivedMaintenanceAsync,
  loadPublicState,
  loadPublicStateAsync,
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

/** What a request needs loaded besides the state: an archived incident's or maintenance's report. */
export interface Need {
  incident?: number;
  maintenance?: number;
}

/**
 * Where the snapshot loads from. SQLite: a synchronous connection, so a stale state is rebuilt
 * inside the request that finds it stale (ready() is always undefined). PostgreSQL: the store,
 * asynchronously; a request that finds the state stale waits for the one rebuild in progress.
 */
export type SnapshotSource = { readonly sync: Db } | { readonly store: Pick<Store, 'read'> };

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

  private readonly db: Db;
  private readonly store: Pick<Store, 'read'> | null;
  /** Whether a request may have to wait for ready() (PostgreSQL) or never (SQLite). */
  readonly waits: boolean;
  /** PostgreSQL: the rebuild (or change check) every waiting request shares. */
  private pending: Promise<void> | null = null;
  /** PostgreSQL: whether `pending` is a refresh that has not begun yet (it will see every change made so far). */
  private queued = false;
  /** PostgreSQL: archived reports loaded for the current state (null: none public), and loads in progress. */
  private archived = new Map<string, PublicIncident | PublicMaintenance | null>();
  private archiving = new Map<string, Promise<void>>();

  constructor(
    source: Db | SnapshotSource,
    private readonly opts: Omit<LoadOptions, 'now'>,
    private readonly now: () => number,
  ) {
    if ('store' in source) {
      this.store = source.store;
      this.db = null as unknown as Db; // never read: every load goes through the store
    } else {
      this.store = null;
      this.db = 'sync' in source ? source.sync : source;
    }
    this.waits = this.store !== null;
  }

  /**
   * Undefined when a request can be answered now from memory (always, on SQLite: current()
   * rebuilds synchronously); otherwise a promise that settles once it can. On PostgreSQL, after a
   * change or at midnight, every request arriving meanwhile waits for the same one check and
   * rebuild, never for a query of its own. It rejects when the database could not be read;
   * hasState() then says whether an older state can still be served.
   */
  ready(need?: Need): Promise<void> | undefined {
    if (!this.store) return undefined;
    const state = this.state;
    const stale = !state || this.dirty || this.now() >= state.validUntil;
    // A change seen since the refresh under way began (or none under way): one more refresh, queued
    // behind it; later requests wait for that one too. A refresh under way that began after the
    // last change serves what this request must see: it waits for that one.
    if (stale && !this.queued) {
      const before = this.pending ?? Promise.resolve();
      this.queued = true;
      const p: Promise<void> = before
        .catch(() => undefined)
        .then(() => {
          this.queued = false;
          return this.refresh();
        })
        .finally(() => {
          if (this.pending === p) this.pending = null;
        });
      this.pending = p;
    }
    const wait = this.pending;
    if (wait !== null) return need ? wait.then(() => this.loadArchived(need)) : wait;
    return need ? this.loadArchived(need) : undefined;
  }

  /** Whether a state was ever loaded (PostgreSQL: what a request can be served from while the database is unreachable). */
  hasState(): boolean {
    return this.state !== null;
  }

  private async refresh(): Promise<void> {
    const store = this.store;
    if (!store) return;
    const state = this.state;
    this.dirty = false;
    try {
      if (state && this.now() < state.validUntil) {
        this.checks++;
        const fingerprint = await store.read((db) => publicFingerprint(db));
        if (fingerprint === state.fingerprint) return;
        await this.rebuildAsync(store, fingerprint);
      } else await this.rebuildAsync(store);
    } catch (err) {
      this.dirty = true; // the next request tries again
      throw err;
    }
  }

  private async rebuildAsync(store: Pick<Store, 'read'>, fingerprint?: string): Promise<void> {
    const t0 = performance.now();
    const previous = this.state ?? undefined;
    const state = await store.read((db) => loadPublicStateAsync(db, { ...this.opts, now: this.now() }, previous, fingerprint));
    this.install(state, performance.now() - t0);
  }

  private install(state: PublicState, ms: number): void {
    this.state = state;
    this.artifacts = new Map();
    this.archived = new Map();
    this.archiving = new Map();
    this.rebuilds++;
    this.rebuildMsTotal += ms;
    if (ms > this.rebuildMsMax) this.rebuildMsMax = ms;
  }

  private loadArchived(need: Need): Promise<void> | undefined {
    const store = this.store;
    const state = this.state;
    if (!store || !state) return undefined;
    let key: string;
    let load: (db: Db) => Promise<PublicIncident | PublicMaintenance | null>;
    if (need.incident !== undefined && state.archivedIncidentIds.has(need.incident)) {
      const id = need.incident;
      key = `incident:${id}`;
      load = (db) => loadArchivedIncidentAsync(db, state, id);
    } else if (need.maintenance !== undefined && state.archivedMaintenanceIds.has(need.maintenance)) {
      const id = need.maintenance;
      key = `maintenance:${id}`;
      load = (db) => loadArchivedMaintenanceAsync(db, state, id);
    } else return undefined;
    if (this.archived.has(key)) return undefined;
    let p = this.archiving.get(key);
    if (!p) {
      const archived = this.archived;
      const archiving = this.archiving;
      p = store
        .read(load)
        .then((found) => void archived.set(key, found))
        .finally(() => archiving.delete(key));
      archiving.set(key, p);
    }
    return p;
  }

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
    if (this.store) {
      // PostgreSQL: the request waited for ready() first.
      if (!state) throw new Error('the status page was read before its first load (ready() was not awaited)');
      return state;
    }
    if (state && this.now() < state.validUntil) {
      if (!this.dirty) return state;
      // Once per change, not per request: did the change touch anything public?
      this.dirty = false;
      this.checks++;
      const fingerprint = publicFingerprint(this.db) as string; // SQLite: synchronous
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
    this.install(state, performance.now() - t0);
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
    const hot = state.incidents.find((i) => i.id === id);
    if (hot) return hot;
    if (this.store) return (this.archived.get(`incident:${id}`) as PublicIncident | undefined) ?? null;
    return loadArchivedIncident(this.db, state, id);
  }

  isPublic(id: number): boolean {
    const state = this.current();
    return state.archivedIncidentIds.has(id) || state.incidents.some((i) => i.id === id);
  }

  /** A public maintenance: from the snapshot, or (older ones) loaded once for the caller to cache. */
  maintenance(id: number): PublicMaintenance | null {
    const state = this.current();
    const hot = state.maintenances.find((m) => m.id === id);
    if (hot) return hot;
    if (this.store) return (this.archived.get(`maintenance:${id}`) as PublicMaintenance | undefined) ?? null;
    return loadArchivedMaintenance(this.db, state, id);
  }

  isPublicMaintenance(id: number): boolean {
    const state = this.current();
    return state.archivedMaintenanceIds.has(id) || state.maintenances.some((m) => m.id === id);
  }
}
