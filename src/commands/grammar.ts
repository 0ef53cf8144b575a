import { z } from 'zod';
import { COMPONENT_STATUS_ALIASES, INCIDENT_STATUS_ALIASES, ROLES } from '../domain/enums.js';
import type { ComponentStatus, IncidentStatus, Role, Severity } from '../domain/enums.js';
import { SitrepError } from '../domain/errors.js';
import { isUserRef } from '../domain/actor.js';
import { parseTime } from '../render/time.js';
import { USAGE, VERBS, usageHint, type Verb } from './help.js';
import { joinText, nearest, tokenize, type Token } from './tokenize.js';

// The one grammar every surface shares. Text in, a typed Command out, or a SitrepError('INVALID')
// whose message says what was wrong and how to write it.

export const OPTION_KEYS = ['sev', 'components', 'lead', 'started', 'at', 'status', 'template', 'owner', 'since', 'group'] as const;
export type OptionKey = (typeof OPTION_KEYS)[number];

export const MAX_TITLE = 200;
export const MAX_TEXT = 10_000;
/** Statuspage refuses bodies over 25,000 characters; refuse them when drafting, not when sending. */
export const MAX_CUSTOMER_TEXT = 25_000;
export const MAX_LINE = 30_000;

export interface ComponentChange {
  slug: string;
  status: ComponentStatus;
}

export type Command =
  | { verb: 'declare'; title: string; severity?: Severity; components?: ComponentChange[]; lead?: string; startedAt?: number; at?: number }
  | { verb: 'update'; incident?: number; status?: IncidentStatus; components?: ComponentChange[]; text: string; at?: number }
  | { verb: 'draft'; incident?: number; status?: IncidentStatus; components?: ComponentChange[]; text: string; template?: string; at?: number }
  | { verb: 'approve'; draft: number; text?: string; at?: number }
  | { verb: 'reject'; draft: number; reason: string; at?: number }
  | { verb: 'resolve'; incident?: number; text?: string; at?: number }
  | { verb: 'reopen'; incident?: number; at?: number }
  | { verb: 'note'; incident?: number; text: string; at?: number }
  | { verb: 'severity'; incident?: number; severity: Severity; at?: number }
  | { verb: 'assign'; incident?: number; role: Role; user: string; at?: number }
  | { verb: 'components'; incident?: number; changes: ComponentChange[]; at?: number }
  | { verb: 'component'; action: 'add'; name: string; group?: string }
  | { verb: 'component'; action: 'list' }
  | { verb: 'component'; action: 'map'; slug: string; statuspageId: string }
  | { verb: 'subscribe'; target: string; components: string[] }
  | { verb: 'unsubscribe'; target: string }
  | { verb: 'subscriptions' }
  | { verb: 'approver'; action: 'add' | 'remove'; user: string }
  | { verb: 'approver'; action: 'list' }
  | { verb: 'channel'; action: 'incidents' }
  | { verb: 'list'; filter: 'open' | 'resolved' | 'all' }
  | { verb: 'show'; incident?: number }
  | { verb: 'timeline'; incident?: number }
  | { verb: 'deliveries'; action: 'list'; incident?: number }
  | { verb: 'deliveries'; action: 'retry'; id: number }
  | { verb: 'postmortem'; action: 'draft'; incident?: number }
  | { verb: 'postmortem'; action: 'publish'; incident?: number; text?: string }
  | { verb: 'followup'; action: 'add'; incident?: number; text: string; owner?: string; at?: number }
  | { verb: 'followup'; action: 'done'; id: number; at?: number }
  | { verb: 'stats'; since?: number }
  | { verb: 'template'; action: 'add'; name: string; status?: IncidentStatus; text: string }
  | { verb: 'template'; action: 'list' }
  | { verb: 'template'; action: 'remove'; name: string }
  | { verb: 'help'; topic?: string };

export interface ParseContext {
  timezone: string;
  now: number;
  /** Platform whose `@name` shorthand applies (`@alice` → `cli:alice` in the CLI). */
  platform: 'slack' | 'teams' | 'cli';
}

