import type { Page, TextRun } from '../types.js';

// Extract step: which fonts are bold or italic. pdfjs's text content names a font only by an id
// ("g_d0_f3") and a generic family, so the weight is read from how wide the font sets its
// letters: a bold face sets the same letters wider than the regular face of its family (by
// 4–15 % in common fonts), an italic face narrower or as wide. To compare fonts used for
// different texts, the body face's own letter widths are estimated from its runs (a least-squares
// fit over the letters each run holds, pulled towards a generic width table for letters it
// rarely sets); every other font is then measured against what the body face would have needed
// for the same text.

/** Set this much wider than the body face would set the same text: a bold face. */
const BOLD_WIDER = 0.035;
/** Set this much narrower: an italic face (italics of most serif families are narrower). */
const ITALIC_NARROWER = 0.015;
/**
 * Within this of the body's widths: the body face's own italic (sans families and metric-
 * compatible ones keep the upright widths), or the body face itself in another encoding.
 */
const SAME_WIDTHS = 0.008;
/** Sizes this close (share) are one size. */
const SAME_SIZE = 0.05;
/** Fewer characters than this say nothing about a font's widths. */
const MIN_CHARS = 3;
/** Work allowed for the fit, in letter pairs over the sampled runs: a fraction of a millisecond. */
const FIT_BUDGET = 60_000;
/** Different letters a run holds at most, for the budget. */
const MAX_RUN_LETTERS = 40;
/** Letters fitted: the most used ones (scripts with thousands of characters would not fit). */
const MAX_FIT_LETTERS = 48;
/** Pull of the generic width table, in runs' worth of evidence per letter. */
const PRIOR_WEIGHT = 2;
/**
 * A font with the body's widths that mostly starts its runs with a symbol (•, ’, ©) is the body
 * face in another encoding (LaTeX's TS1 companion), not its italic.
 */
const SYMBOL_RUN_SHARE = 0.5;

/** Runs of one character are a formula's letters and signs… */
const SYMBOL_RUN_CHARS = 1;
/** …and a font setting this share of its runs so short is a math or symbol font. */
const SYMBOL_FONT_SHARE = 0.9;

interface FontStats {
  runs: TextRun[];
  chars: number;
  mono: boolean;
}

export function markFontStyles(pages: Page[]): void {
  const widths = fontWidths(pages);
  const body = bodySizeOf(widths);
  for (const { runs, ratio } of widths.values()) {
    if (ratio === undefined || setsSymbols(runs)) continue;
    // Fonts drawn for a size other than the body's set the same letters wider when smaller and
    // narrower when larger (Computer Modern, Latin Modern): narrower is no italic above the body's
    // size, and the same widths are no italic at another size.
    const size = sizeOf(runs);
    const atBodySize = Math.abs(size - body) <= body * SAME_SIZE;
    const bold = ratio > 1 + BOLD_WIDER;
    const narrower = ratio < 1 - ITALIC_NARROWER && (atBodySize || size < body);
    const italic = !bold && (narrower || (atBodySize && Math.abs(ratio - 1) <= SAME_WIDTHS && !mostlySymbols(runs)));
    for (const run of runs) {
      run.bold = bold;
      run.italic = italic;
    }
  }
}

/**
 * Each font's runs and how wide it sets text against the body face (1 = as wide; undefined for
 * the body face itself, monospace fonts and fonts with too little text to tell).
 */
export function fontWidths(pages: Page[]): Map<string, { runs: TextRun[]; ratio?: number }> {
  const fonts = new Map<string, FontStats>();
  for (const page of pages) {
    if (page.source !== 'text') continue;
    for (const line of page.lines)
      for (const run of line.runs) {
        if (run.fontName === '') continue; // a font pdfjs did not name (see text-layer.ts)
        let s = fonts.get(run.fontName);
        if (!s) {
          s = { runs: [], chars: 0, mono: run.monospace };
          fonts.set(run.fontName, s);
        }
        s.runs.push(run);
        s.chars += run.text.length;
      }
  }
  const out = new Map<string, { runs: TextRun[]; ratio?: number }>();
  // The body face: the proportional font carrying the most characters.
  let bodyName: string | undefined;
  for (const [name, s] of fonts) if (!s.mono && (!bodyName || s.chars > fonts.get(bodyName)!.chars)) bodyName = name;
  if (!bodyName) return out;
  const measurable = [...fonts].filter(([name, s]) => name !== bodyName && !s.mono && s.chars >= MIN_CHARS);
  const widths = measurable.length ? fitWidths(fonts.get(bodyName)!.runs) : undefined;
  for (const [name, s] of fonts) {
    const measured = widths && name !== bodyName && !s.mono && s.chars >= MIN_CHARS && s.runs.some((r) => /[\p{L}\p{N}]/u.test(r.text));
    out.set(name, { runs: s.runs, ratio: measured ? widthRatio(s.runs, widths) : undefined });
  }
  return out;
}

