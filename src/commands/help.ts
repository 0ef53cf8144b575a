import type { CommandContext, Reply } from './context.js';
import type { Command } from './grammar.js';

// Usage lines and one example per command. `help` lists them; errors point at them.

export interface Usage {
  usage: string;
  summary: string;
  example: string;
}

export const USAGE = {
  declare: {
    usage: 'declare <title> [sev:1-4] [components:slug=status,…] [lead:@user] [started:<time>] [visibility:private] [at:<time>]',
    summary: 'open a new incident (status investigating)',
    example: 'declare "Checkout errors" sev:2 components:web-app=partial lead:@alice started:7:32am',
  },
  update: {
    usage: 'update [INC-n] [status:S] [components:slug=status,…] <text> [at:<time>]',
    summary: 'internal update: timeline and thread only, never leaves the company',
    example: 'update INC-4 status:identified Primary DB failed over; replica lagging',
  },
  draft: {
    usage: 'draft [INC-n] [status:S] [components:…] [template:<name>] <customer-facing text> [at:<time>]',
    summary: 'propose a customer-facing update (D-n); it goes out once approved',
    example: 'draft INC-4 status:identified We have identified the cause and are working on a fix.',
  },
  approve: {
    usage: 'approve D-n [replacement text]',
    summary:
      'approve a draft (optionally rewording it); it is then published. Only approvers may (`approver list`); an incident role such as lead grants no approval power',
    example: 'approve D-7',
  },
  reject: {
    usage: 'reject D-n <reason>',
    summary: 'reject a draft, telling its author why (approvers, or the author withdrawing it)',
    example: 'reject D-7 too much internal detail',
  },
  resolve: {
    usage: 'resolve [INC-n] [customer-facing text] [at:<time>]',
    summary: 'mark resolved; affected components go back to operational',
    example: 'resolve INC-4 This incident has been resolved.',
  },
  reopen: {
    usage: 'reopen INC-n [at:<time>]',
    summary: 'reopen a resolved incident (back to investigating)',
    example: 'reopen INC-4',
  },
  note: {
    usage: 'note [INC-n] <text> [at:<time>]',
    summary: 'add a note to the timeline',
    example: 'note INC-4 DB failover done',
  },
  severity: {
    usage: 'severity [INC-n] <1-4> [at:<time>]',
    summary: 'change severity (1 is worst)',
    example: 'severity INC-4 1',
  },
  assign: {
    usage: 'assign [INC-n] <lead|commander|comms|scribe> @user [at:<time>]',
    summary: 'give someone a role',
    example: 'assign INC-4 comms @bob',
  },
  components: {
    usage: 'components [INC-n] slug=status,… [at:<time>]',
    summary: "set affected components' status (operational, degraded, partial, major, maintenance)",
    example: 'components INC-4 sms-routing=major,web-app=degraded',
  },
  component: {
    usage: 'component add <name> [group:<name>] · component list · component map <slug> <statuspage-id>',
    summary: 'manage the component catalogue',
    example: 'component add "SMS Routing" group:Telephony',
  },
  subscribe: {
    usage: 'subscribe <slack:C123|teams:<conversation>|webhook:https://…> [components:slug,…]',
    summary: 'send approved customer updates to a channel or webhook',
    example: 'subscribe webhook:https://example.com/hooks/status components:web-app',
  },
  unsubscribe: {
    usage: 'unsubscribe <target>',
    summary: 'stop sending customer updates to a channel or webhook',
    example: 'unsubscribe slack:C0123456',
  },
  subscriptions: {
    usage: 'subscriptions',
    summary: 'list customer channels and webhooks',
    example: 'subscriptions',
  },
  approver: {
    usage: 'approver add @user · approver remove @user · approver list',
    summary: 'who may approve customer-facing wording: this list alone; only admins (SITREP_ADMINS) change it',
    example: 'approver add @alice',
  },
  channel: {
    usage: 'channel incidents · channel private-incidents',
    summary: "run in a Slack or Teams channel: incidents' root messages and threads go there (private-incidents: Teams' private ones)",
    example: 'channel incidents',
  },
  list: {
    usage: 'list [open|resolved|all]',
    summary: 'list incidents (open by default)',
    example: 'list all',
  },
  show: {
    usage: 'show [INC-n]',
    summary: 'status, severity, roles, components and durations of an incident',
    example: 'show INC-4',
  },
  timeline: {
    usage: 'timeline [INC-n]',
    summary: 'every event of an incident, by when it happened',
    example: 'timeline INC-4',
  },
  deliveries: {
    usage: 'deliveries [INC-n] · deliveries retry <id>',
    summary: 'what Sitrep sent or is still sending, and to where',
    example: 'deliveries INC-4',
  },
  postmortem: {
    usage: 'postmortem [INC-n] · postmortem publish [INC-n] [customer-facing text]',
    summary:
      'draft the postmortem from the timeline (key times, customer updates and their longest gap, impact per component, follow-ups, the chart) · publish its customer-facing part',
    example: 'postmortem INC-4',
  },
  followup: {
    usage: 'followup add [INC-n] <text> [owner:@user] · followup done F-n · followup edit F-n [text] [owner:@user] · followup list [INC-n]',
    summary: 'follow-up actions, listed in the postmortem',
    example: 'followup add INC-4 Alert on replica lag owner:@bob',
  },
  maintenance: {
    usage:
      'maintenance schedule <title> starts:<time> ends:<time> [components:slug,…] <customer text> · list · update M-n [status:S] <text> · start|complete|cancel M-n',
    summary:
      'scheduled maintenance M-n: it starts and completes by itself at starts: and ends:, its components under maintenance meanwhile; its texts are customer-facing (approval applies)',
    example: 'maintenance schedule "DB upgrade" starts:22:00 ends:23:30 components:api We are upgrading our database.',
  },
  page: {
    usage: 'page [INC-n] [text]',
    summary: 'pages the on-call through PagerDuty (one alert per incident, dedup key INC-n); resolving the incident resolves it',
    example: 'page INC-4 Checkout is failing for every customer',
  },
  stats: {
    usage: 'stats [since:<date>]',
    summary: 'time to identify and to resolve, per severity',
    example: 'stats since:2021-12-01',
  },
  template: {
    usage: 'template add <name> [status:S] <text> · template list · template remove <name>',
    summary: 'starting texts for drafts ({{title}}, {{components}}, {{org}})',
    example: 'template add db-slow status:identified We are seeing slow responses from {{components}}.',
  },
  help: {
    usage: 'help [command]',
    summary: 'this list, or one command in detail',
    example: 'help declare',
  },
} as const satisfies Record<string, Usage>;

