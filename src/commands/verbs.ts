import type { CommandContext, Reply } from './context.js';
import type { Command } from './grammar.js';
import { help } from './help.js';
import type { Execute } from './run.js';

// The CLI runs one command per process: it loads the module of that command's verb and nothing
// else (execute.ts, which loads every verb, is for the server and the console). The table is typed
// per verb, so each entry must return the handler of its own command.

type Verb = Command['verb'];
type Handler<V extends Verb> = (ctx: CommandContext, cmd: Extract<Command, { verb: V }>) => Promise<Reply>;

const LOAD: { [V in Verb]: () => Promise<Handler<V>> } = {
  declare: async () => (await import('./declare.js')).declare,
  update: async () => (await import('./update.js')).update,
  draft: async () => (await import('./draft.js')).draft,
  approve: async () => (await import('./draft.js')).approve,
  reject: async () => (await import('./draft.js')).reject,
  resolve: async () => (await import('./resolve.js')).resolve,
  reopen: async () => (await import('./resolve.js')).reopen,
  note: async () => (await import('./note.js')).note,
  severity: async () => (await import('./note.js')).severity,
  assign: async () => (await import('./note.js')).assign,
  components: async () => (await import('./note.js')).setComponents,
  component: async () => (await import('./component.js')).component,
  approver: async () => (await import('./admin.js')).approver,
  channel: async () => (await import('./admin.js')).channel,
  list: async () => (await import('./read.js')).list,
  show: async () => (await import('./read.js')).show,
  timeline: async () => (await import('./read.js')).timeline,
  followup: async () => (await import('./followup.js')).followup,
  stats: async () => (await import('./stats.js')).stats,
  template: async () => (await import('./template.js')).template,
  subscribe: async () => (await import('./subscribe.js')).subscribe,
  unsubscribe: async () => (await import('./subscribe.js')).unsubscribe,
  subscriptions: async () => (await import('./subscribe.js')).listSubscriptions,
  deliveries: async () => (await import('./deliveries.js')).deliveries,
  postmortem: async () => (await import('./postmortem.js')).postmortem,
  maintenance: async () => (await import('./maintenance.js')).maintenance,
  page: async () => (await import('./page.js')).page,
  help: async () => help,
};

/**
 * An Execute that runs the given verbs (loaded now) and refuses any other as an internal error:
 * whoever prepared it said which commands it would be asked to run.
 */
export async function loadVerbs(verbs: Iterable<Verb>): Promise<Execute> {
  const handlers = new Map<Verb, Handler<Verb>>();
  await Promise.all([...new Set(verbs)].map(async (v) => handlers.set(v, (await LOAD[v]()) as Handler<Verb>)));
  return (ctx, cmd) => {
    const handler = handlers.get(cmd.verb);
    if (!handler) throw new Error(`the ${cmd.verb} command was not loaded`);
    return handler(ctx, cmd);
  };
}

/**
 * Commands that only read: they never record an event, change an incident or publish, so no
 * outlet can hear from them, and the CLI runs them without loading any (a read that did reach
 * for the outlets would fail loudly, writing nothing: see the CLI's app in src/entry.ts).
 */
export function onlyReads(cmd: Command): boolean {
  switch (cmd.verb) {
    case 'help':
    case 'list':
    case 'show':
    case 'timeline':
    case 'stats':
    case 'subscriptions':
      return true;
    case 'component':
    case 'approver':
    case 'deliveries':
    case 'template':
    case 'maintenance':
    case 'followup':
      return cmd.action === 'list';
    default:
      return false;
  }
}
