import fc from 'fast-check';
import { OPTION_KEYS } from '../../src/commands/grammar.js';
import { VERBS } from '../../src/commands/help.js';

// Hostile input for the property tests: what a careless paste, a curious user or an attacker in
// the workspace could type. Pieces are mixed with ordinary words so that many commands get past
// the grammar and reach the verbs and renderers.

/** Every quote the tokenizer knows, as openers and closers, and the stray apostrophe. */
export const QUOTES = ['"', '“', '”', '„', "'", '«', '»'];

/** Markup of every surface Sitrep renders to, and the template syntaxes people know. */
export const INJECTIONS = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '" onmouseover="alert(1)',
  "' onfocus='x",
  '</div></li>',
  '<!channel>',
  '<!here>',
  '<!everyone>',
  '<!subteam^S123>',
  '<@U0ABC123>',
  '<#C0ABC|general>',
  '<https://evil.example|click me>',
  '*bold*',
  '_italic_',
  '~strike~',
  '`code`',
  '```block```',
  '> quoted',
  '# heading',
  '- item',
  '1. item',
  '[click](https://evil.example)',
  '<at>everyone</at>',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a hostile input that looks like a template
  '${process.env.HOME}',
  '{{title}}',
  '{{components}}',
  '{{org}}',
  '{{DATE(2017-02-14T06:08:39Z, SHORT)}}',
  '{{TIME(2017-02-14T06:08:39Z)}}',
  '12. item',
  '&amp;',
  '&lt;b&gt;',
  '&#x3C;',
  '\\*',
  'javascript:alert(1)',
];

/** Characters Sitrep refuses, and their harmless neighbours. */
export const ODD_CHARACTERS = [
  '\u0000',
  '\u0007',
  '\u001b[31m',
  '\u007f',
  '\u0085',
  '\u009b',
  '\u2028',
  '\u2029',
  '\uFFFE',
  '\uFFFF',
  '\uFDD0',
  '\uFDEF',
  '\u{1FFFE}',
  '\u{10FFFF}',
  '\uD800',
  '\uDBFF',
  '\uDC00',
  '\uDFFF',
  '\uFFFD',
  '\uFDCF',
  '\uFDF0',
  '\u00a0',
  '\u200b',
  '\u202e',
  '\uFEFF',
  '😀',
  '👩‍👩‍👧',
  'é',
  '失敗',
  'ß',
];

/** Words the grammar gives meaning to, including ones that name every object's properties. */
export const GRAMMAR_WORDS = [
  'INC-1',
  'INC-2',
  'INC-999999999',
  'D-1',
  'D-2',
  'F-1',
  '#INC-1',
  '@bob',
  '@alice',
  'slack:U0ABC',
  'teams:29:1x',
  'cli:root',
  'lead',
  'comms',
  'web-app',
  'web-app=major',
  'web-app=ok,api=partial',
  'major',
  'ok',
  'identified',
  'monitoring',
  'add',
  'list',
  'remove',
  'done',
  'publish',
  'retry',
  'map',
  'incidents',
  'open',
  'all',
  '7:32am',
  '07:32',
  '2021-12-07T07:32',
  '2099-01-01T00:00',
  'https://example.com/hook',
  'webhook:https://example.com/h',
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  'web-app=__proto__',
  'api=constructor',
  'web-app=toString',
  'sev',
  ':',
  '::',
  'a:b',
  'Cause:',
  'x'.repeat(70),
];

const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((n) => String.fromCharCode(n));

const optionValue = fc.oneof(
  fc.constantFrom(...GRAMMAR_WORDS, ...INJECTIONS, ...QUOTES, '1', '2', '9', '', '"7:32 am"'),
  fc.string({ unit: 'grapheme-ascii', maxLength: 6 }),
);

export const piece = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...GRAMMAR_WORDS) },
  { weight: 4, arbitrary: fc.constantFrom(...INJECTIONS) },
  { weight: 3, arbitrary: fc.constantFrom(...QUOTES) },
  { weight: 2, arbitrary: fc.constantFrom(...ODD_CHARACTERS) },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
  { weight: 1, arbitrary: fc.string({ unit: codeUnit, maxLength: 4 }) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...OPTION_KEYS), optionValue).map(([k, v]) => `${k}:${v}`) },
);

const separator = fc.constantFrom(' ', ' ', ' ', ' ', '', '\n', '  ', '\t', '\r\n', '\n\n');

/** Free text made of hostile pieces. */
export const hostileText = (maxPieces = 12) =>
  fc.array(fc.tuple(piece, separator), { maxLength: maxPieces }).map((parts) => parts.map(([p, s]) => p + s).join(''));

