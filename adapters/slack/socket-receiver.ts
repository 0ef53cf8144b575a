import { SocketModeReceiver, type App as BoltApp, type Logger as BoltLogger, type Receiver, type ReceiverEvent } from '@slack/bolt';
import type { Logger } from '../../src/logger.js';
import { SlackIntake, type InboxEntry, type SlackInbox } from './inbox.js';

// Socket Mode (SLACK_APP_TOKEN): Bolt's SocketModeReceiver keeps the WebSocket (apps.connections.open,
// hello, pings, reconnects) and turns each envelope into an event whose ack is the envelope reply.
// Slack never redelivers an envelope it got that reply for, so, as in HTTP mode, every envelope is
// committed to the inbox before Bolt (and so any ack) sees it: the socket receiver is handed a
// stand-in for Bolt whose processEvent records the envelope's payload first and only then passes
// it on, through the same SlackIntake the HTTP receiver uses (claim in the work's transaction,
// drop when nothing claimed it, replay at start-up ahead of anything new).
//
// The payload is stored as JSON ('application/json'): it arrives as one JSON object whatever its
// kind (slash command, interaction, event), and that is what Bolt reads on replay.

export interface SitrepSocketReceiverOptions {
  appToken: string;
  /** SLACK_API_URL: where apps.connections.open is called. */
  apiUrl: string;
  now: () => number;
  log: Logger;
  logger: BoltLogger;
  /** Where envelopes are committed before they are acknowledged (absent: nothing is kept). */
  inbox?: SlackInbox;
}

export class SitrepSocketReceiver implements Receiver {
  private readonly socket: SocketModeReceiver;
  private readonly intake: SlackIntake;

  constructor(private readonly opts: SitrepSocketReceiverOptions) {
    this.intake = new SlackIntake({ inbox: opts.inbox, log: opts.log });
    this.socket = new SocketModeReceiver({ appToken: opts.appToken, logger: opts.logger, installerOptions: { clientOptions: { slackApiUrl: opts.apiUrl } } });
  }

  init(app: BoltApp): void {
    this.intake.init(app);
    // The socket receiver only ever calls processEvent on the app it is given.
    this.socket.init({ processEvent: (event: ReceiverEvent) => this.process(event) } as unknown as BoltApp);
  }

  /**
   * Connects. Call replay() first: an envelope that arrives while the leftovers are being replayed
   * is committed at once and waits for them to be queued.
   */
  start(): Promise<unknown> {
    return this.socket.start();
  }

  stop(): Promise<unknown> {
    return this.socket.stop();
  }

  /**
   * Replays what a killed process acknowledged but did not apply (SlackIntake.replay); with
   * `receivedBefore`, only what arrived before then.
   */
  replay(receivedBefore?: number): Promise<void> {
    return this.intake.replay(receivedBefore);
  }

  private async process(event: ReceiverEvent): Promise<void> {
    let entry: InboxEntry | undefined;
    try {
      // Before the first await: envelopes are committed in the order they came off the socket.
      // (PostgreSQL: the insert is queued in that order too, and awaited before anything can ack.)
      const recorded = this.intake.record(this.opts.now(), 'application/json', JSON.stringify(event.body), event.body);
      entry = recorded instanceof Promise ? await recorded : recorded;
    } catch (err) {
      // Not on disk, so not acknowledged: the socket receiver logs the failure and sends no ack,
      // so Slack redelivers an event and shows the person an error for a command or a click.
      this.opts.log.error({ platform: 'slack', err }, 'could not record a Socket Mode envelope; not acknowledged');
      throw err;
    }
    if (entry !== undefined) await this.intake.ready();
    // The socket receiver's custom properties are always empty: the inbox entry takes their place.
    const { customProperties: _none, ...delivery } = event;
    await this.intake.dispatch(delivery, entry);
  }
}
