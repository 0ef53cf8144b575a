import type { Db } from '../../db/client.js';
import type { Store } from '../../db/store.js';
import type { DeliveryResult, Target } from '../../src/mirror/target.js';
import { customerRootCard, customerUpdateCard, maintenanceCustomerRootCard, maintenanceCustomerUpdateCard, summary, type Card } from './cards.js';
import { INCIDENTS_CHANNEL_KEY, TEAMS_THREAD_PREFIX, refKey, threadConversationId } from './outlet.js';
import { peekConversationRef, readConversationRef, teamsSettings } from './refs.js';
import { cardActivity, connectorFor, httpStatusOf, serviceHostKey, toDeliveryResult, type TokenSource } from './target.js';
import { raceAbort } from '../../src/mirror/target.js';
import { sendCustomerMessage } from '../../src/mirror/customer-channels.js';
import { teamsCustomerMessage } from './messages.js';

// Customer channels (`subscribe teams:19:…@thread.tacv2`): one card per incident in each
// channel, kept current with updateActivity, and each published update as a reply in its thread.
// Every piece of text is fully escaped (cards.ts). Update rows are customer-facing: the worker
// folds several waiting ones into the newest and marks late ones with a "Delayed:" notice.

export const isCustomerChannelTarget = (target: string) => target.startsWith('teams:') && !target.startsWith(TEAMS_THREAD_PREFIX);

export interface TeamsCustomerTargetDeps {
  db: Db;
  /** On PostgreSQL (where `db` is no connection): conversation references are read through the store. */
  store?: Pick<Store, 'read'>;
  token: TokenSource;
}

export function createTeamsCustomerTarget(deps: TeamsCustomerTargetDeps): Target {
  const settings = teamsSettings(deps.db, deps.store);

  /**
   * The channel's own reference when the bot has heard from it; else the incidents channel's. As
   * far as known now (breakerKey: on PostgreSQL, what lookup() loaded for the claimed batch).
   */
  function knownServiceUrl(conversationId: string): string | null {
    const own = peekConversationRef(settings, conversationId);
    if (own) return own.serviceUrl;
    const home = settings.peek(INCIDENTS_CHANNEL_KEY);
    return (home ? peekConversationRef(settings, home)?.serviceUrl : undefined) ?? null;
  }

  /** The same, read now (a delivery). */
  async function serviceUrlFor(conversationId: string): Promise<string | null> {
    const own = await readConversationRef(settings, conversationId);
    if (own) return own.serviceUrl;
    const home = await settings.value(INCIDENTS_CHANNEL_KEY);
    return (home ? (await readConversationRef(settings, home))?.serviceUrl : undefined) ?? null;
  }

  /** PostgreSQL: the batch's channels' references and the incidents channel's, in two queries at most. */
  async function lookup(targets: readonly string[]): Promise<void> {
    const channels = targets.filter(isCustomerChannelTarget).map((t) => t.slice('teams:'.length));
    await settings.load([...channels.map(refKey), INCIDENTS_CHANNEL_KEY]);
    const home = settings.peek(INCIDENTS_CHANNEL_KEY);
    if (home && channels.some((c) => !peekConversationRef(settings, c))) await settings.load([refKey(home)]);
  }

  return {
    folds: true,
    handles: isCustomerChannelTarget,
    breakerKey: (target) => serviceHostKey(knownServiceUrl(target.slice('teams:'.length))),
    ...(settings.synchronous ? {} : { lookup }),
    async deliver(msg, signal) {
      const parsed = teamsCustomerMessage.safeParse({ kind: msg.kind, payload: msg.payload });
      if (!parsed.success) return { kind: 'failed', error: 'bad customer update payload' };
      const m = parsed.data;
      // An incident's card and updates, or a scheduled maintenance's (its own lane).
      const incident = m.kind === 'teams.customer_root' || m.kind === 'teams.customer_update';
      const p = m.payload;
      const rootCard = (): Card => (incident ? customerRootCard(m.payload) : maintenanceCustomerRootCard(m.payload));
      const updateCard = (notices: string[]): Card => (incident ? customerUpdateCard(m.payload, notices) : maintenanceCustomerUpdateCard(m.payload, notices));
      const statusWords = p.status.replace(/_/g, ' ');
      const part = m.kind === 'teams.customer_root' || m.kind === 'teams.maintenance_root' ? 'root' : 'update';
      const conversationId = msg.target.slice('teams:'.length);
      const attempt = (async (): Promise<DeliveryResult> => {
        const serviceUrl = await serviceUrlFor(conversationId);
        if (!serviceUrl) return { kind: 'failed', error: `no service URL known for ${conversationId}: mention the bot in that channel once` };
        const root = await cardActivity(rootCard(), summary(`${incident ? '' : 'Scheduled maintenance: '}${p.title}: ${statusWords}`));
        const client = await connectorFor(serviceUrl, await deps.token());
        return sendCustomerMessage(msg, part, {
          noReference: 'Teams returned no activity id',
          postRoot: async () => (await client.sendToConversation(conversationId, root))?.id,
          async editRoot(rootId) {
            root.id = rootId;
            await client.updateActivity(conversationId, rootId, root).catch((err: unknown) => {
              if (httpStatusOf(err) === 404) return; // the card was deleted: the reply still goes out
              throw err;
            });
          },
          async postUpdate(rootId, notices) {
            const reply = await cardActivity(updateCard(notices), summary(`${notices.length ? notices.join(' ') + ' ' : ''}${statusWords}: ${p.body}`));
            return (await client.sendToConversation(rootId ? threadConversationId(conversationId, rootId) : conversationId, reply))?.id;
          },
        });
      })().catch((err: unknown) => toDeliveryResult(err));
      return raceAbort(attempt, signal);
    },
  };
}