/** `maintenance` takes several forms; an error about one of them shows that one. */
export const MAINTENANCE_USAGE = {
  schedule: {
    usage: 'maintenance schedule <title> starts:<time> ends:<time> [components:slug,…] <customer text> [at:<time>]',
    example: USAGE.maintenance.example,
  },
  list: { usage: 'maintenance list', example: 'maintenance list' },
  update: {
    usage: 'maintenance update M-n [status:in_progress|verifying|completed|cancelled] <customer text> [at:<time>]',
    example: 'maintenance update M-3 status:verifying The upgrade is done; we are checking that everything works.',
  },
  start: { usage: 'maintenance start M-n [at:<time>]', example: 'maintenance start M-3' },
  complete: { usage: 'maintenance complete M-n [at:<time>]', example: 'maintenance complete M-3' },
  cancel: { usage: 'maintenance cancel M-n [at:<time>]', example: 'maintenance cancel M-3' },
} as const satisfies Record<string, Omit<Usage, 'summary'>>;

export type MaintenanceForm = keyof typeof MAINTENANCE_USAGE;

export function maintenanceHint(form: MaintenanceForm): string {
  return `usage: ${MAINTENANCE_USAGE[form].usage} (e.g. ${MAINTENANCE_USAGE[form].example})`;
}

export type Verb = keyof typeof USAGE;
export const VERBS = Object.keys(USAGE) as Verb[];

export function helpText(topic?: string): string {
  if (topic && Object.hasOwn(USAGE, topic)) {
    const u = USAGE[topic as Verb];
    return `${u.usage}\n${u.summary}\nexample: ${u.example}`;
  }
  const lines = VERBS.map((v) => `  ${USAGE[v].usage}\n      ${USAGE[v].summary}`);
  return [
    'Sitrep commands (options are key:value anywhere; INC-n may be left out in an incident thread):',
    ...lines,
    'Times: 7:32am, 07:32, 2021-12-07T07:32 or ISO; statuses: investigating, identified, monitoring, resolved.',
    'Type `help <command>` for an example.',
    // The one flag that is not a command: chat users never need it, but the CLI's help is where
    // an operator looks for it.
    'From a shell: `npx sitrep <command> [--as <name>] [--json]`; `npx sitrep --version` prints the version.',
    // Not a command of the language either: it moves SITREP_DB to PostgreSQL, once.
    '`npx sitrep migrate-to postgres://…` copies SITREP_DB into an empty PostgreSQL database (ids kept, counts verified).',
  ].join('\n');
}

export function usageHint(verb: Verb): string {
  return `usage: ${USAGE[verb].usage} (e.g. ${USAGE[verb].example})`;
}

/** The `help` verb. */
export async function help(_ctx: CommandContext, cmd: Extract<Command, { verb: 'help' }>): Promise<Reply> {
  return { text: helpText(cmd.topic), data: { help: helpText(cmd.topic) } };
}
