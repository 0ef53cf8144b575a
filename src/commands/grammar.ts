import { COMPONENT_STATUS_ALIASES, INCIDENT_STATUS_ALIASES, MAINTENANCE_STATUS_ALIASES, ROLES } from '../domain/enums.js';
import type { ComponentStatus, IncidentStatus, MaintenanceStatus, Role, Severity, Visibility } from '../domain/enums.js';
import { SitrepError } from '../domain/errors.js';
import { isUserRef } from '../domain/actor.js';
import { checkSchedule, parseMaintenanceRef } from '../domain/maintenance.js';
import { parseTime } from '../render/time.js';
import { USAGE, VERBS, maintenanceHint, usageHint, type MaintenanceForm, type Verb } from './help.js';
import { joinText, nearest, tokenize, type ParseMeter, type Token } from './tokenize.js';

export type { ParseMeter } from './tokenize.js';

// The one grammar every surface shares. Text in, a typed Command out, or a SitrepError('INVALID')
// whose message says what was wrong and how to write it.

export const OPTION_KEYS = [
  'sev',
  'components',
  'lead',
  'started',
  'at',
  'status',
  'template',
  'owner',
  'since',
  'group',
  'starts',
  'ends',
  'visibility',
] as const;
export type OptionKey = (typeof OPTION_KEYS)[number];

export const MAX_TITLE = 200;
export const MAX_TEXT = 10_000;
/** Statuspage refuses bodies over 25,000 characters; refuse them when drafting, not when sending. */
export const MAX_CUSTOMER_TEXT = 25_000;
export const MAX_LINE = 30_000;
/** A subscription target: a channel id, a Teams conversation id or a webhook URL. */
export const MAX_TARGET = 2048;

export interface ComponentChange {
  slug: string;
  status: ComponentStatus;
}

export type Command =
  | {
      verb: 'declare';
      title: string;
      severity?: Severity;
      components?: ComponentChange[];
      lead?: string;
      startedAt?: number;
      at?: number /** Slack's modal: the incident gets a channel of its own (no word in the command language). */;
      dedicated?: boolean;
      /** `visibility:private`: off every public surface, in a private channel (see src/domain/visibility.ts). */
      visibility?: Visibility;
    }
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
  | { verb: 'channel'; action: 'incidents' | 'private-incidents' }
  | { verb: 'list'; filter: 'open' | 'resolved' | 'all' }
  | { verb: 'show'; incident?: number }
  | { verb: 'timeline'; incident?: number }
  | { verb: 'deliveries'; action: 'list'; incident?: number }
  | { verb: 'deliveries'; action: 'retry'; id: number }
  | { verb: 'postmortem'; action: 'draft'; incident?: number }
  | { verb: 'postmortem'; action: 'publish'; incident?: number; text?: string }
  | { verb: 'followup'; action: 'add'; incident?: number; text: string; owner?: string; at?: number }
  | { verb: 'followup'; action: 'done'; id: number; at?: number }
  | { verb: 'followup'; action: 'edit'; id: number; text?: string; owner?: string; at?: number }
  | { verb: 'followup'; action: 'list'; incident?: number }
  | { verb: 'stats'; since?: number }
  | {
      verb: 'maintenance';
      action: 'schedule';
      title: string;
      startsAt: number;
      endsAt: number;
      /** Slugs; each is under_maintenance while the maintenance is in progress. */
      components: string[];
      /** The customer-facing announcement. */
      text: string;
      at?: number;
    }
  | { verb: 'maintenance'; action: 'list' }
  | { verb: 'maintenance'; action: 'update'; maintenance: number; status?: MaintenanceStatus; text: string; at?: number }
  | { verb: 'maintenance'; action: 'start' | 'complete' | 'cancel'; maintenance: number; at?: number }
  | { verb: 'template'; action: 'add'; name: string; status?: IncidentStatus; text: string }
  | { verb: 'template'; action: 'list' }
  | { verb: 'template'; action: 'remove'; name: string }
  | { verb: 'page'; incident?: number; text?: string; at?: number }
  | { verb: 'help'; topic?: string };

