import type { DecodedChar } from './ctc.js';
import type { Crop } from './recognize.js';
import { CROP_HEIGHT } from './recognize.js';

/**
 * From decoded characters to the line's text: full-width punctuation (the model's dictionary
 * is Chinese) becomes ASCII, and spaces the model swallowed are put back where the crop
 * shows a word-sized gap between two characters.
 */

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
 * A column is ink when this many pixels of its middle band are darker than halfway from
 * paper to ink: one, since a thin stroke (the bar of an H) is one dark pixel per column.
 */
const MIN_INK_PIXELS = 1;

/**
 * The recogniser often drops spaces in proportional text. Put a space between two characters
 * when the blank run between them is word-sized for this line: the threshold comes from the
 * spaces the model did read when there are some, else from the widest jump between gap sizes
 * (monospaced code has wide letter gaps around narrow glyphs, prose has narrow ones).
 */
export function lineText(chars: DecodedChar[], crop: Crop): string {
  const { ink, textHeight } = inkProfile(crop);
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
  const threshold = wordGapThreshold(gaps, spaceGaps, textHeight);
  let text = '';
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    const prev = chars[i - 1];
    if (prev && prev.text !== ' ' && c.text !== ' ' && gapBetween(ink, prev.x, c.x) >= threshold) text += ' ';
    text += c.text;
  }
  return fixCapitalI(toAscii(text).replace(/\s+/g, ' ').trim());
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
 * Which columns hold ink, and how tall the text is (rows with ink): gaps are judged against
 * the text's size, which varies in the crop with the box's margins.
 */
function inkProfile(crop: Crop): { ink: Uint8Array; textHeight: number } {
  const ink = new Uint8Array(crop.width);
  const columnInk = new Uint8Array(crop.width);
  const rowInk = new Int32Array(CROP_HEIGHT);
  const dark = inkThreshold(crop);
  // The crop has margins around the glyphs (unclip): skip the outer rows, where a
  // neighbouring line's descenders or noise may show.
  const top = Math.floor(CROP_HEIGHT * 0.1);
  const bottom = Math.ceil(CROP_HEIGHT * 0.9);
  for (let y = 0; y < CROP_HEIGHT; y++) {
    const row = y * crop.width;
    for (let x = 0; x < crop.width; x++) {
      if (crop.data[row + x] < dark) {
        rowInk[y]++;
        if (y >= top && y < bottom) columnInk[x]++;
      }
    }
  }
  for (let x = 0; x < crop.width; x++) ink[x] = columnInk[x] >= MIN_INK_PIXELS ? 1 : 0;
  const minRowInk = Math.max(2, crop.width * 0.01);
  let first = -1;
  let last = -1;
  for (let y = 0; y < CROP_HEIGHT; y++) {
    if (rowInk[y] >= minRowInk) {
      if (first < 0) first = y;
      last = y;
    }
  }
  const textHeight = first < 0 ? CROP_HEIGHT : Math.max(CROP_HEIGHT * 0.3, last - first + 1);
  return { ink, textHeight };
}

/** Halfway between paper and ink (scans are grey, noisy and of any contrast). */
function inkThreshold(crop: Crop): number {
  const histogram = new Uint32Array(256);
  for (const value of crop.data) histogram[value]++;
  const percentile = (p: number) => {
    let seen = 0;
    const target = crop.data.length * p;
    for (let v = 0; v < 256; v++) if ((seen += histogram[v]) >= target) return v;
    return 255;
  };
  const ink = percentile(0.03);
  const paper = percentile(0.6);
  return paper - ink < 40 ? ink - 1 : (ink + paper) / 2;
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
