import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthConfiguration, CloudAdapter } from '@microsoft/agents-hosting';
import type { Db } from '../../db/client.js';
import { settingsAreSynchronous } from '../../db/queries/settings.js';
import type { Store } from '../../db/store.js';
import type { Capability } from '../../src/capability.js';
import type { Runner } from '../../src/commands/runner.js';
import type { Config } from '../../src/config.js';
import { BodyTooLargeError, readBody, refuseTooLarge } from '../../src/http/router.js';
import type { Logger } from '../../src/logger.js';
import { createTeamsCustomerTarget } from './customer.js';
import { createCustomerChannelOutlet } from '../../src/mirror/customer-channels.js';
import { createInbound } from './inbound.js';
import { isLoopbackAddress } from './local.js';
import { createTeamsOutlet } from './outlet.js';
import { loadSdk } from './sdk.js';
import { createTeamsTarget, noToken, type TokenSource } from './target.js';

// Teams as a capability: createTeams(deps) from src/main.ts (and, for its outlets, src/entry.ts). POST /api/messages is always served. With
// MICROSOFT_APP_ID set, every request must carry a valid Bot Framework JWT (checked by the
// Microsoft 365 Agents SDK) and outbound calls carry the SDK's MSAL token; with it unset, inbound
// auth is off (local testing only; start-up warns): an activity is then accepted only from a
// loopback socket and only when its serviceUrl is a loopback URL (local.ts), and outbound calls go
// to that serviceUrl with no token at all, so nothing ever asks Entra for one.

const BOT_FRAMEWORK_SCOPE = 'https://api.botframework.com';

/** The SDK's auth settings for our configuration, or null when auth is off. */
export function authConfigFor(teams: Config['teams']): AuthConfiguration | null {
  if (!teams.appId) return null;
  if (teams.appType === 'UserAssignedMSI') {
    return { clientId: teams.appId, ...(teams.tenantId ? { tenantId: teams.tenantId } : {}), authType: 'UserManagedIdentity' };
  }
  return {
    clientId: teams.appId,
    ...(teams.appPassword ? { clientSecret: teams.appPassword } : {}),
    ...(teams.tenantId ? { tenantId: teams.tenantId } : {}),
    authType: 'ClientSecret',
  };
}

export interface TeamsDeps {
  runner: Runner;
  db: Db;
  /** The store, for inbound reads and the targets' reads and writes on PostgreSQL (where `db` is no connection). */
  store?: Store;
  now: () => number;
  log: Logger;
  config: {
    teams: Config['teams'];
    timezone: string;
    /** SITREP_DELIVERY_DEADLINE_MINUTES, for customer channels. */
    deliveryDeadlineMs: number;
  };
  /** Overrides the outbound token (tests); by default '' with auth off, the SDK's MSAL token with it on. */
  token?: TokenSource;
}

/** The minimal Express-like response the SDK's JWT middleware writes its 401/405 to. */
function middlewareResponse() {
  const out = { status: 401, body: '' as unknown };
  const res = {
    status(code: number) {
      out.status = code;
      return res;
    },
    send(body: unknown) {
      out.body = body;
      return res;
    },
    setHeader: () => res,
    end: () => res,
  };
  return { res, out };
}

/**
 * Teams' outlets (thread, customer channels), targets and POST /api/messages. Always made: with no
 * MICROSOFT_APP_ID, inbound auth is off and only loopback is served (local mode).
 */