export interface ParseContext {
  timezone: string;
  now: number;
  /** Platform whose `@name` shorthand applies (`@alice` → `cli:alice` in the CLI). */
  platform: 'slack' | 'teams' | 'cli';
  /** Counts parsing steps (tests prove parsing is linear with it); leave out otherwise. */
  meter?: ParseMeter;
}

/** Verbs that change something (and so accept at:). */
const RECORDING_VERBS = new Set<Verb>([
  'declare',
  'update',
  'draft',
  'approve',
  'reject',
  'resolve',
  'reopen',
  'note',
  'severity',
  'assign',
  'components',
  'followup',
  'maintenance',
  'page',
]);

const ALLOWED_OPTIONS: Record<Verb, readonly OptionKey[]> = {
  declare: ['sev', 'components', 'lead', 'started', 'visibility', 'at'],
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
  maintenance: ['starts', 'ends', 'components', 'status', 'at'],
  stats: ['since'],
  page: ['at'],
  template: ['status'],
  help: [],
};

const fail = (msg: string): never => {
  throw new SitrepError('INVALID', msg);
};

// Control characters other than tab and line breaks have no business in incident text; they usually
// mean a paste went wrong, and they can corrupt terminals and chat renderers (C1 controls
// included: U+009B starts an escape sequence in some terminals). U+2028/U+2029 break lines where
// no one sees a line break. Unicode noncharacters (U+FDD0–U+FDEF and the last two code points of
// every plane, U+FFFE/U+FFFF … U+10FFFE/U+10FFFF) and lone surrogates are refused the same way:
// XML forbids U+FFFE/U+FFFF, so one of them in an approved update would break the feed for every
// reader, and a lone surrogate is not text at all. With the u flag a surrogate range matches only
// unpaired surrogates, since a pair is read as the one code point it encodes.
const REFUSED = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029\p{Noncharacter_Code_Point}\ud800-\udfff]/u;

