import type { Line, Page } from '../types.js';

// Layout step: the document's text columns. Body text starts at the same x on every page of a
// column, so the left margins are the most frequent line starts; a second margin well to the
// right of the first is a second column. Columns whose lines start at many x (lists, code) show
// no peak: their gutter is found instead, a band few lines cross. Each page is checked on its own
// (a page whose table runs across the gutter, a one-column title page in a two-column paper, a
// two-column page in a document mostly set in one). Each line then belongs to the rightmost
// margin at or left of its start, and a column's right edge is the furthest line end seen in it.

export interface Column {
  left: number;
  /** The furthest any line of the column reaches. */
  right: number;
  /** Where its prose wraps (a line that stops well short of it was ended on purpose). */
  wrap: number;
}

export interface Layout {
  /** The document's columns. */
  columns: Column[];
  /** Each page's columns, by page index, where they differ from the document's. */
  pages: Map<number, Column[]>;
  /** Font size carrying the most characters. */
  bodySize: number;
}

/** Column margins stand at least this share of the page width apart (three columns on A4 do; indents do not). */
const MIN_COLUMN_WIDTH = 0.2;
/** A page needs this many lines before its own columns are looked for. */
const MIN_PAGE_LINES = 15;
/** Share of a page's lines crossing the document's gutter that makes it a one-column page. */
const FULL_WIDTH_PAGE = 0.3;

export function analyseLayout(pages: Page[]): Layout {
  const starts = new Map<number, number>();
  const sizes = new Map<number, number>();
  let total = 0;
  let width = 0;
  for (const page of pages) {
    width = Math.max(width, page.width);
    for (const line of page.lines) {
      const x = Math.round(line.bbox.x0);
      starts.set(x, (starts.get(x) ?? 0) + line.text.length);
      total += line.text.length;
      for (const run of line.runs) {
        if (run.monospace) continue; // code is set smaller and would hide the body size
        const size = Math.round(run.fontSize * 10) / 10;
        sizes.set(size, (sizes.get(size) ?? 0) + run.text.length);
      }
    }
  }
  const bodySize = [...sizes].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 10;
  // Merge neighbouring x values (±1 pt) into peaks, keep those carrying a fair share of the text.
  const peaks = [...starts]
    .map(([x]) => ({ x, weight: (starts.get(x - 1) ?? 0) + (starts.get(x) ?? 0) + (starts.get(x + 1) ?? 0) }))
    .filter((p) => p.weight >= total * 0.03)
    .sort((a, b) => a.x - b.x);
  const lines = pages.flatMap((p) => p.lines);
  const lefts: number[] = [];
  for (const peak of peaks) {
    const last = lefts[lefts.length - 1];
    if (last === undefined) lefts.push(peak.x - 1);
    else if (peak.x - last > width * MIN_COLUMN_WIDTH && isGutter(lines, last, peak.x - 1)) lefts.push(peak.x - 1);
  }
  if (lefts.length === 0) lefts.push(0);
  // Columns whose text starts at many x (lists, code, indents) show no single peak: look for the
  // gutter itself, a band few lines cross with a good share of the text on its right.
  if (lefts.length === 1) {
    const second = gutterScan(lines, lefts[0], width, total);
    if (second !== undefined) lefts.push(second);
  }
  // Each page's own margins, where they differ; pages with the same margins share their columns.
  const byPage = new Map<number, number[]>();
  for (const page of pages) {
    if (page.lines.length < MIN_PAGE_LINES) continue;
    const own = pageLefts(page, lefts);
    if (own.join() !== lefts.join()) byPage.set(page.index, own);
  }
  const sets = new Map<string, { lefts: number[]; lines: Line[] }>();
  const key = (l: number[]) => l.join();
  sets.set(key(lefts), { lefts, lines: [] });
  for (const page of pages) {
    const l = byPage.get(page.index) ?? lefts;
    const set = sets.get(key(l)) ?? { lefts: l, lines: [] };
    set.lines.push(...page.lines);
    sets.set(key(l), set);
  }
  const built = new Map<string, Column[]>();
  for (const [k, set] of sets) built.set(k, buildColumns(set.lefts, set.lines));
  const layoutPages = new Map<number, Column[]>();
  for (const [index, l] of byPage) layoutPages.set(index, built.get(key(l))!);
  return { columns: built.get(key(lefts))!, pages: layoutPages, bodySize };
}

/** The page's margins: the document's, one column if its lines run across the gutter, two if a gutter shows on it alone. */
function pageLefts(page: Page, lefts: number[]): number[] {
  const lines = page.lines;
  if (lefts.length >= 2) {
    const gutter = lefts[1];
    const crossing = lines.filter((l) => l.bbox.x0 < gutter - 2 && l.bbox.x1 > gutter + 2).length;
    return crossing > lines.length * FULL_WIDTH_PAGE ? [lefts[0]] : lefts;
  }
  const total = lines.reduce((n, l) => n + l.text.length, 0);
  const second = gutterScan(lines, lefts[0], page.width, total, true);
  return second === undefined ? lefts : [lefts[0], second];
}