const printablePiece = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...INJECTIONS) },
  { weight: 2, arbitrary: fc.constantFrom(...QUOTES) },
  { weight: 2, arbitrary: fc.constantFrom(...GRAMMAR_WORDS) },
  { weight: 1, arbitrary: fc.constantFrom(...ODD_CHARACTERS.filter((c) => refusedAt(c) < 0)) },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }) },
);

/**
 * Hostile text the grammar should accept as free text: markup, quotes and any printable Unicode,
 * but no refused characters and no option tokens.
 */
export const printableText = (maxPieces: number, opts: { oneLine?: boolean } = {}) =>
  fc
    .array(fc.tuple(printablePiece, opts.oneLine ? fc.constantFrom(' ', ' ', '') : separator), { minLength: 1, maxLength: maxPieces })
    .map((parts) => parts.map(([p, s]) => p + s).join(''));

/** How commands start: every verb, and the sub-commands that take text. */
export const PREFIXES = [
  ...VERBS,
  'incident declare',
  '/incident note',
  'component add',
  'component map web-app',
  'followup add',
  'followup done',
  'template add calm',
  'template remove',
  'approve D-1',
  'reject D-1',
  'postmortem publish',
  'approver add',
  'approver remove',
  'deliveries retry',
  'list',
  'subscribe',
  'unsubscribe',
];

export const commandText = fc.tuple(fc.constantFrom(...PREFIXES), separator, hostileText()).map(([prefix, sep, text]) => prefix + (sep || ' ') + text);

/** A piece repeated up to the command-line limit: the shapes that used to cost quadratic time. */
export const hugeText = (limit: number) =>
  fc
    .tuple(
      fc.constantFrom(...PREFIXES),
      fc.constantFrom(...QUOTES, ...INJECTIONS, ...GRAMMAR_WORDS, ' ', ':', '\n', '„x ', '“ ', 'a ', 'sev:1 '),
      fc.integer({ min: 100, max: limit }),
    )
    .map(([prefix, unit, length]) => {
      const head = prefix + ' ';
      return head + unit.repeat(Math.ceil((length - head.length) / unit.length)).slice(0, Math.max(0, length - head.length));
    });

/**
 * Every prefix with every grammar word, alone or as the value of every option: the combinations
 * random generation reaches too rarely (`components web-app=__proto__`, `update status:constructor`).
 */
export function grammarCombinations(): string[] {
  const out: string[] = [];
  for (const prefix of PREFIXES) {
    for (const word of GRAMMAR_WORDS) {
      out.push(`${prefix} ${word}`, `${prefix} INC-1 ${word} text`);
      for (const key of OPTION_KEYS) out.push(`${prefix} ${key}:${word} text`);
    }
  }
  return out;
}

/**
 * Where `s` has a character Sitrep refuses (control characters other than tab and line breaks,
 * C1 controls, U+2028/U+2029, noncharacters, lone surrogates), or -1. Written out by code point
 * so that it checks the grammar's pattern rather than repeating it.
 */
export function refusedAt(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const unit = s.charCodeAt(i);
    let cp = unit;
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return i;
      cp = 0x10000 + ((unit - 0xd800) << 10) + (next - 0xdc00);
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return i;
    }
    const control = (cp <= 0x1f && cp !== 0x09 && cp !== 0x0a && cp !== 0x0d) || (cp >= 0x7f && cp <= 0x9f);
    const separator = cp === 0x2028 || cp === 0x2029;
    const nonCharacter = (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe;
    if (control || separator || nonCharacter) return i;
    if (cp > 0xffff) i++;
  }
  return -1;
}

/** Every string inside a value (a parsed command, a card), with the path it was found at. */
export function stringsIn(value: unknown, path = '$'): Array<[string, string]> {
  if (typeof value === 'string') return [[path, value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringsIn(v, `${path}[${i}]`));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => stringsIn(v, `${path}.${k}`));
  return [];
}

/** Whether a parsed command is plain data: strings, finite numbers, arrays and plain objects. */
export function isPlainData(value: unknown): boolean {
  if (typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isPlainData);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) return Object.values(value).every(isPlainData);
  return false;
}

/** Signs that a message was built from something that is not text (a function, an object, a missing value). */
export const GARBAGE = /\[native code\]|\[object |\bundefined\b|\bNaN\b/;

/** fast-check settings: modest run counts so the suite stays fast; a failure prints its seed. */
export const runs = (numRuns: number) => ({ numRuns, ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}) });
