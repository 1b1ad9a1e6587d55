// Edit distances. Whole documents are compared (tens of thousands of characters each way), so
// the distance is computed 32 cells at a time with bit vectors (Myers' algorithm in Hyyrö's
// blocked form), exact and in O(n·m/32); short strings use the plain table.

/** Levenshtein distance between two strings of any length. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  // The shorter string is the one held in bit vectors.
  const [text, pattern] = a.length >= b.length ? [a, b] : [b, a];
  const m = pattern.length;
  const n = text.length;
  if (m === 0) return n;

  // Symbols of the pattern numbered 1…k; a text character absent from the pattern is 0.
  const symbolOf = new Map<number, number>();
  for (let i = 0; i < m; i++) {
    const c = pattern.charCodeAt(i);
    if (!symbolOf.has(c)) symbolOf.set(c, symbolOf.size + 1);
  }
  const words = Math.ceil(m / 32);
  // matchMask[symbol * words + w]: bit i set where pattern[32w + i] is that symbol.
  const matchMask = new Int32Array((symbolOf.size + 1) * words);
  for (let i = 0; i < m; i++) {
    const symbol = symbolOf.get(pattern.charCodeAt(i)) as number;
    matchMask[symbol * words + (i >>> 5)] |= 1 << (i & 31);
  }
  // Vertical deltas of the current column, as +1 and -1 bit vectors: column 0 is 1, 2, …, m.
  const plus = new Int32Array(words).fill(-1);
  const minus = new Int32Array(words);
  const lastRowBit = 1 << ((m - 1) & 31);
  let distance = m;

  for (let j = 0; j < n; j++) {
    const row = (symbolOf.get(text.charCodeAt(j)) ?? 0) * words;
    // Horizontal delta entering the top of the column: D[0][j+1] - D[0][j] = +1.
    let carry = 1;
    for (let w = 0; w < words; w++) {
      let eq = matchMask[row + w];
      const pv = plus[w];
      const mv = minus[w];
      const xv = eq | mv;
      if (carry < 0) eq |= 1;
      const xh = ((((eq & pv) + pv) | 0) ^ pv) | eq;
      let ph = mv | ~(xh | pv);
      let mh = pv & xh;
      const outBit = w === words - 1 ? lastRowBit : 1 << 31;
      const out = ph & outBit ? 1 : mh & outBit ? -1 : 0;
      ph <<= 1;
      mh <<= 1;
      if (carry < 0) mh |= 1;
      else if (carry > 0) ph |= 1;
      plus[w] = mh | ~(xv | ph);
      minus[w] = ph & xv;
      carry = out;
    }
    distance += carry;
  }
  return distance;
}

/** Levenshtein distance by the full table: for short strings (headings). */
export function editDistanceShort(a: string, b: string): number {
  if (a === b) return 0;
  if (!a.length) return b.length;
  if (!b.length) return a.length;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  let current = new Array<number>(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1);
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, substitution);
    }
    [previous, current] = [current, previous];
  }
  return previous[b.length];
}

/**
 * An output far longer than its truth (a converter that repeats itself) is compared up to this
 * many times the truth's length and the rest counted as insertions: the score is the same
 * (near 0) and the time stays bounded.
 */
const MAX_OUTPUT_FACTOR = 4;
/** Short truths still get compared in full against outputs up to this length. */
const MIN_COMPARED_CHARS = 1000;

/** Edits from `truth` to `output`, with an overlong output's excess counted, not compared. */
export function boundedEditDistance(truth: string, output: string): number {
  const cap = Math.max(MIN_COMPARED_CHARS, MAX_OUTPUT_FACTOR * truth.length);
  if (output.length <= cap) return editDistance(truth, output);
  return editDistance(truth, output.slice(0, cap)) + output.length - cap;
}

/** 1 − edits / longer length, in [0, 1]; two empty strings are the same. */
export function textSimilarity(truth: string, output: string): number {
  if (!truth.length && !output.length) return 1;
  return Math.max(0, 1 - boundedEditDistance(truth, output) / Math.max(truth.length, output.length));
}

export function shortSimilarity(a: string, b: string): number {
  if (!a.length && !b.length) return 1;
  return 1 - editDistanceShort(a, b) / Math.max(a.length, b.length);
}
