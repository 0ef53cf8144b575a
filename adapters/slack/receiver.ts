import type { IncomingMessage, ServerResponse } from 'node:http';
import { HTTPModuleFunctions, HTTPResponseAck, verifySlackRequest, type App as BoltApp, type Receiver, type ReceiverEvent } from '@slack/bolt';
import type { Logger } from '../../src/logger.js';

// Transport only: verify the signature, parse the body, hand Bolt an event with an ack that writes
// the HTTP response. Bolt's own HTTPReceiver owns a server and reads Date.now(); this one plugs into
// Sitrep's single HTTP server (POST /slack/events) and takes the app's clock, so a request signed
// 6 minutes ago is refused deterministically and the docs' 2018 test vector can be replayed.

export interface SitrepReceiverOptions {
  signingSecret: string;
  now: () => number;
  log: Logger;
  /** Called when a request is refused (bad or stale signature). */
  onRejected?: (reason: string) => void;
}

/** Slack's request age limit; requests from further in the future are refused the same way. */
const MAX_SKEW_SECONDS = 5 * 60;

export class SitrepReceiver implements Receiver {
  private bolt: BoltApp | undefined;
  private readonly boltLogger;

  constructor(private readonly opts: SitrepReceiverOptions) {
    const log = opts.log;
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
    this.bolt = app;
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  /** The POST /slack/events handler. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let buffered;
    try {
      buffered = await HTTPModuleFunctions.bufferIncomingMessage(req);
    } catch (err) {
      const tooLarge = HTTPModuleFunctions.isRawBodyError(err) && err.statusCode === 413;
      HTTPModuleFunctions.buildNoBodyResponse(res, tooLarge ? 413 : 400);
      return;
    }
    const raw = buffered.rawBody.toString('utf8');
    const contentType = String(req.headers['content-type'] ?? '').split(';')[0]!.trim();
    // Slack's SSL check carries no signature; answer it without looking at anything else.
    if (contentType === 'application/x-www-form-urlencoded' && new URLSearchParams(raw).get('ssl_check') === '1') {
      buffered.rawBody = Buffer.from('ssl_check=1');
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
      verifySlackRequest({
        signingSecret: this.opts.signingSecret,
        body: raw,
        headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': timestamp },
        nowMilliseconds: nowMs,
      });
    } catch (err) {
      const reason = (err as Error).message;
      this.opts.log.warn({ platform: 'slack', reason }, 'refused a Slack request');
      this.opts.onRejected?.(reason);
      HTTPModuleFunctions.buildNoBodyResponse(res, 401);
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = HTTPModuleFunctions.parseHTTPRequestBody(buffered) as Record<string, unknown>;
    } catch {
      HTTPModuleFunctions.buildNoBodyResponse(res, 400);
      return;
    }
    if (body.type === 'url_verification') {
      HTTPModuleFunctions.buildUrlVerificationResponse(res, body);
      return;
    }
    const ack = new HTTPResponseAck({
      logger: this.boltLogger,
      processBeforeResponse: false,
      unhandledRequestHandler: HTTPModuleFunctions.defaultUnhandledRequestHandler,
      unhandledRequestTimeoutMillis: 3001,
      httpRequest: buffered,
      httpRequestBody: body,
      httpResponse: res,
    });
    const event: ReceiverEvent = {
      body,
      ack: ack.bind(),
      retryNum: HTTPModuleFunctions.extractRetryNumFromHTTPRequest(req),
      retryReason: HTTPModuleFunctions.extractRetryReasonFromHTTPRequest(req),
      customProperties: {},
    };
    try {
      await this.bolt?.processEvent(event);
    } catch (err) {
      this.opts.log.error({ platform: 'slack', err }, 'Slack request failed');
      // Slack shows its own error when a request is not acknowledged; a 200 after the fact is
      // pointless, so only answer when nothing was sent yet.
      if (!res.headersSent) HTTPModuleFunctions.buildNoBodyResponse(res, 500);
    }
  }
}
