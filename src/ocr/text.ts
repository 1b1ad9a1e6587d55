import type { DecodedChar } from './ctc.js';
import type { InkProfile } from './ink.js';

// From decoded characters to the line's text: full-width punctuation (the model's dictionary
// is Chinese) becomes ASCII, and spaces the model swallowed are put back where the crop shows a
// word-sized gap between two characters. And the line's face: monospaced (code) or not.

const FULL_WIDTH: Record<string, string> = {
  '。': '.',
  '、': ',',
  '「': '"',
  '」': '"',
  '『': '"',
  '』': '"',
  '【': '[',
  '】': ']',
  '〔': '(',
  '〕': ')',
  '《': '<',
  '》': '>',
  '〈': '<',
  '〉': '>',
  '～': '~',
  '‘': "'",
  '’': "'",
  '“': '"',
  '”': '"',
  '…': '...',
};

/** NFKC turns the full-width ASCII forms (U+FF01–FF5E) into ASCII; the table does the rest. */
export function toAscii(text: string): string {
  return (
    text
      .normalize('NFKC')
      .replace(/[。、「」『』【】〔〕《》〈〉～‘’“”…]/g, (c) => FULL_WIDTH[c] ?? c)
      // The Chinese dash is written doubled (——): one dash in Latin text.
      .replace(/[—–]+/g, '-')
  );
}

/** Word gaps are at least this share of the text's height (ascender to descender, ~0.2 em). */
const MIN_WORD_GAP = 0.22;
/** When the model read no space in the line to compare with: at least this share, and */
const MIN_UNSEEN_WORD_GAP = 0.3;
/** clearly wider than the gaps between letters of a word. */
const WORD_TO_LETTER_GAP = 1.6;

/**
 * The line's face as its characters show it: monospaced (code), proportional, or undefined
 * when the line cannot tell (short lines, code mixed into prose); see faceFit.
 */
export function lineFace(fit: FaceFit | undefined): boolean | undefined {
  const ratio = fit ? fit.monospaceMisfit / fit.proportionalMisfit : Number.NaN;
  return ratio < MONOSPACE_FIT_RATIO ? true : ratio >= PROPORTIONAL_FIT_RATIO ? false : undefined;
}

/**
 * The recogniser often drops spaces in proportional text. Put a space between two characters
 * when the blank run between them is word-sized for this line: the threshold comes from the
 * spaces the model did read when there are some, else from the widest jump between gap sizes
 * (monospaced code has wide letter gaps around narrow glyphs, prose has narrow ones).
 */
export function lineText(chars: DecodedChar[], ink: InkProfile): string {
  return fixCapitalI(toAscii(gapText(chars, ink)).replace(/\s+/g, ' ').trim());
}

function gapText(chars: DecodedChar[], profile: InkProfile): string {
  const ink = profile.columns;
  const gaps: number[] = [];
  const spaceGaps: number[] = [];
  for (let i = 1; i < chars.length; i++) {
    const a = chars[i - 1];
    const b = chars[i];
    if (a.text === ' ' || b.text === ' ') continue;
    gaps.push(gapBetween(ink, a.x, b.x));
  }
  for (let i = 1; i + 1 < chars.length; i++) {
    if (chars[i].text === ' ' && chars[i - 1].text !== ' ' && chars[i + 1].text !== ' ') {
      spaceGaps.push(gapBetween(ink, chars[i - 1].x, chars[i + 1].x));
    }
  }
  const threshold = wordGapThreshold(gaps, spaceGaps, profile.textHeight);
  let text = '';
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    const prev = chars[i - 1];
    if (prev && prev.text !== ' ' && c.text !== ' ' && gapBetween(ink, prev.x, c.x) >= threshold) text += ' ';
    text += c.text;
  }
  return text;
}

/**
 * Advance widths of a proportional face (Helvetica's, thousandths of an em). Faces differ, but
 * all set i, l and punctuation narrow and m, w wide; a monospaced face sets them alike.
 */
const ADVANCE: Record<string, number> = Object.fromEntries(
  Object.entries({
    191: "'",
    222: 'ijl',
    260: '|',
    278: 'ft.,:;!/\\[]I',
    333: 'r()-`{}',
    355: '"',
    389: '*',
    469: '^',
    500: 'ckvxyzsJ_',
    584: '=+<>~',
    611: 'FTZ',
    667: 'ABEKPSVXY&',
    722: 'wCDHNRU',
    778: 'GOQ',
    833: 'mM',
    889: '%',
    944: 'W',
    1015: '@',
  }).flatMap(([width, letters]) => [...letters].map((c) => [c, Number(width)])),
);
const DEFAULT_ADVANCE = 556;
const SPACE_ADVANCE = 278;
/** Characters per span, and spans needed to tell the two kinds of face apart. */
const SPAN = 6;
const MIN_SPANS = 4;
/** Neighbours further apart than this many typical distances have a blank between them. */
const MAX_NEIGHBOUR_DISTANCE = 2.2;
/**
 * A monospaced line fits equal cells much better than proportional widths, a proportional one
 * fits them worse or nearly as well; between the two (short lines, code mixed into prose) the
 * line's neighbours decide (see extract/ocr-page.ts).
 */