/**
 * Does the font set letters and signs one at a time (a formula's variables and operators,
 * in a math font)? Its letters' widths are a math italic's or a symbol font's, not those of a
 * bold or italic face of the text: read as neither.
 */
function setsSymbols(runs: TextRun[]): boolean {
  let short = 0;
  for (const run of runs) if (run.text.trim().length <= SYMBOL_RUN_CHARS) short++;
  return short >= runs.length * SYMBOL_FONT_SHARE;
}

/** The size the most characters of these runs are set in. */
function sizeOf(runs: TextRun[]): number {
  const chars = new Map<number, number>();
  for (const r of runs) {
    const size = Math.round(r.fontSize * 10) / 10;
    chars.set(size, (chars.get(size) ?? 0) + r.text.length);
  }
  let best = 0;
  let most = -1;
  for (const [size, n] of chars) if (n > most) [best, most] = [size, n];
  return best;
}

/** The body face's size: that of the font fontWidths measured others against (the one without a ratio carrying most text). */
function bodySizeOf(widths: Map<string, { runs: TextRun[]; ratio?: number }>): number {
  let body: TextRun[] = [];
  let chars = -1;
  for (const { runs, ratio } of widths.values()) {
    if (ratio !== undefined || runs.every((r) => r.monospace)) continue;
    const n = runs.reduce((sum, r) => sum + r.text.length, 0);
    if (n > chars) [body, chars] = [runs, n];
  }
  return sizeOf(body);
}

/** Does the font mostly start its runs with a symbol rather than a letter or digit? */
function mostlySymbols(runs: TextRun[]): boolean {
  let symbols = 0;
  for (const run of runs) if (!/^[\p{L}\p{N}]/u.test(run.text.trimStart())) symbols++;
  return symbols >= runs.length * SYMBOL_RUN_SHARE;
}

/**
 * Runs spread over the document, up to a budget: the fit costs the square of the letters a run
 * holds, so a document set in long runs (LaTeX's whole lines) gives fewer of them than one set in
 * words.
 */
function sampleRuns(runs: TextRun[]): TextRun[] {
  let cost = 0;
  for (const r of runs) cost += Math.min(r.text.length, MAX_RUN_LETTERS) ** 2;
  const step = Math.max(1, Math.ceil(cost / FIT_BUDGET));
  const sample: TextRun[] = [];
  for (let k = 0; k < runs.length; k += step) sample.push(runs[k]);
  return sample;
}

/** Estimated advance width (em) of a character in the body face. */
interface Widths {
  of(code: number): number;
}

/**
 * The body face's letter widths from its runs: least squares over the letters each run holds,
 * for the most used letters (others, and letters the fit cannot pin down, follow the generic
 * table scaled to the face).
 */