const codePoint = (ch: string) => `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * The checks every piece of text a person gives Sitrep goes through, whether typed as a command,
 * entered in a Slack modal field or a Teams card input: at most `max` characters, and no control
 * characters, noncharacters or lone surrogates. Throws INVALID with one line saying what to fix.
 */
export function checkInputText(what: string, text: string, max: number): string {
  // Length first: it is the cheap check, and an oversized paste needs no closer look.
  if (text.length > max) fail(`${what} is ${text.length} characters; the limit is ${max}`);
  const bad = REFUSED.exec(text);
  if (bad) {
    const position = Array.from(text.slice(0, bad.index)).length + 1;
    fail(`${what} contains ${codePoint(bad[0])} at character ${position}; control characters and invalid Unicode are not allowed, remove it and try again`);
  }
  return text;
}

/**
 * A word the person typed, quoted for an error message: on one line and short, so an error about
 * a pasted page still fits on one line.
 */
export function shown(raw: string): string {
  const flat = raw.replace(/\s+/g, ' ');
  if (flat.length <= 40) return `"${flat}"`;
  // Never cut between the two halves of a surrogate pair.
  const cut = /[\ud800-\udbff]/.test(flat[38]!) ? 38 : 39;
  return `"${flat.slice(0, cut)}…"`;
}

const own = <T extends object>(table: T, key: string): key is Extract<keyof T, string> => Object.hasOwn(table, key);

function checkText(what: string, text: string, max: number, verb: Verb, meter?: ParseMeter): string {
  if (meter) meter.steps += text.length;
  checkInputText(what, text, max);
  if (!text.trim()) fail(`${what} is missing; ${usageHint(verb)}`);
  return text;
}

function parseSeverity(raw: string, verb: Verb): Severity {
  const digits = raw.replace(/^sev/i, '');
  if (!/^[1-4]$/.test(digits)) fail(`${shown(raw)} is not a severity; use 1 (worst) to 4, e.g. sev:2 (${usageHint(verb)})`);
  return Number(digits) as Severity;
}

// Alias tables are plain objects: `own` keeps "constructor" or "__proto__" from reading as a status.
export function parseIncidentStatus(raw: string): IncidentStatus {
  const key = raw.toLowerCase();
  const s = own(INCIDENT_STATUS_ALIASES, key) ? INCIDENT_STATUS_ALIASES[key] : undefined;
  if (!s) fail(`${shown(raw)} is not an incident status; use investigating, identified, monitoring or resolved`);
  return s!;
}

export function parseMaintenanceStatus(raw: string): MaintenanceStatus {
  const key = raw.toLowerCase();
  const s = own(MAINTENANCE_STATUS_ALIASES, key) ? MAINTENANCE_STATUS_ALIASES[key] : undefined;
  if (!s) fail(`${shown(raw)} is not a maintenance status; use in_progress, verifying, completed or cancelled`);
  return s!;
}

function parseVisibility(raw: string): Visibility {
  const v = raw.toLowerCase();
  if (v !== 'private' && v !== 'public') fail(`${shown(raw)} is not a visibility; write visibility:private (incidents are public unless declared so)`);
  return v as Visibility;
}

export function parseComponentStatus(raw: string): ComponentStatus {
  const key = raw.toLowerCase();
  const s = own(COMPONENT_STATUS_ALIASES, key) ? COMPONENT_STATUS_ALIASES[key] : undefined;
  if (!s) {
    fail(`${shown(raw)} is not a component status; use operational, degraded, partial, major or maintenance (or their full names)`);
  }
  return s!;
}

const SLUG = /^[a-z0-9][a-z0-9-]{0,59}$/;

export function parseComponentChanges(raw: string, verb: Verb, meter?: ParseMeter): ComponentChange[] {
  if (meter) meter.steps += raw.length;
  const parts = raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (!parts.length) fail(`components needs slug=status pairs, e.g. components:web-app=major (${usageHint(verb)})`);
  const seen = new Set<string>();
  return parts.map((p) => {
    const m = /^([^=]+)=(.+)$/.exec(p);
    if (!m) fail(`${shown(p)} needs a status: write it as ${shown(p).slice(1, -1)}=major (or operational, degraded, partial, maintenance)`);
    const slug = m![1]!.trim().toLowerCase();
    if (!SLUG.test(slug)) fail(`${shown(m![1]!)} is not a component slug; see \`component list\``);
    if (seen.has(slug)) fail(`component ${slug} is listed twice`);
    seen.add(slug);
    return { slug, status: parseComponentStatus(m![2]!.trim()) };
  });
}

/** Longer than any Slack, Teams or CLI user id; a longer "user" is a paste gone wrong. */
const MAX_USER = 200;

export function parseUser(raw: string, platform: ParseContext['platform']): string {
  if (raw.length > MAX_USER || /\s/.test(raw)) return fail(`${shown(raw)} is not a user; write @name or a full ref like slack:U123`);
  const slackMention = /^<@([UW][A-Z0-9]+)(\|[^>]*)?>$/.exec(raw);
  if (slackMention) return `slack:${slackMention[1]}`;
  if (isUserRef(raw)) return raw;
  const at = /^@([A-Za-z0-9._-]{1,80})$/.exec(raw);
  if (at) return `${platform}:${at[1]}`;
  return fail(`${shown(raw)} is not a user; write @name or a full ref like slack:U123`);
}

function parseIncidentRef(raw: string): number | null {
  const m = /^#?INC-(\d{1,9})$/i.exec(raw);
  return m ? Number(m[1]) : null;
}

function parseRef(raw: string | undefined, prefix: 'D' | 'F', verb: Verb): number {
  const m = raw ? new RegExp(`^${prefix}-(\\d{1,9})$`, 'i').exec(raw) : null;
  if (!m) fail(`${verb} needs a ${prefix}-n id${raw ? ` (got ${shown(raw)})` : ''}; ${usageHint(verb)}`);
  return Number(m![1]);
}