const MONOSPACE_FIT_RATIO = 0.35;
const PROPORTIONAL_FIT_RATIO = 0.8;

/** How well a line's character positions fit equal cells, and proportional widths (mean relative misfit). */
export interface FaceFit {
  pitch: number;
  monospaceMisfit: number;
  proportionalMisfit: number;
}

/**
 * Both fits over spans of SPAN characters (the model places each character only to within a
 * few pixels; over a span that error is small next to the width of the characters in it).
 * A span with a wide blank in it (a space the model did not read) is left out.
 */
export function faceFit(chars: DecodedChar[]): FaceFit | undefined {
  const steps: number[] = [];
  for (let i = 1; i < chars.length; i++) steps.push(chars[i].x - chars[i - 1].x);
  const typical = median(steps);
  const spans: Array<{ d: number; e: number }> = [];
  for (let i = 0; i + SPAN < chars.length; i++) {
    let e = 0;
    let open = true;
    for (let k = i; k < i + SPAN && open; k++) {
      open = steps[k] < typical * MAX_NEIGHBOUR_DISTANCE;
      e += (advance(chars[k].text) + advance(chars[k + 1].text)) / 2;
    }
    if (open) spans.push({ d: chars[i + SPAN].x - chars[i].x, e });
  }
  if (spans.length < MIN_SPANS) return undefined;
  const pitch = median(spans.map((p) => p.d)) / SPAN;
  const scale = median(spans.map((p) => p.d / p.e));
  return {
    pitch,
    // Means, not medians: positions come in whole frames, so many spans measure exactly alike.
    monospaceMisfit: mean(spans.map((p) => Math.abs(p.d / (pitch * SPAN) - 1))),
    proportionalMisfit: mean(spans.map((p) => Math.abs(p.d / (scale * p.e) - 1))),
  };
}

function advance(text: string): number {
  return text === ' ' ? SPACE_ADVANCE : (ADVANCE[text] ?? DEFAULT_ADVANCE);
}

function mean(values: number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : 0;
}

/**
 * The model often reads a capital I as l or i. In a word of capitals (API, CLI, ASCII,
 * AFINN) it can only be an I.
 */
export function fixCapitalI(text: string): string {
  return text.replace(/\b[A-Zli]{2,}\b/g, (word) => {
    const capitals = word.replace(/[li]/g, '').length;
    return capitals >= 2 && capitals < word.length ? word.replace(/[li]/g, 'I') : word;
  });
}

function wordGapThreshold(gaps: number[], spaceGaps: number[], textHeight: number): number {
  if (spaceGaps.length) {
    const sorted = [...spaceGaps].sort((x, y) => x - y);
    return Math.max(MIN_WORD_GAP * textHeight, sorted[Math.floor(sorted.length / 2)] * 0.7);
  }
  const floor = MIN_UNSEEN_WORD_GAP * textHeight;
  // No space read: is there a clear split between letter gaps and word gaps?
  const sorted = [...gaps].sort((x, y) => x - y);
  let best = Infinity;
  let bestRatio = WORD_TO_LETTER_GAP;
  for (let i = 1; i < sorted.length; i++) {
    const lower = Math.max(sorted[i - 1], 1);
    const upper = sorted[i];
    if (upper < floor) continue;
    const ratio = upper / lower;
    if (ratio >= bestRatio) {
      bestRatio = ratio;
      best = (lower + upper) / 2;
    }
  }
  return Math.max(floor, best);
}

/**
 * The blank run around the midpoint of two character centres (searching a quarter of the
 * way to either side when the midpoint is ink): a word gap sits between the two letters, while
 * wide blanks elsewhere (inside or beside narrow glyphs) are not spaces.
 */
function gapBetween(ink: Uint8Array, from: number, to: number): number {
  const left = Math.max(0, Math.ceil(from));
  const right = Math.min(ink.length - 1, Math.floor(to));
  if (right <= left) return 0;
  const mid = Math.round((from + to) / 2);
  const reach = Math.max(1, Math.round((to - from) / 4));
  let start = -1;
  for (let d = 0; d <= reach && start < 0; d++) {
    if (mid - d >= left && !ink[mid - d]) start = mid - d;
    else if (mid + d <= right && !ink[mid + d]) start = mid + d;
  }
  if (start < 0) return 0;
  let a = start;
  let b = start;
  while (a - 1 >= left && !ink[a - 1]) a--;
  while (b + 1 <= right && !ink[b + 1]) b++;
  return b - a + 1;
}
