import type { Db } from '../../db/client.js';
import { readSetting } from '../../db/queries/settings.js';
import type { DeliveryResult, Target } from '../../src/mirror/target.js';
import { customerRootCard, customerUpdateCard, maintenanceCustomerRootCard, maintenanceCustomerUpdateCard, summary, type Card } from './cards.js';
import { INCIDENTS_CHANNEL_KEY, TEAMS_THREAD_PREFIX, loadConversationRef, threadConversationId } from './outlet.js';
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
  token: TokenSource;
}

export function createTeamsCustomerTarget(deps: TeamsCustomerTargetDeps): Target {
  /** The channel's own reference when the bot has heard from it; else the incidents channel's. */
  function serviceUrlFor(conversationId: string): string | null {
    const own = loadConversationRef(deps.db, conversationId);
    if (own) return own.serviceUrl;
    const home = readSetting(deps.db, INCIDENTS_CHANNEL_KEY);
    return (home ? loadConversationRef(deps.db, home)?.serviceUrl : undefined) ?? null;
  }

  return {
    folds: true,
    handles: isCustomerChannelTarget,
    breakerKey: (target) => serviceHostKey(serviceUrlFor(target.slice('teams:'.length))),
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
      const serviceUrl = serviceUrlFor(conversationId);
      if (!serviceUrl) return { kind: 'failed', error: `no service URL known for ${conversationId}: mention the bot in that channel once` };
      const attempt = (async (): Promise<DeliveryResult> => {
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