export function fitWidths(runs: TextRun[]): Widths {
  const sample = sampleRuns(runs);
  const frequency = new Map<number, number>();
  let measured = 0;
  let generic = 0;
  for (const run of sample) {
    measured += (run.bbox.x1 - run.bbox.x0) / run.fontSize;
    generic += modelWidth(run.text);
    for (let i = 0; i < run.text.length; i++) {
      const c = run.text.charCodeAt(i);
      frequency.set(c, (frequency.get(c) ?? 0) + 1);
    }
  }
  const scale = generic > 0 ? measured / generic : 1;
  const fallback = (c: number) => widthOf(c) * scale;
  const fitted = [...frequency].sort((a, b) => b[1] - a[1]).slice(0, MAX_FIT_LETTERS);
  const n = fitted.length;
  if (n === 0) return { of: fallback };
  const index = new Map<number, number>();
  fitted.forEach(([c], k) => {
    index.set(c, k);
  });
  // Normal equations, with a ridge towards the scaled generic widths; letters outside the fit
  // are moved to the right-hand side at their generic width.
  const m = new Float64Array(n * n);
  const v = new Float64Array(n);
  const counts = new Float64Array(n);
  const present: number[] = [];
  for (const run of sample) {
    let b = (run.bbox.x1 - run.bbox.x0) / run.fontSize;
    present.length = 0;
    for (let i = 0; i < run.text.length; i++) {
      const c = run.text.charCodeAt(i);
      const k = index.get(c);
      if (k === undefined) b -= fallback(c);
      else {
        if (counts[k] === 0) present.push(k);
        counts[k]++;
      }
    }
    for (const i of present) {
      v[i] += counts[i] * b;
      for (const j of present) m[i * n + j] += counts[i] * counts[j];
    }
    for (const i of present) counts[i] = 0;
  }
  const prior = new Float64Array(n);
  fitted.forEach(([c], k) => {
    prior[k] = fallback(c);
    m[k * n + k] += PRIOR_WEIGHT;
    v[k] += PRIOR_WEIGHT * prior[k];
  });
  const x = solve(m, v, n) ?? prior;
  // Most text is ASCII: a table for it, the map for the rest.
  const ascii = new Float64Array(128);
  for (let c = 0; c < 128; c++) {
    const k = index.get(c);
    ascii[c] = k !== undefined && x[k] > 0 ? x[k] : fallback(c);
  }
  return {
    of: (c) => {
      if (c < 128) return ascii[c];
      const k = index.get(c);
      return k !== undefined && x[k] > 0 ? x[k] : fallback(c);
    },
  };
}

/** Width of the font's runs over what the body face would need for the same text. */
function widthRatio(runs: TextRun[], widths: Widths): number | undefined {
  let actual = 0;
  let expected = 0;
  for (const run of runs) {
    actual += (run.bbox.x1 - run.bbox.x0) / run.fontSize;
    for (let i = 0; i < run.text.length; i++) expected += widths.of(run.text.charCodeAt(i));
  }
  return expected > 0 ? actual / expected : undefined;
}

/** Gaussian elimination with partial pivoting on a dense n×n system; undefined if singular. */
function solve(m: Float64Array, v: Float64Array, n: number): Float64Array | undefined {
  const a = Float64Array.from(m);
  const b = Float64Array.from(v);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r * n + col]) > Math.abs(a[pivot * n + col])) pivot = r;
    if (Math.abs(a[pivot * n + col]) < 1e-12) return undefined;
    if (pivot !== col) {
      for (let k = 0; k < n; k++) [a[col * n + k], a[pivot * n + k]] = [a[pivot * n + k], a[col * n + k]];
      [b[col], b[pivot]] = [b[pivot], b[col]];
    }
    for (let r = col + 1; r < n; r++) {
      const f = a[r * n + col] / a[col * n + col];
      if (f === 0) continue;
      for (let k = col; k < n; k++) a[r * n + k] -= f * a[col * n + k];
      b[r] -= f * b[col];
    }
  }
  const x = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r];
    for (let k = r + 1; k < n; k++) s -= a[r * n + k] * x[k];
    x[r] = s / a[r * n + r];
  }
  return x;
}

/** Approximate advance widths (em) of a proportional sans face, by letter class. */
export function modelWidth(text: string): number {
  let w = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // A surrogate pair is one letter.
    if (code >= 0xdc00 && code <= 0xdfff && i > 0 && (text.charCodeAt(i - 1) & 0xfc00) === 0xd800) continue;
    w += widthOf(code);
  }
  return w;
}

function widthOf(code: number): number {
  return code < ASCII_WIDTHS.length ? ASCII_WIDTHS[code] : OTHER_WIDTH;
}

const OTHER_WIDTH = 0.53;
/** Widths of ASCII characters by code, from the classes below; all else is OTHER_WIDTH. */
const ASCII_WIDTHS = (() => {
  const table = new Float64Array(128).fill(OTHER_WIDTH);
  const set = (chars: string, width: number) => {
    for (const c of chars) table[c.charCodeAt(0)] = width;
  };
  for (let c = 0x41; c <= 0x5a; c++) table[c] = 0.68; // A–Z
  for (let c = 0x30; c <= 0x39; c++) table[c] = 0.556; // 0–9
  set('mwMW@%', 0.86);
  set('ftrI()[]{}/\\-"', 0.33);
  set("ijl|!.,:;'`", 0.24);
  set(' ', 0.28);
  return table;
})();
