import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_LINE, parseCommand, type ParseMeter } from '../../src/commands/grammar.js';
import { tokenize, type Token } from '../../src/commands/tokenize.js';
import { isSitrepError } from '../../src/domain/errors.js';
import { commandText, GARBAGE, grammarCombinations, hugeText, INJECTIONS, isPlainData, ODD_CHARACTERS, QUOTES, refusedAt, runs, stringsIn } from './hostile.js';

// The grammar against hostile text: it refuses with one short line or returns a command whose
// every string is clean text, and its work grows linearly with the input whatever the input is.

const ctx = { timezone: 'America/Los_Angeles', now: Date.parse('2021-12-07T22:30:00Z'), platform: 'slack' as const };

/** Parses `input`; returns the command, or the error it was refused with. */
function attempt(input: string, meter?: ParseMeter): { ok: true; command: unknown } | { ok: false; error: unknown } {
  try {
    return { ok: true, command: parseCommand(input, meter ? { ...ctx, meter } : ctx) };
  } catch (error) {
    return { ok: false, error };
  }
}

/** What is wrong with a refusal, or null when it is one clear INVALID line. */
function refusalProblem(error: unknown): string | null {
  if (!isSitrepError(error)) return `threw ${String(error)}`;
  const { code, message } = error;
  if (code !== 'INVALID') return `code ${code}`;
  if (/[\r\n]/.test(message)) return `message on several lines: ${JSON.stringify(message)}`;
  if (message.length < 10) return `message too short: ${message}`;
  // Long enough for the usage hint it carries, never an echo of a pasted page.
  if (message.length > 400) return `message of ${message.length} characters`;
  if (refusedAt(message) >= 0) return `message holds a refused character: ${JSON.stringify(message)}`;
  if (GARBAGE.test(message)) return `message built from a non-string: ${message}`;
  return null;
}

// Checked without expect() per case (it is slow across tens of thousands of cases), then asserted.
function expectOneClearLine(error: unknown, input = ''): void {
  const problem = refusalProblem(error);
  if (problem) expect.fail(`${JSON.stringify(input.slice(0, 200))}: ${problem}`);
}

describe('parseCommand on hostile text', () => {
  it('either refuses with one clear INVALID line or returns a command holding only clean text', async () => {
    const anyString = fc.oneof(commandText, fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ maxLength: 60 }));
    fc.assert(
      fc.property(anyString, (input) => {
        const r = attempt(input);
        if (!r.ok) return expectOneClearLine(r.error, input);
        expect(isPlainData(r.command), JSON.stringify(r.command)).toBe(true);
        for (const [path, s] of stringsIn(r.command)) {
          expect(refusedAt(s), `${path} = ${JSON.stringify(s)}`).toBe(-1);
          expect(s.length).toBeLessThanOrEqual(25_000);
        }
      }),
      runs(1500),
    );
  });

  it('does the same for every verb with every grammar word, alone and as every option value', async () => {
    for (const input of grammarCombinations()) {
      const r = attempt(input);
      if (!r.ok) {
        expectOneClearLine(r.error, input);
        continue;
      }
      if (!isPlainData(r.command)) expect.fail(`${input} → ${JSON.stringify(r.command)} is not plain data`);
    }
  });

  it('refuses any refused character anywhere in an otherwise valid command', async () => {
    const refused = ODD_CHARACTERS.filter((c) => refusedAt(c) >= 0);
    expect(refused.length).toBeGreaterThan(10);
    const valid = [
      'declare DB down sev:2',
      'note INC-1 we are on it',
      'draft status:identified Found it',
      'component add Web App group:Core',
      'approve D-1 New words',
      'reject D-1 too vague',
      'followup add Alert owner:@bob',
      'template add calm We know.',
      'subscribe slack:C0123',
    ];
    fc.assert(
      fc.property(fc.constantFrom(...valid), fc.constantFrom(...refused), fc.nat(), (command, bad, at) => {
        expect(attempt(command).ok).toBe(true);
        const i = 1 + (at % (command.length - 1));
        const r = attempt(command.slice(0, i) + bad + command.slice(i));
        expect(r.ok).toBe(false);
        if (!r.ok) {
          expectOneClearLine(r.error);
          expect((r.error as Error).message).toMatch(/control characters and invalid Unicode are not allowed/);
        }
      }),
      runs(400),
    );
  });

  it('refuses or accepts huge inputs up to the line limit with the same one-line errors', async () => {
    fc.assert(
      fc.property(hugeText(MAX_LINE + 50), (input) => {
        const r = attempt(input);
        if (!r.ok) expectOneClearLine(r.error);
      }),
      runs(60),
    );
  });
});

/**
 * The tokenizer as the language defines it, written the obvious way (each opener looks ahead for
 * its closer): quadratic, so only for short inputs, but plainly right.
 */
function referenceTokenize(input: string): Token[] {
  const closers: Record<string, string[]> = { '"': ['"'], '“': ['”', '"'], '„': ['“', '”', '"'] };
  const out: Token[] = [];
  let i = 0;
  while (i < input.length) {
    while (i < input.length && /\s/.test(input[i]!)) i++;
    if (i >= input.length) break;
    const start = i;
    let value = '';
    let bare = -1;
    while (i < input.length && !/\s/.test(input[i]!)) {
      const close = closers[input[i]!];
      const j = close ? indexOfAny(input, close, i + 1) : -1;
      if (close && j >= 0) {
        if (bare < 0) bare = value.length;
        value += input.slice(i + 1, j);
        i = j + 1;
        continue;
      }
      value += input[i]!;
      i++;
    }
    out.push({ value, start, end: i, quoted: bare >= 0, bare: bare >= 0 ? bare : value.length });
  }
  return out;
}

