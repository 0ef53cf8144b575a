import type { Db } from '../../db/client.js';

// The durable inbox for Slack requests. Slack never resends a slash command or an interaction it
// got a 200 for, so the raw request is committed here (one insert, one commit) before the answer
// goes out; with WAL a committed row survives a kill -9 of the process. The work the request asks
// for deletes the row in the same transaction as its own writes, so once that commits the request
// is applied and gone, and a row still here is acknowledged work not yet applied: start-up replays
// it. Deleting in the work's transaction is also what makes a replay exactly-once: the delete that
// finds no row means another run (a replay by a second process on the same file) got there first,
// and the work is skipped.

/** One request on its way through Bolt, handed to the listeners as `context.sitrepInbox`. */
export interface InboxEntry {
  id: number;
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

export interface StoredRequest {
  id: number;
  contentType: string;
  body: string;
}

export class SlackInbox {
  private readonly insert;
  private readonly remove;
  private readonly list;

  constructor(db: Db) {
    const c = db.$client;
    this.insert = c.prepare<[number, string, string]>("insert into inbox (platform, received_at, content_type, body) values ('slack', ?, ?, ?)");
    this.remove = c.prepare<[number]>('delete from inbox where id = ?');
    this.list = c.prepare<[], StoredRequest>("select id, content_type as contentType, body from inbox where platform = 'slack' order by id");
  }

  /** Commits the raw request; returns its id. Autocommit: the row is durable when this returns. */
  record(receivedAt: number, contentType: string, body: string): number {
    return Number(this.insert.run(receivedAt, contentType, body).lastInsertRowid);
  }

  /**
   * Deletes the row; true when it was still there. Called inside the transaction of the work that
   * applies the request: false means the request was already applied, and the work must not run.
   */
  claim(id: number): boolean {
    return this.remove.run(id).changes === 1;
  }

  /** Drops the row of a request that turned out to ask for no lasting work (help, a typo, a form to open). */
  discard(id: number): void {
    this.remove.run(id);
  }

  /** Rows left by a previous run, oldest first. */
  pending(): StoredRequest[] {
    return this.list.all();
  }
}
