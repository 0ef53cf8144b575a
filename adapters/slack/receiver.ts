import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HTTPModuleFunctions, HTTPResponseAck, type App as BoltApp, type Receiver } from '@slack/bolt';
import type { Logger } from '../../src/logger.js';
import { BodyTooLargeError, readBody, refuseTooLarge } from '../../src/http/router.js';
import { SlackIntake, parseStoredBody, type Delivery, type InboxEntry, type SlackInbox } from './inbox.js';

// Transport only: read the body (at most MAX_BODY_BYTES), verify the signature, commit the request
// to the inbox, parse it, hand Bolt an event with an ack that writes the HTTP response. Bolt's own
// HTTPReceiver owns a server and reads Date.now(); this one plugs into Sitrep's single HTTP server
// (POST /slack/events) and takes the app's clock, so a request signed 6 minutes ago is refused
// deterministically and the docs' 2018 test vector can be replayed.
//
// Durability: every verified request is committed to the inbox before Bolt sees it, so it is on
// disk before any listener can acknowledge it (events are acknowledged by Bolt itself, before any
// listener runs). The listener whose work applies the request claims its row inside that work's
// transaction; a request that asked for nothing lasting has its row dropped once Bolt is done with
// it. At start-up, replay() feeds the rows a killed process left behind through Bolt again. All of
// that is SlackIntake's (inbox.ts), shared with the Socket Mode receiver.

export interface SitrepReceiverOptions {
  signingSecret: string;
  now: () => number;
  log: Logger;
  /** Where verified requests are committed before they are answered (absent: nothing is kept). */
  inbox?: SlackInbox;
  /** Called when a request is refused (bad or stale signature). */
  onRejected?: (reason: string) => void;
}

/** Slack's request age limit; requests from further in the future are refused the same way. */
const MAX_SKEW_SECONDS = 5 * 60;

type BufferedRequest = IncomingMessage & { rawBody: Buffer };

const SIGNATURE = /^v0=([0-9a-f]{64})$/;

/**
 * Slack's request signing (v0): HMAC-SHA256 of `v0:<timestamp>:<body as sent>` under the signing
 * secret, compared in constant time, and the request no older than five minutes. Bolt's own check
 * says the same, but compares through a second pair of HMACs under a random key each time, which
 * made verifying a fifth of what answering a request cost; Node's timingSafeEqual is the
 * constant-time compare itself. The bytes as sent are signed, so they are what is hashed.
 */
export function verifySignature(secret: string, signature: string, timestampSec: number, body: Buffer, nowMs: number): void {
  if (!secret) throw new Error('no signing secret is configured');
  if (timestampSec < Math.floor(nowMs / 1000) - MAX_SKEW_SECONDS) throw new Error('the request timestamp is more than 5 minutes old');
  const given = SIGNATURE.exec(signature)?.[1];
  if (!given) throw new Error('the signature is not a v0 signature');
  const ours = createHmac('sha256', secret).update(`v0:${timestampSec}:`).update(body).digest();
  if (!timingSafeEqual(ours, Buffer.from(given, 'hex'))) throw new Error('signature mismatch');
}

export class SitrepReceiver implements Receiver {
  private readonly intake: SlackIntake;
  private readonly boltLogger;

  constructor(private readonly opts: SitrepReceiverOptions) {
    const log = opts.log;
    this.intake = new SlackIntake({ inbox: opts.inbox, log });
    this.boltLogger = {
      debug: (...m: unknown[]) => log.debug({ platform: 'slack' }, m.map(String).join(' ')),
      info: (...m: unknown[]) => log.info({ platform: 'slack' }, m.map(String).join(' ')),
      warn: (...m: unknown[]) => log.warn({ platform: 'slack' }, m.map(String).join(' ')),
      error: (...m: unknown[]) => log.error({ platform: 'slack' }, m.map(String).join(' ')),
      setLevel: () => undefined,
      getLevel: () => 'info' as never,
      setName: () => undefined,
    };
  }