/** Columns from their left margins and the lines set in them. */
function buildColumns(lefts: number[], lines: Line[]): Column[] {
  const columns = lefts.map((left) => ({ left, right: left, wrap: left }));
  const ends: number[][] = columns.map(() => []);
  for (const line of lines) {
    const i = columnIndexOf(columns, line);
    columns[i].right = Math.max(columns[i].right, line.bbox.x1);
    ends[i].push(line.bbox.x1);
  }
  // Where the column's prose wraps: nearly the furthest line end, not the very furthest (a code
  // line or a wide table can run past the text's edge).
  columns.forEach((col, i) => {
    const sorted = ends[i].sort((a, b) => a - b);
    if (sorted.length) col.wrap = Math.max(col.left, sorted[Math.floor((sorted.length - 1) * 0.95)]);
  });
  // Column right edges: a line never runs past the next column's left margin.
  for (let i = 0; i + 1 < columns.length; i++) {
    columns[i].right = Math.min(columns[i].right, columns[i + 1].left);
    columns[i].wrap = Math.min(columns[i].wrap, columns[i].right);
  }
  return columns;
}

/** The columns of a page. */
export function columnsOf(layout: Layout, page: number): Column[] {
  return layout.pages.get(page) ?? layout.columns;
}

/**
 * Share of the lines left of a gutter that may run across it: tables and code that overflow
 * their column (LaTeX lets a too-wide tabular run into the next column).
 */
const GUTTER_CROSSING = 0.1;

/** Where a gutter may lie, as shares of the page width. */
const GUTTER_FROM = 0.3;
const GUTTER_TO = 0.7;
/** Share of the text a second column holds at least. */
const SECOND_COLUMN_SHARE = 0.2;
/** Turns between the two sides of a gutter, per line, that text columns stay under. */
const MAX_COLUMN_TURNS = 0.1;
/** Crossing shares this close are equally good gutters. */
const GUTTER_TIE = 0.02;
/** Step (pt) of the gutter scan. */
const GUTTER_STEP = 3;

/** The left margin of a second column found by its gutter, if there is one. */
function gutterScan(lines: Line[], left: number, width: number, total: number, onePage = false): number | undefined {
  // Most pages have too little text right of where a gutter could start: nothing to scan.
  const from = left + width * GUTTER_FROM;
  let beyond = 0;
  for (const line of lines) if (line.bbox.x0 >= from) beyond += line.text.length;
  if (beyond < total * SECOND_COLUMN_SHARE) return undefined;
  let best: { x: number; crossing: number } | undefined;
  for (let x = from; x <= width * GUTTER_TO; x += GUTTER_STEP) {
    let before = 0;
    let crossing = 0;
    let right = 0;
    for (const line of lines) {
      if (line.bbox.x0 >= x) right += line.text.length;
      else if (line.bbox.x0 < x - 2) {
        before++;
        if (line.bbox.x1 > x + 2 && !(onePage && overprinted(lines, line, x))) crossing++;
      }
    }
    if (right < total * SECOND_COLUMN_SHARE || before === 0 || crossing > before * GUTTER_CROSSING) continue;
    // The leftmost of the least crossed: a gutter is the first clear band (further right, the
    // lines of the second column's own indents cross less and less).
    if (!best || crossing / before < best.crossing - GUTTER_TIE) best = { x, crossing: crossing / before };
  }
  if (!best) return undefined;
  // Text columns are drawn one after the other; the columns of a table take turns, row by row.
  let turns = 0;
  for (let k = 1; k < lines.length; k++) if (lines[k].bbox.x0 >= best.x !== lines[k - 1].bbox.x0 >= best.x) turns++;
  if (turns > lines.length * MAX_COLUMN_TURNS + 4) return undefined;
  // The column's margin: where most of the text right of the gutter starts.
  const starts = new Map<number, number>();
  for (const line of lines)
    if (line.bbox.x0 >= best.x) starts.set(Math.round(line.bbox.x0), (starts.get(Math.round(line.bbox.x0)) ?? 0) + line.text.length);
  const margin = [...starts].sort((a, b) => b[1] - a[1])[0][0];
  // Lines a little left of the most used start (a heading, a number) belong to the column too.
  const lefts = [...starts.keys()].filter((x) => x <= margin && x >= best.x);
  return Math.min(...lefts) - 1;
}

/**
 * A line of the page running over x and printed over a line that starts right of x: a table
 * overflowing its column into the next (LaTeX sets it over the text there), not a line of a
 * one-column page, where no text overlaps another (the cells of a row stand apart).
 */
function overprinted(lines: Line[], line: Line, x: number): boolean {
  return lines.some((other) => other.bbox.x0 >= x && other.bbox.x0 < line.bbox.x1 && other.bbox.y0 < line.bbox.y1 && other.bbox.y1 > line.bbox.y0);
}

/** A second column starts at x when the text of the column before it (almost) never crosses x. */
function isGutter(lines: Line[], from: number, x: number): boolean {
  let before = 0;
  let crossing = 0;
  for (const line of lines) {
    if (line.bbox.x0 < from - 2 || line.bbox.x0 >= x - 2) continue;
    before++;
    if (line.bbox.x1 > x + 2) crossing++;
  }
  return before > 0 && crossing <= before * GUTTER_CROSSING;
}

export function columnIndexOf(columns: Column[], line: Line): number {
  let index = 0;
  for (let i = 0; i < columns.length; i++) if (line.bbox.x0 >= columns[i].left - 2) index = i;
  return index;
}
