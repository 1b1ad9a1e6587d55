import type { Line, Page, TextRun } from '../types.js';

// Layout step, list markers: the bullet or number a list item's first line starts with, when the
// producer draws it as text (LaTeX, word processors; browsers draw bullets as shapes). Returns
// where the item's own text starts, so that its next lines, set flush with that text, read as
// the same item.

export interface ListMarker {
  /** The marker as drawn: "•", "–", "3.", "(b)". */
  text: string;
  /** The number an ordered marker shows (letters and roman numerals counted: b → 2, iv → 4). */
  number?: number;
  /** x where the item's text starts. */
  start: number;
  /** Index of the first run of the item's text, and how many characters of it the marker took. */
  run: number;
  cut: number;
}

/** Glyphs that only ever mark list items (the last ones are the Symbol and Wingdings bullets of Word, in the private use area). */
const BULLETS = '•◦▪▫■□●○‣⁃∙⦁➢►▶✓✔❖\uf0b7\uf0a7\uf076\uf0d8\uf0fc\uf0a8\uf06e\uf0a1';
/** Glyphs that mark items in lists but also start sentences (dashes, asterisks): trusted on an inset line only. */
const WEAK_BULLETS = '–-∗*·';
/** "3." "3)" "(3)" "b." "(b)" "iv." "(iv)": ordered markers. */
const ORDERED = /^(?:\(?(\d{1,3})[.)]|\((\d{1,3})\)|\(?([a-z])[.)]|\(([a-z])\)|\(?([ivx]{1,5})[.)]|\(([ivx]{1,5})\))$/;
/** A weak bullet or a letter marker must be inset from the column's margin by this (body sizes). */
const WEAK_INSET = 0.5;
/** The space after a marker: at least a narrow word space (in font sizes). */
const MARKER_GAP = 0.15;

/** Lines of one item stand closer than this (font sizes, box to box). */
const ITEM_LINE_GAP = 0.45;
/** A hanging line starts this close (body sizes) to where the text after the marker does. */
const HANGING_SLACK = 0.3;

/**
 * `next`: the line under it, which tells a number at the margin that starts an item (the item's
 * next line hangs under its text, as "10." of a list whose "9." is inset) from a sentence that
 * starts with a number ("2017. That year…", whose next line starts at the margin). `previous`:
 * the number of the last numbered item above it in its column.
 */
export function listMarker(line: Line, columnLeft: number, body: number, next?: Line, previous?: number): ListMarker | undefined {
  const first = line.runs[0];
  const text = first.text.trimStart();
  const inset = line.bbox.x0 - columnLeft >= body * WEAK_INSET;
  if (UNMAPPED.test(text)) return unmappedBullet(line, inset, body);
  // The marker is a run of its own, or the start of the first run up to a space.
  const alone = line.runs.length > 1 && !/\s/.test(text.trim());
  const word = alone ? text.trim() : text.match(/^(\S+)\s+(?=\S)/)?.[1];
  if (!word) return undefined;
  let number: number | undefined;
  if (word.length === 1 && BULLETS.includes(word)) {
    // always a marker
  } else if (word.length === 1 && WEAK_BULLETS.includes(word)) {
    if (!inset) return undefined;
  } else {
    const m = word.match(ORDERED);
    if (!m) return undefined;
    const [, d1, d2, l1, l2, r1, r2] = m;
    if (d1 ?? d2) {
      // A number written into the text's first run ("2017. That year…") is a marker only on an
      // inset line, when the line under it hangs under the text after the number, or when it
      // follows the list's item before (`previous`: the number of the last item above it).
      number = Number(d1 ?? d2);
      if (!alone && !inset && !hangsUnder(next, line, textStart(first, word), body) && number !== (previous ?? -1) + 1) return undefined;
    } else if (!inset) return undefined;
    else if (r1 ?? r2) number = roman(r1 ?? r2);
    else number = (l1 ?? l2).charCodeAt(0) - 96;
    // "i." is the letter i or the numeral 1: either way a marker, counted as a numeral.
  }
  if (alone) {
    const next = line.runs[1];
    if (next.bbox.x0 - first.bbox.x1 < first.fontSize * MARKER_GAP && !/^\s/.test(next.text)) return undefined;
    return { text: word, number, start: next.bbox.x0, run: 1, cut: 0 };
  }
  const cut = markerCut(first, word);
  return { text: word, number, start: textStart(first, word), run: 0, cut };
}

/** How many characters of the run the marker and the space after it take. */
function markerCut(run: TextRun, word: string): number {
  const at = run.text.indexOf(word) + word.length;
  return at + (run.text.slice(at).match(/^\s+/)?.[0].length ?? 0);
}

/** Where the text after a marker written at the start of a run begins. */
function textStart(run: TextRun, word: string): number {
  return run.bbox.x0 + ((run.bbox.x1 - run.bbox.x0) * markerCut(run, word)) / run.text.length;
}

/** Is `next` set right under `line`, starting where the text after its marker does? */
function hangsUnder(next: Line | undefined, line: Line, start: number, body: number): boolean {
  if (!next) return false;
  const gap = next.bbox.y0 - line.bbox.y1;
  const size = Math.max(line.fontSize, next.fontSize);
  if (gap < -size * 0.5 || gap > size * ITEM_LINE_GAP) return false;
  return Math.abs(next.bbox.x0 - start) <= body * HANGING_SLACK && next.bbox.x0 > line.bbox.x0 + body * 0.5;
}

/**
 * A glyph without a character (a bitmap font's bullet, which carries no Unicode) before the text
 * of an inset line, apart from it and no wider than a bullet: a bullet.
 */
function unmappedBullet(line: Line, inset: boolean, body: number): ListMarker | undefined {
  const [glyph, next] = line.runs;
  if (!inset || !next || glyph.bbox.x1 - glyph.bbox.x0 > body * MAX_BULLET_WIDTH) return undefined;
  if (next.bbox.x0 - glyph.bbox.x1 < glyph.fontSize * MARKER_GAP) return undefined;
  return { text: '•', start: next.bbox.x0, run: 1, cut: 0 };
}

/** Text of a glyph the font maps to no character: nothing, control codes, the replacement character. */
const UNMAPPED = /^[\p{Cc}\ufffd\s]*$/u;
/** A bullet is at most this wide (body sizes). */
const MAX_BULLET_WIDTH = 1;

function roman(s: string): number {
  const value: Record<string, number> = { i: 1, v: 5, x: 10 };
  let n = 0;
  for (let k = 0; k < s.length; k++) {
    const v = value[s[k]];
    n += k + 1 < s.length && value[s[k + 1]] > v ? -v : v;
  }
  return n;
}

/** The line without its marker. */
export function withoutMarker(line: Line, marker: ListMarker): Line {
  const runs = line.runs.slice(marker.run);
  if (marker.cut > 0) {
    const head = runs[0];
    runs[0] = { ...head, text: head.text.slice(marker.cut), bbox: { ...head.bbox, x0: marker.start } };
  }
  return { ...line, runs, text: runs.map((r) => r.text).join(' '), bbox: { ...line.bbox, x0: marker.start } };
}

/** Lines starting with a bullet glyph before a document counts as drawing its bullets as text. */
const MIN_TEXT_BULLETS = 3;

/** Does the document write its bullets as text (so that list items are known by their markers)? */
export function writesBullets(pages: Page[]): boolean {
  let n = 0;
  for (const page of pages)
    for (const line of page.lines) {
      const c = line.runs[0]?.text.trimStart()[0];
      if (c && BULLETS.includes(c) && ++n >= MIN_TEXT_BULLETS) return true;
    }
  return false;
}
