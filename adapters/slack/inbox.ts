import { parse as parseQuery } from 'node:querystring';
import type { App as BoltApp, ReceiverEvent } from '@slack/bolt';
import type { Db } from '../../db/client.js';
import type { Store, WriteTx } from '../../db/store.js';
import {
  deleteInboxRequest,
  deleteInboxRequestAsync,
  inboxIsSynchronous,
  inboxRequests,
  inboxRequestsAsync,
  insertInboxRequest,
  insertInboxRequestAsync,
  type StoredRequest,
} from '../../db/queries/inbox.js';
import type { Logger } from '../../src/logger.js';

// The durable inbox for Slack requests. Slack never resends a slash command or an interaction it
// acknowledged (an HTTP 200, or an envelope ack in Socket Mode), so the raw request is committed
// here (one insert, one commit) before the answer goes out; with WAL a committed row survives a kill -9 of the process. The work the request asks
// for deletes the row in the same transaction as its own writes, so once that commits the request
// is applied and gone, and a row still here is acknowledged work not yet applied: start-up replays
// it. Deleting in the work's transaction is also what makes a replay exactly-once: the delete that
// finds no row means another run (a replay by a second process on the same file) got there first,
// and the work is skipped.
//
// On SQLite the row is written and deleted synchronously (no await between a request's arrival and
// its commit: the ack path). On PostgreSQL the same happens through the store, awaited: the
// request's insert commits in a transaction of its own before the request goes on (so before any
// ack), the claim is a delete in the transaction of the work that applies it, and a replica that
// replays rows another replica left claims each the same way, so a row is applied once whichever
// replica gets there first.

/** One request on its way through Bolt, handed to the listeners as `context.sitrepInbox`. */
export interface InboxEntry {
  /** The inbox row's id; 0 while the request is not stored (see `stored`). */
  id: number;
  /**
   * False for a slash command that arrived while nothing was waiting to be replayed: its row is
   * written only if the listener asks (`persist`), because the listener may instead apply the
   * command before it acknowledges it, which makes the row pointless. A listener that acks such a
   * request with lasting work still to do must persist it first.
   */
  stored: boolean;
  /** Writes the row now (autocommit: durable when this returns); throws when it could not. */
  persist(): void;
  /** True when this is a start-up replay: nobody is waiting for the ack, and trigger_ids are dead. */
  replay: boolean;
  /** Set once the work that applied it has committed (its row is gone). */
  settled: boolean;
  /**
   * Called when the request's work has its place in the work queue. A replay waits for this (or
   * for the listener to finish) before the next row is replayed, so replays keep arrival order.
   */
  queued(): void;
}

export type { StoredRequest };

export class SlackInbox {
  /** SQLite: the synchronous statements on the writer connection. Otherwise through the store. */
  private readonly sync: boolean;

  constructor(
    private readonly db: Db,
    private readonly store?: Store,
  ) {
    this.sync = !store || inboxIsSynchronous(db);
  }

  /**
   * Commits the raw request; returns its id. SQLite: autocommit, the row is durable when this
   * returns. PostgreSQL: a promise that resolves once the row's transaction has committed.
   */
  record(receivedAt: number, contentType: string, body: string): number | Promise<number> {
    if (this.sync) return insertInboxRequest(this.db, 'slack', receivedAt, contentType, body);
    return this.store!.transaction((tx) => insertInboxRequestAsync(tx, 'slack', receivedAt, contentType, body));
  }

  /**
   * Deletes the row; true when it was still there. Called inside the transaction of the work that
   * applies the request (`within`, the work queue's slice): false means the request was already
   * applied, and the work must not run.
   */
  claim(id: number, within?: WriteTx): boolean | Promise<boolean> {
    if (this.sync) return deleteInboxRequest(this.db, id);
    if (within) return deleteInboxRequestAsync(within, id);
    return this.store!.transaction((tx) => deleteInboxRequestAsync(tx, id));
  }

  /** Drops the row of a request that turned out to ask for no lasting work (help, a typo, a form to open). */
  discard(id: number): void | Promise<void> {
    if (this.sync) {
      deleteInboxRequest(this.db, id);
      return;
    }
    return this.store!.transaction(async (tx) => void (await deleteInboxRequestAsync(tx, id)));
  }

  /**
   * Rows left by a previous run (or, on PostgreSQL, by another replica), oldest first; with
   * `receivedBefore`, only those that arrived before then (PostgreSQL's sweep).
   */
  pending(receivedBefore?: number): StoredRequest[] | Promise<StoredRequest[]> {
    if (this.sync) return inboxRequests(this.db, 'slack');
    return this.store!.read((db) => inboxRequestsAsync(db, 'slack', receivedBefore));
  }

  /** True when several processes may share this inbox at once (PostgreSQL's replicas). */
  get shared(): boolean {
    return !this.sync;
  }
}

/**
 * A stored request's body as Bolt reads it: a form's `payload` field is JSON (interactivity), a
 * slash command is the form itself, JSON (events, and every Socket Mode envelope's payload) is JSON.
 */
export function parseStoredBody(contentType: string, raw: string): Record<string, unknown> {
  if (contentType === 'application/x-www-form-urlencoded') {
    const form = parseQuery(raw);
    return typeof form.payload === 'string' ? (JSON.parse(form.payload) as Record<string, unknown>) : form;
  }
  return JSON.parse(raw) as Record<string, unknown>;
}

/** A request as a receiver hands it over: everything Bolt needs but the inbox entry. */
export type Delivery = Omit<ReceiverEvent, 'customProperties'>;

