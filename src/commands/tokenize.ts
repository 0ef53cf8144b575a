// Splits a command line into words, keeping where each came from so that free text can be rebuilt
// with its original line breaks. Only double quotes (straight or curly) group words: apostrophes
// are far more common in incident text ("we're") than single-quoted titles.

export interface Token {
  value: string;
  start: number;
  end: number;
  quoted: boolean;
}

const OPEN_QUOTES = new Set(['"', '“', '„']);
const CLOSE_FOR: Record<string, string[]> = { '"': ['"'], '“': ['”', '"'], '„': ['“', '”', '"'] };

export function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = input.length;
  while (i < n) {
    while (i < n && /\s/.test(input[i]!)) i++;
    if (i >= n) break;
    const start = i;
    let value = '';
    let quoted = false;
    while (i < n && !/\s/.test(input[i]!)) {
      const ch = input[i]!;
      if (OPEN_QUOTES.has(ch)) {
        const closers = CLOSE_FOR[ch]!;
        let j = i + 1;
        while (j < n && !closers.includes(input[j]!)) j++;
        if (j < n) {
          value += input.slice(i + 1, j);
          quoted = true;
          i = j + 1;
          continue;
        }
      }
      value += ch;
      i++;
    }
    tokens.push({ value, start, end: i, quoted });
  }
  return tokens;
}

/** Rebuilds free text from the kept tokens, preserving the original spacing between neighbours. */
export function joinText(input: string, all: Token[], keep: Set<Token>): string {
  let out = '';
  let prev: Token | null = null;
  let skippedBreak = false;
  for (const t of all) {
    if (!keep.has(t)) {
      if (prev) skippedBreak ||= /\n/.test(input.slice(prev.end, t.start));
      continue;
    }
    if (prev) {
      const between = input.slice(prev.end, t.start);
      const adjacent = all.indexOf(t) === all.indexOf(prev) + 1;
      out += adjacent ? between : skippedBreak || /\n/.test(between) ? '\n' : ' ';
    }
    out += t.value;
    prev = t;
    skippedBreak = false;
  }
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

export function nearest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = c.startsWith(word) && word.length >= 2 ? 0 : editDistance(word, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(best.length / 3)) ? best : null;
}