export function createTeams(deps: TeamsDeps): Capability {
  const { db, log, now } = deps;
  const auth = authConfigFor(deps.config.teams);
  // With auth on: the SDK's adapter (its JWT middleware) and MSAL token provider, made on first use.
  let adapter: Promise<CloudAdapter> | null = null;
  const adapterFor = (a: AuthConfiguration) => (adapter ??= loadSdk().then((sdk) => new sdk.CloudAdapter(a)));
  let provider: Promise<{ getAccessToken(a: AuthConfiguration, scope: string): Promise<string> }> | null = null;
  const token: TokenSource =
    deps.token ??
    (auth
      ? async () => {
          const p = await (provider ??= loadSdk().then((sdk) => new sdk.MsalTokenProvider(auth)));
          return p.getAccessToken(auth, BOT_FRAMEWORK_SCOPE);
        }
      : noToken);

  // Customer channels (`subscribe teams:<conversation id>`) hear published updates only, fully escaped.
  const outlets = [createTeamsOutlet(), createCustomerChannelOutlet({ platform: 'teams', deadlineMs: deps.config.deliveryDeadlineMs })];
  // On PostgreSQL (no synchronous connection) the targets read and write through the store; on
  // SQLite they keep to `db`, whose synchronous lookups the worker's hooks use.
  const viaStore = deps.store && !settingsAreSynchronous(db) ? { store: deps.store } : {};
  const targets = [createTeamsTarget({ db, ...viaStore, token, timezone: deps.config.timezone, now }), createTeamsCustomerTarget({ db, ...viaStore, token })];

  const handle = createInbound({ runner: deps.runner, db, now, ...(deps.store ? { store: deps.store } : {}) });

  /** Runs the SDK's JWT check; answers the request itself (401) and returns null when it fails. */
  async function authorized(req: IncomingMessage, res: ServerResponse): Promise<{ claims?: Record<string, unknown> } | null> {
    if (!auth) return {};
    const { res: mres, out } = middlewareResponse();
    let ok = false;
    const shim: { method: string; headers: IncomingMessage['headers']; body: Record<string, unknown>; user?: Record<string, unknown> } = {
      method: req.method ?? 'POST',
      headers: req.headers,
      body: {},
    };
    try {
      await (await adapterFor(auth)).authorizeRequest(shim, mres as never, () => {
        ok = true;
      });
    } catch (err) {
      log.warn({ platform: 'teams', err }, 'Teams request authorization failed');
      ok = false;
    }
    if (!ok) {
      res.writeHead(out.status === 405 ? 405 : 401, { 'content-type': 'application/json' }).end(JSON.stringify(out.body || { error: 'unauthorized' }) + '\n');
      return null;
    }
    return shim.user ? { claims: shim.user } : {};
  }

  /** Answers before the body is read, and closes the connection so an upload is not read further. */
  function refuse(res: ServerResponse, status: number, error: string): void {
    res.writeHead(status, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify({ error }) + '\n');
    res.once('finish', () => res.socket?.destroy());
  }

  const route = (r: Parameters<Capability['routes'][number]>[0]) =>
    r.add('POST', '/api/messages', async (req, res) => {
      // Local mode trusts nothing but where the connection comes from: the socket's own peer
      // address, never a header a caller (or a proxy) could set.
      if (!auth && !isLoopbackAddress(req.socket.remoteAddress)) {
        refuse(res, 401, 'inbound auth is off (MICROSOFT_APP_ID is not set): only requests over loopback (127.0.0.1, ::1) are accepted');
        return;
      }
      // Authenticate before reading anything the caller says.
      const granted = await authorized(req, res);
      if (!granted) {
        req.resume();
        return;
      }
      let raw: Buffer;
      try {
        raw = await readBody(req);
      } catch (err) {
        if (err instanceof BodyTooLargeError) refuseTooLarge(res);
        else res.destroy(); // the client went away mid-body: nobody is left to answer
        return;
      }
      await handle(res, raw, { ...(granted.claims ? { claims: granted.claims } : {}), localOnly: !auth });
    });

  const warning = {
    start: () => {
      if (!auth) {
        log.warn(
          { platform: 'teams' },
          'MICROSOFT_APP_ID is not set: POST /api/messages accepts unauthenticated requests (local testing only: from loopback addresses, with a loopback serviceUrl)',
        );
      }
    },
    stop: async () => undefined,
  };
  return { outlets, targets, routes: [route], services: [warning] };
}