/**
 * The path into Bolt that every Slack request takes, whichever receiver it came by (HTTP or
 * Socket Mode): commit it to the inbox, hold it until the requests a killed process left behind
 * have their places in the work queue, hand it to Bolt with its entry, and drop its row if no work
 * claimed it. Also the start-up replay of those leftovers. One implementation for both transports,
 * so what "acknowledged means durable" promises cannot differ between them.
 */
export class SlackIntake {
  private bolt: BoltApp | undefined;
  /**
   * Settles once the rows left by a previous run have their places in the work queue. New
   * requests are committed to the inbox at once but reach Bolt only after this, so nothing new
   * overtakes a replayed command.
   */
  private replayed: Promise<void> = Promise.resolve();
  /** True from the start of a replay until every replayed request has its place in the queue. */
  private replaying = false;

  constructor(private readonly opts: { inbox?: SlackInbox | undefined; log: Logger }) {}

  init(bolt: BoltApp): void {
    this.bolt = bolt;
  }

  /**
   * Commits a request before anything can acknowledge it; returns its entry (none without an
   * inbox). Synchronous, so rows keep the order requests arrived in. Throws when the row could not
   * be committed: the request is then not durable, and must not be acknowledged.
   */
  record(receivedAt: number, contentType: string, raw: string, body: Record<string, unknown>): InboxEntry | Promise<InboxEntry> | undefined {
    const inbox = this.opts.inbox;
    if (!inbox) return undefined;
    const nothing = () => undefined;
    // A slash command may be applied before its ack (handlers.ts): stored only if it is not. Not
    // while a replay is in progress: then it must queue behind the replayed requests.
    if (typeof body.command === 'string' && !this.replaying) {
      const entry: InboxEntry = {
        id: 0,
        stored: false,
        persist: () => {
          if (entry.stored) return;
          const id = inbox.record(receivedAt, contentType, raw);
          if (typeof id !== 'number') throw new Error('persist() needs the synchronous (SQLite) inbox');
          entry.id = id;
          entry.stored = true;
        },
        replay: false,
        settled: false,
        queued: nothing,
      };
      return entry;
    }
    const id = inbox.record(receivedAt, contentType, raw);
    const stored = (id: number): InboxEntry => ({ id, stored: true, persist: nothing, replay: false, settled: false, queued: nothing });
    // PostgreSQL: the entry once its row has committed (the caller awaits it before going on).
    return typeof id === 'number' ? stored(id) : id.then(stored);
  }

  /** Resolves once every replayed request has its place in the work queue (at once when none). */
  ready(): Promise<void> {
    return this.replayed;
  }

  /** Runs the request through Bolt's listeners; rejects with what they threw. */
  async dispatch(event: Delivery, entry: InboxEntry | undefined): Promise<void> {
    try {
      await this.bolt?.processEvent({ ...event, customProperties: entry ? { sitrepInbox: entry } : {} });
    } finally {
      this.settle(entry);
    }
  }

  /**
   * Runs the requests a previous run acknowledged but did not apply, oldest first, through the
   * same listeners (their acks go nowhere; replies to response_url still go out). Returns once
   * every one has run; requests arriving meanwhile wait until the replayed ones are queued.
   */
  replay(receivedBefore?: number): Promise<void> {
    const inbox = this.opts.inbox;
    if (!inbox) return Promise.resolve();
    if (this.replaying) return this.replayed;
    const pending = inbox.pending(receivedBefore);
    if (Array.isArray(pending) && pending.length === 0) return Promise.resolve();
    const runs: Promise<void>[] = [];
    // SQLite: the rows are at hand, and requests from now on queue behind them. PostgreSQL: new
    // requests wait for the read (ready()), and queue behind the rows only if there are any.
    if (Array.isArray(pending)) this.replaying = true;
    this.replayed = (async () => {
      let rows: StoredRequest[];
      try {
        rows = await pending;
      } catch (err) {
        // PostgreSQL unreachable at start: nothing replayed now; the rows stay for the next start.
        this.opts.log.error({ platform: 'slack', err }, 'could not read the Slack inbox to replay it');
        return;
      }
      if (rows.length === 0) return;
      this.replaying = true;
      this.opts.log.info({ platform: 'slack', requests: rows.length }, 'replaying acknowledged Slack requests left unapplied');
      for (const row of rows) {
        let body: Record<string, unknown>;
        try {
          body = parseStoredBody(row.contentType, row.body);
        } catch {
          this.forget(row.id); // parsed when it arrived, so this cannot happen; never retry it
          continue;
        }
        let queued!: () => void;
        const inLine = new Promise<void>((resolve) => (queued = resolve));
        const entry: InboxEntry = { id: row.id, stored: true, persist: () => undefined, replay: true, settled: false, queued };
        const run = this.dispatch({ body, ack: async () => undefined }, entry).catch((err: unknown) => {
          this.opts.log.error({ platform: 'slack', err }, 'replaying a Slack request failed');
        });
        runs.push(run);
        await Promise.race([inLine, run]);
      }
    })().finally(() => {
      this.replaying = false;
    });
    return this.replayed.then(() => Promise.all(runs)).then(() => undefined);
  }

  /** A request whose listeners are done without work that claimed it asked for nothing lasting. */
  private settle(entry: InboxEntry | undefined): void {
    if (!entry || entry.settled || !entry.stored) return;
    this.forget(entry.id);
  }

  private forget(id: number): void {
    // Left in the inbox, it is replayed at the next start; its listener then finds nothing to do.
    const warn = (err: unknown) => this.opts.log.warn({ platform: 'slack', err }, 'could not drop a Slack request from the inbox');
    try {
      this.opts.inbox?.discard(id)?.catch(warn);
    } catch (err) {
      warn(err);
    }
  }
}