interface Parsed {
  verb: Verb;
  words: Token[];
  options: Partial<Record<OptionKey, string>>;
  input: string;
  tokens: Token[];
  meter?: ParseMeter;
}

/** Adds the cost of a step that looks at `n` characters or tokens, when someone is counting. */
function cost(p: { meter?: ParseMeter }, n: number): void {
  if (p.meter) p.meter.steps += n;
}

function split(input: string, ctx: ParseContext): Parsed {
  const { meter } = ctx;
  // The whole line is checked once, before anything else looks at it: whatever part of it ends up
  // as a title, a body, a name or an option value, none can carry a control character or
  // invalid Unicode.
  if (meter) meter.steps += input.length;
  checkInputText('that command', input, MAX_LINE);
  const tokens = tokenize(input, meter);
  if (!tokens.length) fail('no command given; type `help` to see what Sitrep can do');
  let first = tokens[0]!;
  // Teams users write "@Sitrep incident declare …"; the CLI may get "incident declare …" too.
  if (/^\/?incident$/i.test(first.value) && tokens.length > 1) {
    tokens.shift();
    first = tokens[0]!;
  }
  if (meter) meter.steps += tokens.length + first.value.length;
  const word = first.value.toLowerCase();
  const verb = (VERBS as string[]).includes(word) ? (word as Verb) : null;
  if (!verb) {
    const guess = nearest(word, VERBS, meter);
    fail(`unknown command ${shown(first.value)}${guess ? `; did you mean \`${guess}\`?` : ''} (type \`help\` for the list)`);
  }
  const options: Partial<Record<OptionKey, string>> = {};
  const words: Token[] = [];
  for (let k = 1; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (meter) meter.steps += 1 + t.value.length;
    const m = /^([a-z]+):(.*)$/s.exec(t.value);
    // An option's key and colon are typed outside quotes; its value may be quoted
    // (started:"2021-12-07 07:32"), but a quoted "sev:1 is back" is text.
    const key = m && m[1]!.length < t.bare && (OPTION_KEYS as readonly string[]).includes(m[1]!) ? (m[1] as OptionKey) : null;
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
    // Every option is a single value (a time, a user, a status list): never more than one line.
    if (/[\r\n]/.test(value)) fail(`${key}: must be one line; ${usageHint(verb!)}`);
    options[key] = value;
  }
  return { verb: verb!, words, options, input, tokens, ...(meter ? { meter } : {}) };
}

function text(p: Parsed, from: number): string {
  cost(p, p.words.length);
  const keep = new Set(p.words.slice(from));
  return joinText(p.input, p.tokens, keep, p.meter);
}

/** The longest time anyone writes ("2021-12-07T07:32:00.000+05:30" is 29); longer is not a time. */
const MAX_TIME = 40;

/** Template names are slugs (`template add` makes them so); anything else names no template. */
function templateName(raw: string, verb: Verb): string {
  const name = raw.toLowerCase();
  if (!SLUG.test(name)) fail(`${shown(raw)} is not a template name (letters, digits, dashes; see \`template list\`); ${usageHint(verb)}`);
  return name;
}

function time(p: Parsed, key: 'at' | 'started' | 'since', ctx: ParseContext): number | undefined {
  const raw = p.options[key];
  if (raw === undefined) return undefined;
  cost(p, raw.length);
  if (raw.length > MAX_TIME) fail(`${key}:${shown(raw)} is not a time; write a time like 7:32am, 07:32, 2021-12-07T07:32 or 2021-12-07T15:32:00Z`);
  const ms = parseTime(raw, ctx.timezone, ctx.now);
  // A minute of slack: clocks on laptops and chat servers differ.
  if (ms > ctx.now + 60_000) fail(`${key}:${raw} is in the future; times must be now or earlier`);
  return ms;
}

/**
 * `starts:` / `ends:`: times still to come. A bare clock time is its next occurrence at or after
 * `from` (now for starts:, the start for ends:, so `starts:23:00 ends:01:00` spans midnight).
 */
