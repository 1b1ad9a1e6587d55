import { makeLine } from '../extract/lines.js';
import type { Line, Page, TextRun } from '../types.js';

// Layout step: drop page furniture — running heads and feet, page numbers, journal lines, DOIs,
// "Downloaded from …" stamps, licence lines and line numbers. Furniture is recognised by where
// it sits (the outermost lines of the page, set apart from the body by a wider gap than the
// body's own spacing), what it says and how it is set; repeating on several pages is one more
// sign, not a condition, so a single page cut out of a longer document loses it too.

/** Share of the page height at the top where furniture may sit. */
const TOP_ZONE = 0.12;
/** And at the bottom: LaTeX's default A4 page sets its number 18 % up. */
const BOTTOM_ZONE = 0.2;
/** Space between furniture and the body, in line heights: wider than paragraph spacing (about 1) and than a heading's space (about 1.5) in body text. */
const SEPARATION = 1.2;
/** A line repeated (digits ignored) on this share of the pages is running text. */
const REPEAT_SHARE = 0.4;
/** Set this much smaller than the body text: a running head, not a heading or body text. */
const SMALLER = 0.95;
/** Running heads are short: a separated top line longer than this is body text. */
const MAX_HEAD_CHARS = 140;
/** Line numbers: at least this many on a page before a margin column of numbers counts as one. */
const MIN_LINE_NUMBERS = 5;
/** With fewer pages, repetition says nothing and a running head is told by its look. */
const MIN_PAGES_FOR_REPEATS = 3;
/** How far (pt) a line may stand out of the band where a document's repeated furniture sits. */
const BAND_SLACK = 2;
/** Share of a line-number column that must count up down the page (a few may be misread). */
const LINE_NUMBERS_RISING = 0.8;
const NUMBER = /^\s*\d{1,4}\s*$/;

/** A page number: arabic, or roman with an i, v or x in it (a lone "d" or "c" is a letter, a table cell's last one). */
const PAGE_NUMBER =
  /^(?:page|p\.|seite|pág\.?)?\s*[-–—]?\s*(?:\d{1,4}|(?=[ivxlcdm]*[ivx])[ivxlcdm]{1,7})\s*[-–—]?(?:\s*(?:of|\/|von|de)\s*\d{1,4})?$/i;
/** Page number beside a running title: "12 | Journal of Things" or "Journal of Things 12". */
const NUMBERED_HEAD = /^\d{1,4}\s*[|·•]\s*\S|\S\s*[|·•]\s*\d{1,4}$/;
/** What only furniture says: DOIs, download stamps, licences, journal volume lines, preprint ids. */
const FURNITURE_CONTENT = [
  /\bdoi(?:\.org)?[:/]\s*10\.\d{4,}/i,
  /^(?:https?:\/\/)?(?:dx\.)?doi\.org\//i,
  /\bdownloaded\s+from\b/i,
  /\b(?:©|\(c\)|copyright)\s*(?:\d{4}|by\b)/i,
  /\ball rights reserved\b/i,
  /\b(?:licen[cs]ed?|creative commons|cc[- ]by(?:[- ](?:nc|nd|sa))*)\b.*\b(?:licen[cs]e|\d\.\d|international)\b/i,
  /\bvol(?:ume)?\.?\s*\d+\b.*\b(?:no\.?|issue|pp\.?|pages?)\s*\d+/i,
  /\barxiv:\s*\d{4}\.\d{4,5}/i,
  /^\s*(?:preprint|accepted manuscript|author manuscript)\b/i,
  /\bissn\b\s*[:\s]\s*\d{4}-\d{3}[\dx]/i,
];

interface Candidate {
  line: Line;
  page: Page;
  top: boolean;
}

