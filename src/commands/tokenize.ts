// Splits a command line into words, keeping where each came from so that free text can be rebuilt
// with its original line breaks. Only double quotes (straight or curly) group words: apostrophes
// are far more common in incident text ("we're") than single-quoted titles.
//
// Everything here runs inside Slack's 3-second ack, on text anyone in the workspace can type, so
// every function does work proportional to its input: no character is scanned more than a fixed
// number of times, whatever mix of quotes, spaces and colons it is given.

export interface Token {
  value: string;
  start: number;
  end: number;
  quoted: boolean;
  /** How many leading characters of `value` were typed outside quotes (all of them if unquoted). */
  bare: number;
}

/**
 * Counts the character and token steps that parsing takes. Tests pass one in to prove the work
 * grows linearly with the input; ordinary callers pass nothing and pay nothing for it. Callers own
 * the object, so no count is shared between calls.
 */
export interface ParseMeter {
  steps: number;
}

const SPACE = /\s/;

// An opener is closed by the first of its closers that follows it. „ is the German/Polish opener,
// closed by “ (German), ” (Polish) or a straight quote typed on a keyboard without curly quotes.
const STRAIGHT = '"';
const LEFT = '“';
const RIGHT = '”';
const LOW = '„';

/** Where each closing quote last occurs; computed once, only when the input has an opener. */
interface LastClosers {
  straight: number;
  left: number;
  right: number;
}

function lastClosers(input: string, count: (n: number) => void): LastClosers {
  const last: LastClosers = { straight: -1, left: -1, right: -1 };
  let i = input.length - 1;
  for (; i >= 0 && (last.straight < 0 || last.left < 0 || last.right < 0); i--) {
    const ch = input[i];
    if (ch === STRAIGHT && last.straight < 0) last.straight = i;
    else if (ch === LEFT && last.left < 0) last.left = i;
    else if (ch === RIGHT && last.right < 0) last.right = i;
  }
  count(input.length - 1 - i);
  return last;
}

/** The furthest position any closer of `opener` occurs at: an opener at or after it is unclosed. */
function closerBound(opener: string, last: LastClosers): number {
  if (opener === STRAIGHT) return last.straight;
  if (opener === LEFT) return Math.max(last.straight, last.right);
  return Math.max(last.straight, last.right, last.left);
}

function closes(opener: string, ch: string): boolean {
  if (ch === STRAIGHT) return true;
  if (opener === STRAIGHT) return false;
  return ch === RIGHT || (opener === LOW && ch === LEFT);
}

export function tokenize(input: string, meter?: ParseMeter): Token[] {
  // Steps are summed in a local and handed over once: the loop never touches the meter.
  let steps = 0;
  const count = (n: number) => {
    steps += n;
  };
  const tokens: Token[] = [];
  let last: LastClosers | null = null;
  let i = 0;
  const n = input.length;
  while (i < n) {
    while (i < n && SPACE.test(input[i]!)) {
      i++;
      steps++;
    }
    if (i >= n) break;
    const start = i;
    let value = '';
    let quoted = false;
    let bare = -1;
    while (i < n && !SPACE.test(input[i]!)) {
      steps++;
      const ch = input[i]!;
      if (ch === STRAIGHT || ch === LEFT || ch === LOW) {
        last ??= lastClosers(input, count);
        // Without a closer anywhere after it the opener is an ordinary character; knowing that
        // without scanning is what keeps thousands of unclosed openers linear.
        if (closerBound(ch, last) > i) {
          let j = i + 1;
          while (!closes(ch, input[j]!)) j++;
          // The scanned characters become the quoted value and are not looked at again.
          steps += j - i;
          if (!quoted) bare = value.length;
          value += input.slice(i + 1, j);
          quoted = true;
          i = j + 1;
          continue;
        }
      }
      value += ch;
      i++;
    }
    tokens.push({ value, start, end: i, quoted, bare: quoted ? bare : value.length });
  }
  if (meter) meter.steps += steps;
  return tokens;
}

/**
 * Rebuilds free text from the kept tokens. Neighbours in the original keep the exact text between
 * them; where options were taken out in between, a line break anywhere in the gap survives as one
 * line break, otherwise one space.
 */
export function joinText(input: string, all: Token[], keep: Set<Token>, meter?: ParseMeter): string {
  let steps = 0;
  let out = '';
  let prev = -1;
  // One cursor moves forward through the input, so each character is checked for a line break once.
  let cursor = 0;
  let sawBreak = false;
  for (let k = 0; k < all.length; k++) {
    const t = all[k]!;
    steps++;
    for (; cursor < t.start; cursor++) {
      steps++;
      if (input[cursor] === '\n') sawBreak = true;
    }
    if (!keep.has(t)) continue;
    if (prev >= 0) out += prev === k - 1 ? input.slice(all[prev]!.end, t.start) : sawBreak ? '\n' : ' ';
    out += t.value;
    prev = k;
    sawBreak = false;
    cursor = t.end;
  }
  if (meter) meter.steps += steps + out.length;
  return out.trim();
}

/** Levenshtein distance, for "did you mean …". */
export function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

export function nearest(word: string, candidates: readonly string[], meter?: ParseMeter): string | null {
  // A word longer than every candidate by more than the allowed distance cannot be near any of
  // them: answering without the distance table keeps a pasted 30,000-character word cheap.
  const longest = Math.max(0, ...candidates.map((c) => c.length));
  if (word.length > longest + allowedDistance(longest)) return null;
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    if (meter) meter.steps += (word.length + 1) * (c.length + 1);
    const d = c.startsWith(word) && word.length >= 2 ? 0 : editDistance(word, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== null && bestD <= allowedDistance(best.length) ? best : null;
}

const allowedDistance = (length: number) => Math.max(2, Math.floor(length / 3));