function windowTime(p: Parsed, key: 'starts' | 'ends', ctx: ParseContext, from: number): number | undefined {
  const raw = p.options[key];
  if (raw === undefined) return undefined;
  cost(p, raw.length);
  if (raw.length > MAX_TIME) fail(`${key}:${shown(raw)} is not a time; write a time like 22:00, 2021-12-07T22:00 or 2021-12-08T06:00:00Z`);
  return parseTime(raw, ctx.timezone, from, 'future');
}

function leadingIncident(p: Parsed): { incident?: number; rest: number } {
  const first = p.words[0];
  const n = first ? parseIncidentRef(first.value) : null;
  return n === null ? { rest: 0 } : { incident: n, rest: 1 };
}

function noExtraWords(p: Parsed, from: number): void {
  const extra = p.words.slice(from);
  cost(p, extra.length);
  if (extra.length) fail(`unexpected ${shown(extra.map((w) => w.value).join(' '))}; ${usageHint(p.verb)}`);
}

/** The options each form of `maintenance` takes. */
const MAINTENANCE_OPTIONS: Readonly<Record<MaintenanceForm, readonly OptionKey[]>> = {
  schedule: ['starts', 'ends', 'components', 'at'],
  list: [],
  update: ['status', 'at'],
  start: ['at'],
  complete: ['at'],
  cancel: ['at'],
};

function maintenanceId(p: Parsed, form: MaintenanceForm): number {
  const raw = p.words[1]?.value;
  const n = raw === undefined ? null : parseMaintenanceRef(raw);
  if (n === null) fail(`maintenance ${form} needs an M-n id${raw ? ` (got ${shown(raw)})` : ''}; ${maintenanceHint(form)}`);
  return n!;
}

function noExtraMaintenanceWords(p: Parsed, from: number, form: MaintenanceForm): void {
  const extra = p.words.slice(from);
  cost(p, extra.length);
  if (extra.length) fail(`unexpected ${shown(extra.map((w) => w.value).join(' '))}; ${maintenanceHint(form)}`);
}

/** `components:api,web-app`: slugs only, since a maintenance puts each under_maintenance while it runs. */
function maintenanceComponents(raw: string, meter?: ParseMeter): string[] {
  if (meter) meter.steps += raw.length;
  const parts = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!parts.length) fail(`components: needs component slugs, e.g. components:api,web-app (${maintenanceHint('schedule')})`);
  const seen = new Set<string>();
  return parts.map((part) => {
    const eq = part.indexOf('=');
    if (eq >= 0) {
      fail(`${shown(part)}: a maintenance's components take no status (they are under maintenance while it runs); write components:${part.slice(0, eq)}`);
    }
    const slug = part.toLowerCase();
    if (!SLUG.test(slug)) fail(`${shown(part)} is not a component slug; see \`component list\``);
    if (seen.has(slug)) fail(`component ${slug} is listed twice`);
    seen.add(slug);
    return slug;
  });
}

/**
 * Splits `maintenance schedule`'s words into the title and the customer-facing text: a title in
 * quotes is the first word; otherwise the title is what comes before the first option and the text
 * what comes after it.
 */
function scheduleTitleAndText(p: Parsed): { title: string; text: string } {
  const hint = maintenanceHint('schedule');
  const rest = p.words.slice(1);
  cost(p, p.tokens.length);
  const first = rest[0];
  if (!first) return fail(`the title is missing; ${hint}`);
  let titleWords = [first];
  let textWords = rest.slice(1);
  if (!(first.quoted && first.bare === 0)) {
    const words = new Set(p.words);
    // tokens[0] is the verb; every other token that is not a word is an option.
    const firstOption = p.tokens.find((t, k) => k > 0 && !words.has(t));
    titleWords = firstOption ? rest.filter((w) => w.start < firstOption.start) : rest;
    textWords = firstOption ? rest.filter((w) => w.start > firstOption.start) : [];
  }
  if (!titleWords.length) fail(`the title is missing: write it before starts:, or in quotes; ${hint}`);
  const title = checkText('the title', joinText(p.input, p.tokens, new Set(titleWords), p.meter), MAX_TITLE, p.verb, p.meter);
  if (/\n/.test(title)) fail('the title must be one line');
  const text = joinText(p.input, p.tokens, new Set(textWords), p.meter);
  if (!text) fail(`the customer-facing text is missing: write it after the options, with the title in quotes or before starts:; ${hint}`);
  return { title, text: checkText('the customer-facing text', text, MAX_CUSTOMER_TEXT, p.verb, p.meter) };
}

