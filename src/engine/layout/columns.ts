import type { Line, Page } from '../types.js';

/**
 * Layout step: the document's text columns. Body text starts at the same x on every page of a
 * column, so the left margins are the most frequent line starts; a second margin well to the
 * right of the first is a second column. Each line then belongs to the rightmost margin at or
 * left of its start, and the column's right edge is the furthest line end seen in it.
 */
export interface Column {
  left: number;
  /** The furthest any line of the column reaches. */
  right: number;
  /** Where its prose wraps (a line that stops well short of it was ended on purpose). */
  wrap: number;
}

export interface Layout {
  columns: Column[];
  /** Font size carrying the most characters. */
  bodySize: number;
}

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
    else if (peak.x - last > width * 0.3 && isGutter(lines, last, peak.x - 1)) lefts.push(peak.x - 1);
  }
  if (lefts.length === 0) lefts.push(0);
  const columns = lefts.map((left) => ({ left, right: left, wrap: left }));
  const ends: number[][] = columns.map(() => []);
  for (const page of pages) {
    for (const line of page.lines) {
      const i = columnIndexOf(columns, line);
      columns[i].right = Math.max(columns[i].right, line.bbox.x1);
      ends[i].push(line.bbox.x1);
    }
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
  return { columns, bodySize };
}

/**
 * Share of the lines left of a gutter that may run across it: tables and code that overflow
 * their column (LaTeX lets a too-wide tabular run into the next column).
 */
const GUTTER_CROSSING = 0.1;

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
