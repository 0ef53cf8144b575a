import pg from 'pg';

// Change notifications on PostgreSQL: every write transaction that wrote something ends with a
// pg_notify on CHANNEL (db/store.pg.ts, in the statement that bumps data_version), which PostgreSQL
// delivers to every listening connection when that transaction commits, whichever replica or CLI
// run made it. Each process that serves keeps one connection of its own LISTENing (a pooled one
// cannot: the pool hands it to other work). When that connection drops it is opened again, with a
// growing pause; meanwhile the caller falls back to polling the version (src/watch.ts).

export const CHANNEL = 'sitrep_changes';
/** The listening connection's application_name, as pg_stat_activity shows it. */
export const LISTENER_NAME = 'sitrep-listen';

export interface ListenHandlers {
  /** A commit was announced (or, after a reconnect, may have been missed). */
  onChange(): void;
  /** The listening connection is up (true) or lost (false). */
  onConnected(connected: boolean): void;
}

export interface Listener {
  /** Whether the connection is listening right now. */
  readonly connected: boolean;
  stop(): Promise<void>;
}

const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 5_000;

export function listen(url: string, handlers: ListenHandlers): Listener {
  let client: pg.Client | null = null;
  let connected = false;
  let stopped = false;
  let retryMs = RETRY_FIRST_MS;
  let timer: NodeJS.Timeout | null = null;

  const lost = (c: pg.Client) => {
    if (client !== c) return; // an older connection's late event
    client = null;
    c.removeAllListeners('notification');
    c.end().catch(() => undefined);
    if (connected) {
      connected = false;
      handlers.onConnected(false);
    }
    if (stopped) return;
    timer = setTimeout(open, retryMs);
    timer.unref();
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
  };

  function open(): void {
    timer = null;
    if (stopped) return;
    const c = new pg.Client({ connectionString: url, application_name: LISTENER_NAME });
    client = c;
    c.on('error', () => lost(c));
    c.on('end', () => lost(c));
    c.on('notification', (msg) => {
      if (msg.channel === CHANNEL) handlers.onChange();
    });
    c.connect()
      .then(() => c.query(`listen ${CHANNEL}`))
      .then(() => {
        if (client !== c || stopped) return;
        connected = true;
        retryMs = RETRY_FIRST_MS;
        handlers.onConnected(true);
        // Commits made while no connection was listening were not announced to this one.
        handlers.onChange();
      })
      .catch(() => lost(c));
  }

  open();
  return {
    get connected() {
      return connected;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      const c = client;
      client = null;
      connected = false;
      if (c) {
        c.removeAllListeners();
        c.on('error', () => undefined);
        await c.end().catch(() => undefined);
      }
    },
  };
}