function indexOfAny(s: string, chars: string[], from: number): number {
  for (let j = from; j < s.length; j++) if (chars.includes(s[j]!)) return j;
  return -1;
}

describe('the tokenizer', () => {
  it('splits exactly as the language defines, for any mix of quotes, spaces and words', async () => {
    const alphabet = fc.constantFrom(...QUOTES, ' ', '\n', '\u00a0', 'a', 'b', ':', 'sev:', '😀', '\uD800');
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 40 }).map((a) => a.join('')),
        (input) => {
          expect(tokenize(input)).toEqual(referenceTokenize(input));
        },
      ),
      runs(3000),
    );
  });
});

// Parse work, counted in steps (each character or token looked at), against input length. The
// bound is generous for ordinary text (about 6 steps a character) and far below what quadratic
// work costs on the families below (29,900 unclosed „ took 447 million steps, 8 s of CPU).
const STEPS_PER_CHARACTER = 16;
// Work that does not grow with the input: a "did you mean" compares one short word against every
// verb, a table no bigger than the longest verb squared, times the number of verbs.
const FIXED_STEPS = 10_000;

function stepsFor(input: string): number {
  const meter = { steps: 0 };
  attempt(input, meter);
  return meter.steps;
}

/** Shapes that make a careless parser quadratic, each built to `length` characters. */
const FAMILIES: Record<string, (length: number) => string> = {
  'unclosed „': (n) => 'note ' + '„'.repeat(n - 5),
  'unclosed “': (n) => 'note ' + '“'.repeat(n - 5),
  'unclosed „ in a title': (n) => 'declare ' + '„'.repeat(n - 8),
  '„ and spaces': (n) => 'note ' + '„ '.repeat((n - 5) / 2),
  '“ closed by ” at the very end': (n) => 'note ' + '“'.repeat(n - 6) + '”',
  'alternating openers': (n) => 'note ' + '„“'.repeat((n - 5) / 2),
  'straight quote pairs': (n) => 'note ' + '""'.repeat((n - 5) / 2),
  'an unclosed straight quote then words': (n) => 'note "' + 'a '.repeat((n - 6) / 2),
  whitespace: (n) => 'note x' + ' '.repeat(n - 7) + 'y',
  'line breaks': (n) => 'update x' + '\n'.repeat(n - 9) + 'y',
  colons: (n) => 'note ' + ':'.repeat(n - 5),
  'key:value words': (n) => 'note ' + 'a:b '.repeat((n - 5) / 4),
  'option-like words': (n) => 'note ' + 'sevx:1 '.repeat((n - 5) / 7),
  'many words': (n) => 'note ' + 'a '.repeat((n - 5) / 2),
  'many words around an option': (n) => 'update ' + 'a '.repeat((n - 30) / 2) + ' status:monitoring ' + 'b',
  'one huge unknown verb': (n) => 'x'.repeat(n),
  'one huge help topic': (n) => 'help ' + 'y'.repeat(n - 5),
  'component pairs': (n) => 'components ' + 'a=b,'.repeat((n - 11) / 4),
  injection: (n) =>
    'note ' +
    INJECTIONS.join(' ')
      .repeat(n)
      .slice(0, n - 5),
};

describe('parse work', () => {
  it.each(Object.keys(FAMILIES))('is linear in input length for %s', (name) => {
    const build = FAMILIES[name]!;
    const full = MAX_LINE - 10;
    const half = full / 2;
    const big = stepsFor(build(full));
    expect(big).toBeLessThanOrEqual(STEPS_PER_CHARACTER * full + FIXED_STEPS);
    // Twice the input, at most about twice the work: a quadratic parser would take four times.
    expect(big).toBeLessThanOrEqual(2.2 * stepsFor(build(half)) + FIXED_STEPS);
  });

  it('is linear for 30,000 unclosed „ and “ handed to the tokenizer directly', async () => {
    for (const quote of ['„', '“']) {
      const meter = { steps: 0 };
      const tokens = tokenize(quote.repeat(30_000), meter);
      expect(tokens).toHaveLength(1);
      expect(meter.steps).toBeLessThanOrEqual(3 * 30_000);
    }
  });

  it('is linear for random hostile text of any length up to the limit', async () => {
    fc.assert(
      fc.property(fc.oneof(hugeText(MAX_LINE), commandText), (input) => {
        expect(stepsFor(input)).toBeLessThanOrEqual(STEPS_PER_CHARACTER * input.length + FIXED_STEPS);
      }),
      runs(80),
    );
  });

  it('counts nothing, and shares nothing, when no meter is given', async () => {
    const a = { steps: 0 };
    const b = { steps: 0 };
    attempt('note hello world', a);
    attempt('note hello world');
    attempt('note hello world', b);
    expect(a.steps).toBeGreaterThan(0);
    expect(b.steps).toBe(a.steps);
  });
});
