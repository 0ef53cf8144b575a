import type { Outlet } from './commands/context.js';
import type { Collector } from './http/metrics.js';
import type { Router } from './http/router.js';
import type { Target } from './mirror/target.js';

// What a part of Sitrep (Slack, Teams, webhooks, Atlassian Statuspage, the built-in status page,
// mirroring) contributes, as a value its factory returns: `createX(deps) → Capability`, where deps
// is the little it needs (the runner, the database, the clock, the log, its own configuration).
// src/main.ts joins them; no part adds itself to another after it is made.

/** Background work: started with the server, stopped (and waited for) on shutdown. */
export interface Service {
  start(): void;
  stop(): Promise<void>;
}

/** Adds a part's HTTP routes to the one server's router. */
export type Route = (router: Router) => void;

export interface Capability {
  /** Turn committed events into outbox rows, in the command's transaction (no network). */
  readonly outlets: readonly Outlet[];
  /** Deliver outbox rows (the outbox worker is built with every capability's). */
  readonly targets: readonly Target[];
  readonly routes: readonly Route[];
  readonly services: readonly Service[];
  /** Metrics for GET /metrics. */
  readonly collectors?: readonly Collector[];
  /** Called whenever the database may have changed (a command here, a write by another process). */
  readonly onChange?: () => void;
}

export const NO_CAPABILITY: Capability = { outlets: [], targets: [], routes: [], services: [] };