export function removeFurniture(pages: Page[]): void {
  const textPages = pages.filter((p) => p.lines.length > 0);
  const body = bodySize(textPages);
  const candidates = textPages.flatMap((page) => outerLines(page));
  // Repetition: the same text (numbers masked) in the same band of several pages.
  const counts = new Map<string, number>();
  for (const page of textPages) {
    const seen = new Set<string>();
    for (const c of candidates) if (c.page === page) seen.add(signature(c));
    for (const key of seen) counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const minRepeats = Math.max(2, Math.ceil(textPages.length * REPEAT_SHARE));
  const repeated = (c: Candidate) => textPages.length >= 2 && (counts.get(signature(c)) ?? 0) >= minRepeats;
  // Where the repeated lines sit: another line there on one page (a first page's journal line,
  // a chapter's own head) is furniture too.
  const bands = { top: bandOf(candidates.filter((c) => c.top && repeated(c))), bottom: bandOf(candidates.filter((c) => !c.top && repeated(c))) };
  const fewPages = textPages.length < MIN_PAGES_FOR_REPEATS;
  const drop = new Set<Line>();
  for (const c of candidates) {
    const band = c.top ? bands.top : bands.bottom;
    const inBand = band !== undefined && c.line.bbox.y0 >= band.y0 - BAND_SLACK && c.line.bbox.y1 <= band.y1 + BAND_SLACK;
    if (repeated(c) || inBand || saysFurniture(c.line) || (fewPages && looksLikeRunningHead(c, body))) drop.add(c.line);
  }
  for (const page of textPages) {
    if (drop.size) page.lines = page.lines.filter((l) => !drop.has(l));
    removeLineNumbers(page);
  }
}

function bandOf(candidates: Candidate[]): { y0: number; y1: number } | undefined {
  if (candidates.length === 0) return undefined;
  return { y0: Math.min(...candidates.map((c) => c.line.bbox.y0)), y1: Math.max(...candidates.map((c) => c.line.bbox.y1)) };
}

/** Page numbers and what only furniture says. */
function saysFurniture(line: Line): boolean {
  const text = line.text.trim();
  return PAGE_NUMBER.test(text) || NUMBERED_HEAD.test(text) || FURNITURE_CONTENT.some((re) => re.test(text));
}

/**
 * A running head told by its look alone (when there are too few pages to see it repeat): a
 * short line over the body, not code, set smaller than the body or split into a left and a right part.
 * Not on an OCR'd page: its sizes are measured from the boxes the model found, per page, not set
 * by the producer, so a page's first heading can measure smaller than another page's body; there
 * only what the line says (a page number, a DOI, …) or repetition makes it furniture.
 */
function looksLikeRunningHead({ line, page, top }: Candidate, body: number): boolean {
  if (!top || page.source === 'ocr' || line.text.length > MAX_HEAD_CHARS || line.runs.every((r) => r.monospace)) return false;
  return line.fontSize <= body * SMALLER || splitAcrossPage(line, body);
}

/** A line whose parts sit apart at both sides (title left, version or number right). */
function splitAcrossPage(line: Line, body: number): boolean {
  for (let k = 1; k < line.runs.length; k++) if (line.runs[k].bbox.x0 - line.runs[k - 1].bbox.x1 > body * 4) return true;
  return false;
}

/**
 * The page's outermost lines that are set apart from the rest: from the top down (and the
 * bottom up) while lines stay in the zone; the group counts if a wide gap follows it.
 */
function outerLines(page: Page): Candidate[] {
  const sorted = [...page.lines].sort((a, b) => a.bbox.y0 - b.bbox.y0);
  const out: Candidate[] = [];
  for (const top of [true, false]) {
    const ordered = top ? sorted : [...sorted].reverse();
    const group: Line[] = [];
    for (const line of ordered) {
      const inZone = top ? line.bbox.y1 <= page.height * TOP_ZONE : line.bbox.y0 >= page.height * (1 - BOTTOM_ZONE);
      const last = group[group.length - 1];
      const apart = last !== undefined && gap(last, line) >= SEPARATION * Math.max(last.fontSize, line.fontSize);
      if (inZone && !apart) {
        group.push(line);
        continue;
      }
      // The first line past the group: the group is furniture only if a wide gap parts them.
      if (apart) for (const g of group) out.push({ line: g, page, top });
      break;
    }
  }
  return out;
}

function gap(a: Line, b: Line): number {
  return Math.max(a.bbox.y0, b.bbox.y0) - Math.min(a.bbox.y1, b.bbox.y1);
}

/** The text with numbers masked and the band it sits in, so "Page 3 of 8" and "Page 4 of 8" match. */
function signature({ line, top }: Candidate): string {
  return (top ? 't:' : 'b:') + line.text.replace(/\d+/g, '#').replace(/\s+/g, ' ').trim().toLowerCase();
}

/** The size most prose is set in (lines of code are set smaller and would hide it). */
function bodySize(pages: Page[]): number {
  const weight = new Map<number, number>();
  for (const page of pages)
    for (const line of page.lines) {
      if (line.runs[0].monospace) continue;
      const size = Math.round(line.fontSize * 10) / 10;
      weight.set(size, (weight.get(size) ?? 0) + line.text.length);
    }
  let best = 0;
  let most = 0;
  for (const [size, w] of weight) if (w > most) [best, most] = [size, w];
  return best;
}

/**
 * Line numbers (manuscripts, legal texts): small integers in a column of their own beside the
 * text, one per line, counting up down the page. pdfjs gives each either as a line of its own or
 * as the first or last run of the line it numbers, set apart from the text.
 */
function removeLineNumbers(page: Page): void {
  const marks: Array<{ line: Line; run: TextRun; at: 'alone' | 'first' | 'last' }> = [];
  for (const line of page.lines) {
    const { runs } = line;
    const first = runs[0];
    const last = runs[runs.length - 1];
    // Most lines neither start nor end with a digit.
    if (!isDigit(first.text.charCodeAt(first.text.length - 1)) && !isDigit(last.text.charCodeAt(last.text.length - 1))) continue;
    if (runs.length === 1 && NUMBER.test(first.text)) marks.push({ line, run: first, at: 'alone' });
    else if (runs.length > 1 && NUMBER.test(first.text) && runs[1].bbox.x0 - first.bbox.x1 > first.fontSize * 1.5)
      marks.push({ line, run: first, at: 'first' });
    else if (runs.length > 1 && NUMBER.test(last.text) && last.bbox.x0 - runs[runs.length - 2].bbox.x1 > last.fontSize * 1.5)
      marks.push({ line, run: last, at: 'last' });
  }
  if (marks.length < MIN_LINE_NUMBERS) return;
  // The biggest set of marks ending at one x (numbers are right-aligned in their column).
  const byX = new Map<number, typeof marks>();
  for (const m of marks) {
    const x = Math.round(m.run.bbox.x1 / 3);
    const list = byX.get(x) ?? [];
    list.push(m);
    byX.set(x, list);
  }
  const column = [...byX.values()].sort((a, b) => b.length - a.length)[0];
  if (!column || column.length < MIN_LINE_NUMBERS) return;
  // Beside the text: no other line starts left of a left column's numbers (or ends right of a right column's).
  const others = page.lines.filter((l) => !column.some((m) => m.line === l && m.at === 'alone'));
  const x0 = Math.min(...column.map((m) => m.run.bbox.x0));
  const x1 = Math.max(...column.map((m) => m.run.bbox.x1));
  const textLeft = Math.min(...others.map((l) => (column.some((m) => m.line === l && m.at === 'first') ? l.runs[1].bbox.x0 : l.bbox.x0)));
  const textRight = Math.max(
    ...others.map((l) => (column.some((m) => m.line === l && m.at === 'last') ? l.runs[l.runs.length - 2].bbox.x1 : l.bbox.x1)),
  );
  if (!(x1 < textLeft || x0 > textRight)) return;
  const values = [...column].sort((a, b) => a.line.bbox.y0 - b.line.bbox.y0).map((m) => Number(m.run.text.trim()));
  const rising = values.filter((v, k) => k === 0 || v > values[k - 1]).length;
  if (rising < values.length * LINE_NUMBERS_RISING) return;
  const strip = new Map(column.map((m) => [m.line, m]));
  page.lines = page.lines.flatMap((line) => {
    const mark = strip.get(line);
    if (!mark) return [line];
    if (mark.at === 'alone') return [];
    return [makeLine(mark.at === 'first' ? line.runs.slice(1) : line.runs.slice(0, -1))];
  });
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}