function parseMaintenance(p: Parsed, ctx: ParseContext, at: number | undefined): Extract<Command, { verb: 'maintenance' }> {
  const verb = 'maintenance';
  const raw = p.words[0]?.value;
  const key = raw?.toLowerCase() ?? '';
  if (!own(MAINTENANCE_OPTIONS, key)) {
    return fail(`maintenance needs schedule, list, update, start, complete or cancel${raw ? ` (got ${shown(raw)})` : ''}; ${usageHint(verb)}`);
  }
  const form: MaintenanceForm = key;
  const allowed = MAINTENANCE_OPTIONS[form];
  for (const k of OPTION_KEYS) {
    if (p.options[k] === undefined || allowed.includes(k)) continue;
    fail(`maintenance ${form} does not take ${k}:${allowed.length ? ` (it takes ${allowed.map((a) => a + ':').join(' ')})` : ''}; ${maintenanceHint(form)}`);
  }
  const withAt = <T extends object>(c: T): T => (at === undefined ? c : { ...c, at });
  switch (form) {
    case 'list':
      noExtraMaintenanceWords(p, 1, form);
      return { verb, action: form };
    case 'start':
    case 'complete':
    case 'cancel': {
      const maintenance = maintenanceId(p, form);
      noExtraMaintenanceWords(p, 2, form);
      return withAt({ verb, action: form, maintenance });
    }
    case 'update': {
      const maintenance = maintenanceId(p, form);
      const body = text(p, 2);
      if (!body) fail(`the customer-facing text is missing; ${maintenanceHint(form)}`);
      const c: Extract<Command, { verb: 'maintenance'; action: 'update' }> = {
        verb,
        action: form,
        maintenance,
        text: checkText('the customer-facing text', body, MAX_CUSTOMER_TEXT, verb, p.meter),
      };
      if (p.options.status) c.status = parseMaintenanceStatus(p.options.status);
      return withAt(c);
    }
    case 'schedule': {
      const startsAt = windowTime(p, 'starts', ctx, ctx.now);
      const endsAt = windowTime(p, 'ends', ctx, startsAt ?? ctx.now);
      const window = checkSchedule({ startsAt, endsAt, now: ctx.now });
      const { title, text: body } = scheduleTitleAndText(p);
      const components = p.options.components ? maintenanceComponents(p.options.components, p.meter) : [];
      return withAt({ verb, action: form, title, ...window, components, text: body });
    }
  }
}