  init(app: BoltApp): void {
    this.intake.init(app);
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  /** The POST /slack/events handler. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let rawBody: Buffer;
    try {
      // Bounded: an oversized body is refused before it is held in memory, and before the
      // signature is checked (checking it would mean reading all of it).
      rawBody = await readBody(req);
    } catch (err) {
      if (err instanceof BodyTooLargeError) refuseTooLarge(res);
      else if (!res.headersSent) HTTPModuleFunctions.buildNoBodyResponse(res, 400);
      return;
    }
    const buffered = Object.assign(req, { rawBody }) as BufferedRequest;
    const raw = rawBody.toString('utf8');
    const contentType = String(req.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    // Slack's SSL check carries no signature; answer it without looking at anything else.
    if (contentType === 'application/x-www-form-urlencoded' && new URLSearchParams(raw).get('ssl_check') === '1') {
      HTTPModuleFunctions.buildSSLCheckResponse(res);
      return;
    }
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const signature = header('x-slack-signature') ?? '';
    const timestamp = Number(header('x-slack-request-timestamp') ?? NaN);
    const nowMs = this.opts.now();
    try {
      if (!signature || !Number.isFinite(timestamp)) throw new Error('missing signature headers');
      if (timestamp > Math.floor(nowMs / 1000) + MAX_SKEW_SECONDS) throw new Error('timestamp is in the future');
      verifySignature(this.opts.signingSecret, signature, timestamp, rawBody, nowMs);
    } catch (err) {
      const reason = (err as Error).message;
      this.opts.log.warn({ platform: 'slack', reason }, 'refused a Slack request');
      this.opts.onRejected?.(reason);
      HTTPModuleFunctions.buildNoBodyResponse(res, 401);
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = parseStoredBody(contentType, raw);
    } catch {
      HTTPModuleFunctions.buildNoBodyResponse(res, 400);
      return;
    }
    if (body.type === 'url_verification') {
      HTTPModuleFunctions.buildUrlVerificationResponse(res, body);
      return;
    }
    let entry: InboxEntry | undefined;
    try {
      const recorded = this.intake.record(nowMs, contentType, raw, body);
      // SQLite records synchronously; PostgreSQL's row is awaited here, before anything can ack.
      entry = recorded instanceof Promise ? await recorded : recorded;
    } catch (err) {
      // Not on disk, so not acknowledged: Slack shows the person an error and they can retry.
      this.opts.log.error({ platform: 'slack', err }, 'could not record a Slack request; answered 500');
      HTTPModuleFunctions.buildNoBodyResponse(res, 500);
      return;
    }
    if (entry !== undefined) await this.intake.ready();
    const ack = new HTTPResponseAck({
      logger: this.boltLogger,
      processBeforeResponse: false,
      unhandledRequestHandler: HTTPModuleFunctions.defaultUnhandledRequestHandler,
      unhandledRequestTimeoutMillis: 3001,
      httpRequest: buffered,
      httpRequestBody: body,
      httpResponse: res,
    });
    const event: Delivery = {
      body,
      ack: ack.bind(),
      retryNum: HTTPModuleFunctions.extractRetryNumFromHTTPRequest(req),
      retryReason: HTTPModuleFunctions.extractRetryReasonFromHTTPRequest(req),
    };
    try {
      await this.intake.dispatch(event, entry);
    } catch (err) {
      this.opts.log.error({ platform: 'slack', err }, 'Slack request failed');
      // Slack shows its own error when a request is not acknowledged; a 200 after the fact is
      // pointless, so only answer when nothing was sent yet.
      if (!res.headersSent) HTTPModuleFunctions.buildNoBodyResponse(res, 500);
    }
  }

  /**
   * Replays what a killed process acknowledged but did not apply (SlackIntake.replay); with
   * `receivedBefore`, only what arrived before then.
   */
  replay(receivedBefore?: number): Promise<void> {
    return this.intake.replay(receivedBefore);
  }
}