/** Verbs that change something (and so accept at:). */
const RECORDING_VERBS = new Set<Verb>([
  'declare', 'update', 'draft', 'approve', 'reject', 'resolve', 'reopen', 'note', 'severity', 'assign', 'components', 'followup',
]);

const ALLOWED_OPTIONS: Record<Verb, readonly OptionKey[]> = {
  declare: ['sev', 'components', 'lead', 'started', 'at'],
  update: ['status', 'components', 'at'],
  draft: ['status', 'components', 'template', 'at'],
  approve: ['at'],
  reject: ['at'],
  resolve: ['at'],
  reopen: ['at'],
  note: ['at'],
  severity: ['at'],
  assign: ['at'],
  components: ['at'],
  component: ['group'],
  subscribe: ['components'],
  unsubscribe: [],
  subscriptions: [],
  approver: [],
  channel: [],
  list: [],
  show: [],
  timeline: [],
  deliveries: [],
  postmortem: [],
  followup: ['owner', 'at'],
  stats: ['since'],
  template: ['status'],
  help: [],
};

const fail = (msg: string): never => {
  throw new SitrepError('INVALID', msg);
};

// Control characters other than tab and newline have no business in incident text; they usually
// mean a paste went wrong, and they can corrupt terminals and chat renderers. Unicode
// noncharacters (U+FDD0–U+FDEF, U+xxFFFE/U+xxFFFF) and lone surrogates are refused the same way:
// XML forbids U+FFFE/U+FFFF, so one of them in an approved update would break the feed for every
// reader, and a lone surrogate is not text at all.
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u2028\u2029\ufdd0-\ufdef\ufffe\uffff]|[\ud83f\ud87f\ud8bf\ud8ff\ud93f\ud97f\ud9bf\ud9ff\uda3f\uda7f\udabf\udaff\udb3f\udb7f\udbbf\udbff][\udffe\udfff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The checks every piece of text a person gives Sitrep goes through, whether typed as a command,
 * entered in a Slack modal field or a Teams card input: no control characters, noncharacters or
 * lone surrogates, and at most `max` characters. Throws INVALID with one line saying what to fix.
 */
export function checkInputText(what: string, text: string, max: number): string {
  if (CONTROL.test(text)) fail(`${what} contains control characters or invalid Unicode; remove them and try again`);
  if (text.length > max) fail(`${what} is ${text.length} characters; the limit is ${max}`);
  return text;
}

function checkText(what: string, text: string, max: number, verb: Verb): string {
  checkInputText(what, text, max);
  if (!text.trim()) fail(`${what} is missing; ${usageHint(verb)}`);
  return text;
}

const severitySchema = z.coerce
  .number({ message: 'severity must be 1, 2, 3 or 4' })
  .int()
  .min(1)
  .max(4)
  .transform((n) => n as Severity);

function parseSeverity(raw: string, verb: Verb): Severity {
  const r = severitySchema.safeParse(/^\d$/.test(raw.replace(/^sev/i, '')) ? raw.replace(/^sev/i, '') : 'x');
  if (!r.success) fail(`"${raw}" is not a severity; use 1 (worst) to 4, e.g. sev:2 (${usageHint(verb)})`);
  return r.data as Severity;
}

export function parseIncidentStatus(raw: string): IncidentStatus {
  const s = INCIDENT_STATUS_ALIASES[raw.toLowerCase()];
  if (!s) fail(`"${raw}" is not an incident status; use investigating, identified, monitoring or resolved`);
  return s!;
}

export function parseComponentStatus(raw: string): ComponentStatus {
  const s = COMPONENT_STATUS_ALIASES[raw.toLowerCase()];
  if (!s) {
    fail(`"${raw}" is not a component status; use operational, degraded, partial, major or maintenance (or their full names)`);
  }
  return s!;
}

const SLUG = /^[a-z0-9][a-z0-9-]{0,59}$/;

export function parseComponentChanges(raw: string, verb: Verb): ComponentChange[] {
  const parts = raw.split(',').map((p) => p.trim()).filter(Boolean);
  if (!parts.length) fail(`components needs slug=status pairs, e.g. components:web-app=major (${usageHint(verb)})`);
  const seen = new Set<string>();
  return parts.map((p) => {
    const m = /^([^=]+)=(.+)$/.exec(p);
    if (!m) fail(`"${p}" needs a status: write it as ${p}=major (or operational, degraded, partial, maintenance)`);
    const slug = m![1]!.trim().toLowerCase();
    if (!SLUG.test(slug)) fail(`"${m![1]}" is not a component slug; see \`component list\``);
    if (seen.has(slug)) fail(`component ${slug} is listed twice`);
    seen.add(slug);
    return { slug, status: parseComponentStatus(m![2]!.trim()) };
  });
}

export function parseUser(raw: string, platform: ParseContext['platform']): string {
  const slackMention = /^<@([UW][A-Z0-9]+)(\|[^>]*)?>$/.exec(raw);
  if (slackMention) return `slack:${slackMention[1]}`;
  if (isUserRef(raw)) return raw;
  const at = /^@([A-Za-z0-9._-]{1,80})$/.exec(raw);
  if (at) return `${platform}:${at[1]}`;
  return fail(`"${raw}" is not a user; write @name or a full ref like slack:U123`);
}

function parseIncidentRef(raw: string): number | null {
  const m = /^#?INC-(\d{1,9})$/i.exec(raw);
  return m ? Number(m[1]) : null;
}

function parseRef(raw: string | undefined, prefix: 'D' | 'F', verb: Verb): number {
  const m = raw ? new RegExp(`^${prefix}-(\\d{1,9})$`, 'i').exec(raw) : null;
  if (!m) fail(`${verb} needs a ${prefix}-n id${raw ? ` (got "${raw}")` : ''}; ${usageHint(verb)}`);
  return Number(m![1]);
}

interface Parsed {
  verb: Verb;
  words: Token[];
  options: Partial<Record<OptionKey, string>>;
  input: string;
  tokens: Token[];
}

function split(input: string, ctx: ParseContext): Parsed {
  if (input.length > MAX_LINE) fail(`that command is ${input.length} characters; the limit is ${MAX_LINE}`);
  const tokens = tokenize(input);
  if (!tokens.length) fail('no command given; type `help` to see what Sitrep can do');
  let first = tokens[0]!;
  // Teams users write "@Sitrep incident declare …"; the CLI may get "incident declare …" too.
  if (/^\/?incident$/i.test(first.value) && tokens.length > 1) {
    tokens.shift();
    first = tokens[0]!;
  }
  const word = first.value.toLowerCase();
  const verb = (VERBS as string[]).includes(word) ? (word as Verb) : null;
  if (!verb) {
    const guess = nearest(word, VERBS);
    fail(`unknown command "${first.value}"${guess ? `; did you mean \`${guess}\`?` : ''} (type \`help\` for the list)`);
  }
  const options: Partial<Record<OptionKey, string>> = {};
  const words: Token[] = [];
  for (const t of tokens.slice(1)) {
    const m = t.quoted ? null : /^([a-z]+):(.*)$/s.exec(t.value);
    const key = m && (OPTION_KEYS as readonly string[]).includes(m[1]!) ? (m[1] as OptionKey) : null;
    if (!key) {
      words.push(t);
      continue;
    }
    // A value may be quoted: started:"2021-12-07 07:32".
    const value = m![2]!;
    if (!ALLOWED_OPTIONS[verb!].includes(key)) {
      const allowed = ALLOWED_OPTIONS[verb!];
      fail(`${verb} does not take ${key}:${allowed.length ? ` (it takes ${allowed.map((k) => k + ':').join(' ')})` : ''}; ${usageHint(verb!)}`);
    }
    if (options[key] !== undefined) fail(`${key}: is given twice; give it once`);
    if (!value.trim()) fail(`${key}: needs a value; ${usageHint(verb!)}`);
    options[key] = value;
  }
  void ctx;
  return { verb: verb!, words, options, input, tokens };
}

function text(p: Parsed, from: number): string {
  const keep = new Set(p.words.slice(from));
  return joinText(p.input, p.tokens, keep);
}

function time(p: Parsed, key: 'at' | 'started' | 'since', ctx: ParseContext): number | undefined {
  const raw = p.options[key];
  if (raw === undefined) return undefined;
  const ms = parseTime(raw, ctx.timezone, ctx.now);
  // A minute of slack: clocks on laptops and chat servers differ.
  if (ms > ctx.now + 60_000) fail(`${key}:${raw} is in the future; times must be now or earlier`);
  return ms;
}

function leadingIncident(p: Parsed): { incident?: number; rest: number } {
  const first = p.words[0];
  const n = first ? parseIncidentRef(first.value) : null;
  return n === null ? { rest: 0 } : { incident: n, rest: 1 };
}

function noExtraWords(p: Parsed, from: number): void {
  const extra = p.words.slice(from);
  if (extra.length) fail(`unexpected "${extra.map((w) => w.value).join(' ')}"; ${usageHint(p.verb)}`);
}

/** Text → Command. Throws SitrepError('INVALID') with a one-line explanation. */
export function parseCommand(input: string, ctx: ParseContext): Command {
  const p = split(input, ctx);
  const { verb } = p;
  const at = RECORDING_VERBS.has(verb) ? time(p, 'at', ctx) : undefined;
  const withAt = <T extends object>(c: T): T => (at === undefined ? c : { ...c, at });
  switch (verb) {
    case 'declare': {
      const title = checkText('the title', text(p, 0), MAX_TITLE, verb);
      if (/\n/.test(title)) fail('the title must be one line');
      if (parseIncidentRef(p.words[0]!.value) !== null) fail('declare opens a new incident; give it a title, not an INC-n id');
      const startedAt = time(p, 'started', ctx);
      if (startedAt !== undefined && at !== undefined && startedAt > at) {
        fail('started: is after at:; the impact cannot begin after the incident was declared');
      }
      const c: Command = { verb, title };
      if (p.options.sev) c.severity = parseSeverity(p.options.sev, verb);
      if (p.options.components) c.components = parseComponentChanges(p.options.components, verb);
      if (p.options.lead) c.lead = parseUser(p.options.lead, ctx.platform);
      if (startedAt !== undefined) c.startedAt = startedAt;
      return withAt(c);
    }
    case 'update':
    case 'draft': {
      const { incident, rest } = leadingIncident(p);
      const body = text(p, rest);
      const c: Extract<Command, { verb: 'update' | 'draft' }> =
        verb === 'draft'
          ? { verb, text: body, ...(p.options.template ? { template: p.options.template.toLowerCase() } : {}) }
          : { verb, text: body };
      if (verb === 'draft' && c.verb === 'draft' && c.template && !body) c.text = '';
      else checkText(verb === 'draft' ? 'the customer-facing text' : 'the update text', body, verb === 'draft' ? MAX_CUSTOMER_TEXT : MAX_TEXT, verb);
      if (incident !== undefined) c.incident = incident;
      if (p.options.status) c.status = parseIncidentStatus(p.options.status);
      if (p.options.components) c.components = parseComponentChanges(p.options.components, verb);
      return withAt(c);
    }
    case 'approve': {
      const draft = parseRef(p.words[0]?.value, 'D', verb);
      const replacement = text(p, 1);
      const c: Command = { verb, draft };
      if (replacement) c.text = checkText('the replacement text', replacement, MAX_CUSTOMER_TEXT, verb);
      return withAt(c);
    }
    case 'reject': {
      const draft = parseRef(p.words[0]?.value, 'D', verb);
      const reason = text(p, 1);
      if (!reason) fail(`say why: ${usageHint(verb)}`);
      return withAt({ verb, draft, reason: checkText('the reason', reason, MAX_TEXT, verb) });
    }
    case 'resolve': {
      const { incident, rest } = leadingIncident(p);
      const body = text(p, rest);
      const c: Command = { verb };
      if (incident !== undefined) c.incident = incident;
      if (body) c.text = checkText('the customer-facing text', body, MAX_CUSTOMER_TEXT, verb);
      return withAt(c);
    }
    case 'reopen': {
      const { incident, rest } = leadingIncident(p);
      noExtraWords(p, rest);
      return withAt(incident !== undefined ? { verb, incident } : { verb });
    }
    case 'note': {
      const { incident, rest } = leadingIncident(p);
      const body = checkText('the note', text(p, rest), MAX_TEXT, verb);
      return withAt(incident !== undefined ? { verb, incident, text: body } : { verb, text: body });
    }
    case 'severity': {
      const { incident, rest } = leadingIncident(p);
      const raw = p.words[rest]?.value;
      if (!raw) fail(`give a severity from 1 to 4; ${usageHint(verb)}`);
      noExtraWords(p, rest + 1);
      const c: Command = { verb, severity: parseSeverity(raw!, verb) };
      if (incident !== undefined) c.incident = incident;
      return withAt(c);
    }
    case 'assign': {
      const { incident, rest } = leadingIncident(p);
      const roleRaw = p.words[rest]?.value.toLowerCase();
      const userRaw = p.words[rest + 1]?.value;
      if (!roleRaw || !userRaw) fail(`assign needs a role and a user; ${usageHint(verb)}`);
      if (!(ROLES as readonly string[]).includes(roleRaw!)) fail(`"${roleRaw}" is not a role; use lead, commander, comms or scribe`);
      noExtraWords(p, rest + 2);
      const c: Command = { verb, role: roleRaw as Role, user: parseUser(userRaw!, ctx.platform) };
      if (incident !== undefined) c.incident = incident;
      return withAt(c);
    }
    case 'components': {
      const { incident, rest } = leadingIncident(p);
      const raw = p.words.slice(rest).map((w) => w.value).join(',');
      if (!raw) fail(`give slug=status pairs; ${usageHint(verb)}`);
      const c: Command = { verb, changes: parseComponentChanges(raw, verb) };
      if (incident !== undefined) c.incident = incident;
      return withAt(c);
    }
    case 'component': {
      const action = p.words[0]?.value.toLowerCase();
      if (action === 'list') {
        noExtraWords(p, 1);
        return { verb, action };
      }
      if (action === 'add') {
        const name = checkText('the component name', text(p, 1), 100, verb);
        if (/\n/.test(name)) fail('the component name must be one line');
        const c: Command = { verb, action, name };
        if (p.options.group) c.group = checkText('the group name', p.options.group, 100, verb);
        return c;
      }
      if (action === 'map') {
        const slug = p.words[1]?.value.toLowerCase();
        const id = p.words[2]?.value;
        if (!slug || !id) fail(`component map needs a slug and a Statuspage component id; ${usageHint(verb)}`);
        if (!/^[A-Za-z0-9]{1,64}$/.test(id!)) fail(`"${id}" is not a Statuspage component id (letters and digits)`);
        noExtraWords(p, 3);
        return { verb, action, slug: slug!, statuspageId: id! };
      }
      return fail(`component needs add, list or map; ${usageHint(verb)}`);
    }
    case 'subscribe':
    case 'unsubscribe': {
      const target = p.words[0]?.value;
      if (!target) fail(`give a target; ${usageHint(verb)}`);
      noExtraWords(p, 1);
      if (verb === 'unsubscribe') return { verb, target: target! };
      const comps = p.options.components
        ? p.options.components.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)
        : [];
      for (const s of comps) if (!SLUG.test(s)) fail(`"${s}" is not a component slug; see \`component list\``);
      return { verb, target: target!, components: comps };
    }
    case 'subscriptions':
      noExtraWords(p, 0);
      return { verb };
    case 'approver': {
      const action = p.words[0]?.value.toLowerCase();
      if (action === 'list') {
        noExtraWords(p, 1);
        return { verb, action };
      }
      if (action === 'add' || action === 'remove') {
        const u = p.words[1]?.value;
        if (!u) fail(`approver ${action} needs a user; ${usageHint(verb)}`);
        noExtraWords(p, 2);
        return { verb, action, user: parseUser(u!, ctx.platform) };
      }
      return fail(`approver needs add, remove or list; ${usageHint(verb)}`);
    }
    case 'channel': {
      if (p.words[0]?.value.toLowerCase() !== 'incidents') fail(`${usageHint(verb)}`);
      noExtraWords(p, 1);
      return { verb, action: 'incidents' };
    }
    case 'list': {
      const f = (p.words[0]?.value ?? 'open').toLowerCase();
      if (f !== 'open' && f !== 'resolved' && f !== 'all') fail(`list takes open, resolved or all (got "${p.words[0]?.value}")`);
      noExtraWords(p, 1);
      return { verb, filter: f as 'open' | 'resolved' | 'all' };
    }
    case 'show':
    case 'timeline': {
      const { incident, rest } = leadingIncident(p);
      noExtraWords(p, rest);
      return incident !== undefined ? { verb, incident } : { verb };
    }
    case 'deliveries': {
      if (p.words[0]?.value.toLowerCase() === 'retry') {
        const raw = p.words[1]?.value;
        const m = raw ? /^#?(\d{1,12})$/.exec(raw) : null;
        if (!m) fail(`deliveries retry needs a delivery id from \`deliveries\`; ${usageHint(verb)}`);
        noExtraWords(p, 2);
        return { verb, action: 'retry', id: Number(m![1]) };
      }
      const { incident, rest } = leadingIncident(p);
      noExtraWords(p, rest);
      return incident !== undefined ? { verb, action: 'list', incident } : { verb, action: 'list' };
    }
    case 'postmortem': {
      const publish = p.words[0]?.value.toLowerCase() === 'publish';
      const sub = { ...p, words: p.words.slice(publish ? 1 : 0) };
      const { incident, rest } = leadingIncident(sub);
      if (!publish) {
        noExtraWords(sub, rest);
        return incident !== undefined ? { verb, action: 'draft', incident } : { verb, action: 'draft' };
      }
      // Optional customer-facing wording; without it Sitrep writes the public summary itself.
      const body = text(sub, rest);
      const c: Command = { verb, action: 'publish' };
      if (incident !== undefined) c.incident = incident;
      if (body) c.text = checkText('the postmortem text', body, MAX_CUSTOMER_TEXT, verb);
      return c;
    }
    case 'followup': {
      const action = p.words[0]?.value.toLowerCase();
      if (action === 'done') {
        const id = parseRef(p.words[1]?.value, 'F', verb);
        noExtraWords(p, 2);
        return withAt({ verb, action, id });
      }
      if (action === 'add') {
        const sub = { ...p, words: p.words.slice(1) };
        const { incident, rest } = leadingIncident(sub);
        const body = checkText('the follow-up', text(sub, rest), 2000, verb);
        const c: Command = { verb, action, text: body };
        if (incident !== undefined) c.incident = incident;
        if (p.options.owner) c.owner = parseUser(p.options.owner, ctx.platform);
        return withAt(c);
      }
      return fail(`followup needs add or done; ${usageHint(verb)}`);
    }
    case 'stats': {
      noExtraWords(p, 0);
      const since = time(p, 'since', ctx);
      return since !== undefined ? { verb, since } : { verb };
    }
    case 'template': {
      const action = p.words[0]?.value.toLowerCase();
      if (action === 'list') {
        noExtraWords(p, 1);
        return { verb, action };
      }
      const name = p.words[1]?.value.toLowerCase();
      if (action === 'remove') {
        if (!name) fail(`template remove needs a name; ${usageHint(verb)}`);
        noExtraWords(p, 2);
        return { verb, action, name: name! };
      }
      if (action === 'add') {
        if (!name || !SLUG.test(name)) fail(`template add needs a name (letters, digits, dashes); ${usageHint(verb)}`);
        const body = checkText('the template text', text(p, 2), MAX_CUSTOMER_TEXT, verb);
        const c: Command = { verb, action, name: name!, text: body };
        if (p.options.status) c.status = parseIncidentStatus(p.options.status);
        return c;
      }
      return fail(`template needs add, list or remove; ${usageHint(verb)}`);
    }
    case 'help': {
      const topic = p.words[0]?.value.toLowerCase();
      if (topic && !(topic in USAGE)) {
        const guess = nearest(topic, VERBS);
        fail(`no command "${topic}"${guess ? `; did you mean \`help ${guess}\`?` : ''}`);
      }
      return topic ? { verb, topic } : { verb };
    }
  }
}