/** Text → Command. Throws SitrepError('INVALID') with a one-line explanation. */
export function parseCommand(input: string, ctx: ParseContext): Command {
  const p = split(input, ctx);
  const { verb } = p;
  const at = RECORDING_VERBS.has(verb) ? time(p, 'at', ctx) : undefined;
  const withAt = <T extends object>(c: T): T => (at === undefined ? c : { ...c, at });
  switch (verb) {
    case 'declare': {
      const title = checkText('the title', text(p, 0), MAX_TITLE, verb, p.meter);
      if (/\n/.test(title)) fail('the title must be one line');
      if (parseIncidentRef(p.words[0]!.value) !== null) fail('declare opens a new incident; give it a title, not an INC-n id');
      const startedAt = time(p, 'started', ctx);
      if (startedAt !== undefined && at !== undefined && startedAt > at) {
        fail('started: is after at:; the impact cannot begin after the incident was declared');
      }
      const c: Command = { verb, title };
      if (p.options.sev) c.severity = parseSeverity(p.options.sev, verb);
      if (p.options.components) c.components = parseComponentChanges(p.options.components, verb, p.meter);
      if (p.options.lead) c.lead = parseUser(p.options.lead, ctx.platform);
      if (p.options.visibility) c.visibility = parseVisibility(p.options.visibility);
      if (startedAt !== undefined) c.startedAt = startedAt;
      return withAt(c);
    }
    case 'update':
    case 'draft': {
      const { incident, rest } = leadingIncident(p);
      const body = text(p, rest);
      const c: Extract<Command, { verb: 'update' | 'draft' }> =
        verb === 'draft' ? { verb, text: body, ...(p.options.template ? { template: templateName(p.options.template, verb) } : {}) } : { verb, text: body };
      if (verb === 'draft' && c.verb === 'draft' && c.template && !body) c.text = '';
      else checkText(verb === 'draft' ? 'the customer-facing text' : 'the update text', body, verb === 'draft' ? MAX_CUSTOMER_TEXT : MAX_TEXT, verb, p.meter);
      if (incident !== undefined) c.incident = incident;
      if (p.options.status) c.status = parseIncidentStatus(p.options.status);
      if (p.options.components) c.components = parseComponentChanges(p.options.components, verb, p.meter);
      return withAt(c);
    }
    case 'approve': {
      const draft = parseRef(p.words[0]?.value, 'D', verb);
      const replacement = text(p, 1);
      const c: Command = { verb, draft };
      if (replacement) c.text = checkText('the replacement text', replacement, MAX_CUSTOMER_TEXT, verb, p.meter);
      return withAt(c);
    }
    case 'reject': {
      const draft = parseRef(p.words[0]?.value, 'D', verb);
      const reason = text(p, 1);
      if (!reason) fail(`say why: ${usageHint(verb)}`);
      return withAt({ verb, draft, reason: checkText('the reason', reason, MAX_TEXT, verb, p.meter) });
    }
    case 'resolve': {
      const { incident, rest } = leadingIncident(p);
      const body = text(p, rest);
      const c: Command = { verb };
      if (incident !== undefined) c.incident = incident;
      if (body) c.text = checkText('the customer-facing text', body, MAX_CUSTOMER_TEXT, verb, p.meter);
      return withAt(c);
    }
    case 'reopen': {
      const { incident, rest } = leadingIncident(p);
      noExtraWords(p, rest);
      return withAt(incident !== undefined ? { verb, incident } : { verb });
    }
    case 'note': {
      const { incident, rest } = leadingIncident(p);
      const body = checkText('the note', text(p, rest), MAX_TEXT, verb, p.meter);
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
      if (!(ROLES as readonly string[]).includes(roleRaw!)) fail(`${shown(roleRaw!)} is not a role; use lead, commander, comms or scribe`);
      noExtraWords(p, rest + 2);
      const c: Command = { verb, role: roleRaw as Role, user: parseUser(userRaw!, ctx.platform) };
      if (incident !== undefined) c.incident = incident;
      return withAt(c);
    }
    case 'components': {
      const { incident, rest } = leadingIncident(p);
      const raw = p.words
        .slice(rest)
        .map((w) => w.value)
        .join(',');
      if (!raw) fail(`give slug=status pairs; ${usageHint(verb)}`);
      const c: Command = { verb, changes: parseComponentChanges(raw, verb, p.meter) };
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
        const name = checkText('the component name', text(p, 1), 100, verb, p.meter);
        if (/\n/.test(name)) fail('the component name must be one line');
        const c: Command = { verb, action, name };
        if (p.options.group) c.group = checkText('the group name', p.options.group, 100, verb, p.meter);
        return c;
      }
      if (action === 'map') {
        const slug = p.words[1]?.value.toLowerCase();
        const id = p.words[2]?.value;
        if (!slug || !id) fail(`component map needs a slug and a Statuspage component id; ${usageHint(verb)}`);
        if (!SLUG.test(slug!)) fail(`${shown(p.words[1]!.value)} is not a component slug; see \`component list\``);
        if (!/^[A-Za-z0-9]{1,64}$/.test(id!)) fail(`${shown(id!)} is not a Statuspage component id (letters and digits)`);
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
      checkInputText('the target', target!, MAX_TARGET);
      if (verb === 'unsubscribe') return { verb, target: target! };
      const comps = p.options.components
        ? p.options.components
            .split(',')
            .map((s) => s.trim().toLowerCase())
            .filter(Boolean)
        : [];
      for (const s of comps) if (!SLUG.test(s)) fail(`${shown(s)} is not a component slug; see \`component list\``);
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
      const which = p.words[0]?.value.toLowerCase();
      if (which !== 'incidents' && which !== 'private-incidents') fail(`${usageHint(verb)}`);
      noExtraWords(p, 1);
      return { verb, action: which === 'private-incidents' ? 'private-incidents' : 'incidents' };
    }
    case 'list': {
      const f = (p.words[0]?.value ?? 'open').toLowerCase();
      if (f !== 'open' && f !== 'resolved' && f !== 'all') fail(`list takes open, resolved or all (got ${shown(p.words[0]!.value)})`);
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
      if (body) c.text = checkText('the postmortem text', body, MAX_CUSTOMER_TEXT, verb, p.meter);
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
        const body = checkText('the follow-up', text(sub, rest), 2000, verb, p.meter);
        const c: Command = { verb, action, text: body };
        if (incident !== undefined) c.incident = incident;
        if (p.options.owner) c.owner = parseUser(p.options.owner, ctx.platform);
        return withAt(c);
      }
      if (action === 'edit') {
        const id = parseRef(p.words[1]?.value, 'F', verb);
        const sub = { ...p, words: p.words.slice(2) };
        const body = text(sub, 0);
        const c: Command = { verb, action, id };
        if (body) c.text = checkText('the follow-up', body, 2000, verb, p.meter);
        if (p.options.owner) c.owner = parseUser(p.options.owner, ctx.platform);
        if (c.text === undefined && c.owner === undefined) fail(`followup edit F-${id} needs the new text or owner:@user; ${usageHint(verb)}`);
        return withAt(c);
      }
      if (action === 'list') {
        const sub = { ...p, words: p.words.slice(1) };
        const { incident, rest } = leadingIncident(sub);
        noExtraWords(sub, rest);
        if (p.options.at !== undefined || p.options.owner !== undefined) fail(`followup list takes no options; ${usageHint(verb)}`);
        return incident !== undefined ? { verb, action, incident } : { verb, action };
      }
      return fail(`followup needs add, done, edit or list; ${usageHint(verb)}`);
    }
    case 'maintenance':
      return parseMaintenance(p, ctx, at);
    case 'page': {
      const { incident, rest } = leadingIncident(p);
      const body = text(p, rest);
      const c: Command = { verb };
      if (incident !== undefined) c.incident = incident;
      if (body) c.text = checkText('the page text', body, 1000, verb, p.meter);
      return withAt(c);
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
        if (!SLUG.test(name!)) fail(`${shown(p.words[1]!.value)} is not a template name (letters, digits, dashes; see \`template list\`)`);
        noExtraWords(p, 2);
        return { verb, action, name: name! };
      }
      if (action === 'add') {
        if (!name || !SLUG.test(name)) fail(`template add needs a name (letters, digits, dashes); ${usageHint(verb)}`);
        const body = checkText('the template text', text(p, 2), MAX_CUSTOMER_TEXT, verb, p.meter);
        const c: Command = { verb, action, name: name!, text: body };
        if (p.options.status) c.status = parseIncidentStatus(p.options.status);
        return c;
      }
      return fail(`template needs add, list or remove; ${usageHint(verb)}`);
    }
    case 'help': {
      const topic = p.words[0]?.value.toLowerCase();
      if (topic && !own(USAGE, topic)) {
        const guess = nearest(topic, VERBS, p.meter);
        fail(`no command ${shown(topic)}${guess ? `; did you mean \`help ${guess}\`?` : ''}`);
      }
      return topic ? { verb, topic } : { verb };
    }
  }
}
