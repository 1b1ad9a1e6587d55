import type { Block, Line, TextRun } from '../types.js';
import { inlineMarkdown } from './inline.js';
import { firstWordWidth, unionBoxes } from '../extract/lines.js';

/**
 * Layout step: tables from text alignment. A table row sets its cells side by side with wide
 * gaps, inset from the text margin by the cell padding, and rows follow each other closely.
 * Producers draw a table cell by cell, row by row, so walking the runs in drawing order and
 * placing each in the column whose left edge it starts at recovers the cells: a run in a
 * column left of the previous one starts a new row, one in the same column continues the cell
 * (a wrapped line).
 */

export interface FoundTable {
  block: Omit<Block, 'page'>;
  /** Index after the table's last line. */
  end: number;
}

export interface TableLine {
  line: Line;
  /** Left margin of the line's text column. */
  left: number;
}

/**
 * Tables found on a page, keyed by the index of their first line. `carried`: the column starts of
 * a table that ended the page before, which the page's first line may go on with (rows of code
 * cells have no other sign of being a table).
 */
export function detectTables(lines: TableLine[], body: number, carried?: number[]): Map<number, FoundTable> {
  const found = new Map<number, FoundTable>();
  let i = 0;
  while (i < lines.length) {
    if (!startsRow(lines, i, body) && !(i === 0 && carried && alignsWith(lines[0].line, carried, body))) {
      i++;
      continue;
    }
    let end = i + 1;
    let bottom = lines[i].line.bbox.y1;
    while (end < lines.length && belongs(lines[end], lines[i], bottom, body)) {
      bottom = Math.max(bottom, lines[end].line.bbox.y1);
      end++;
    }
    const rows = toRows(
      lines.slice(i, end).map((l) => l.line),
      body,
    );
    if (rows && rows.length >= 2) {
      const all = lines.slice(i, end).map((l) => l.line);
      found.set(i, { block: { type: 'table', bbox: unionBoxes(all.map((l) => l.bbox)), rows, lines: all }, end });
      i = end;
    } else {
      i++;
    }
  }
  return found;
}

/** Two or more cells, each starting at one of the columns. */
function alignsWith(line: Line, columns: number[], body: number): boolean {
  const starts = line.runs.filter((run, k) => k === 0 || run.bbox.x0 - line.runs[k - 1].bbox.x1 > body * 1.5).map((run) => run.bbox.x0);
  return starts.length >= 2 && starts.every((x) => columns.some((c) => Math.abs(x - c) < body * 0.5));
}

function wideGaps(line: Line, body: number): number {
  let n = 0;
  for (let k = 1; k < line.runs.length; k++) {
    if (line.runs[k].bbox.x0 - line.runs[k - 1].bbox.x1 > body * 1.5) n++;
  }
  return n;
}

function startsRow(lines: TableLine[], i: number, body: number): boolean {
  const t = lines[i];
  const { line } = t;
  if (line.bbox.x0 < t.left + body * 0.4) return false; // tables are inset by their cell padding
  // A line of code may hold one wide alignment gap; three cells of code are a table row.
  const code = !line.runs.some((r) => !r.monospace && /\w/.test(r.text));
  const gaps = wideGaps(line, body);
  if (code ? gaps >= 2 : gaps >= 1) return true;
  if (gaps > 0) return false;
  // A first cell that wraps: the next cell of the row is drawn after it, back up beside its first
  // line and to the right (a column break goes further up). A wrapped line may start a little
  // left of the first (padding drawn inside an inline-code run).
  for (let k = i + 1; k < Math.min(lines.length, i + 9); k++) {
    const next = lines[k].line;
    const beside = next.bbox.y0 < line.bbox.y1 - 1 && next.bbox.y1 > line.bbox.y0 + 1;
    if (beside && next.bbox.x0 > line.bbox.x1 + body * 0.5) return true;
    if (next.bbox.x0 < line.bbox.x0 - body * 0.5) return false;
  }
  return false;
}

function belongs(t: TableLine, first: TableLine, bottom: number, body: number): boolean {
  if (t.left !== first.left) return false;
  if (t.line.bbox.x0 < Math.min(first.line.bbox.x0, t.left + body * 0.4) - 1) return false; // back at the text margin
  const gap = t.line.bbox.y0 - bottom;
  return gap < body * 1.3 && gap > -body * 40; // cells of one row may start above the last line seen
}

function toRows(lines: Line[], body: number): string[][] | undefined {
  const starts = columnStarts(lines, body);
  if (starts.length < 2) return undefined;
  const columnOf = (run: TextRun): number => {
    let c = 0;
    for (let k = 0; k < starts.length; k++) if (run.bbox.x0 >= starts[k] - body * 0.5) c = k;
    return c;
  };
  const rows: Line[][][] = [];
  let row: Line[][] | undefined;
  let prevCol = Infinity;
  let prevRun: TextRun | undefined;
  for (const line of lines) {
    line.runs.forEach((run, k) => {
      // A run a word space after the one before it is more of the same cell's text (inline code
      // in a sentence), wherever it starts.
      const c = k > 0 && run.bbox.x0 - line.runs[k - 1].bbox.x1 < body * 0.8 ? prevCol : columnOf(run);
      if (!row || c < prevCol || (c === prevCol && prevRun && run.bbox.y0 > prevRun.bbox.y1 + body * 0.8)) {
        row = starts.map(() => []);
        rows.push(row);
      }
      const cell = row[c];
      const last = cell[cell.length - 1];
      if (last && Math.abs(last.bbox.y1 - run.bbox.y1) < run.fontSize * 0.5) {
        last.runs.push(run);
        last.text += ' ' + run.text;
        last.bbox = unionBoxes([last.bbox, run.bbox]);
      } else {
        cell.push({ runs: [run], text: run.text, bbox: { ...run.bbox }, fontSize: run.fontSize });
      }
      prevCol = c;
      prevRun = run;
    });
  }
  const columns = withoutHeaderOnlyColumns(rows);
  const widths = columns.map((c) => Math.max(0, ...rows.flatMap((r) => r[c].map((l) => l.bbox.x1 - l.bbox.x0))));
  return rows.map((r) => columns.map((c, k) => cellText(unbreakWords(r[c]), widths[k])));
}

/**
 * The columns to keep. A header cell centred over a wide column starts right of the column's
 * data, where no data cell starts: a column holding only a header cell, beside an empty header
 * cell on its left, is that header, and the header moves there.
 */
function withoutHeaderOnlyColumns(rows: Line[][][]): number[] {
  const columns = rows[0].map((_, c) => c);
  if (rows.length < 2) return columns;
  const header = rows[0];
  for (let c = header.length - 1; c > 0; c--) {
    if (header[c].length === 0 || rows.some((r, k) => k > 0 && r[c].length > 0)) continue;
    const left = columns.indexOf(c) - 1;
    if (left < 0 || header[columns[left]].length > 0) continue;
    header[columns[left]] = header[c];
    columns.splice(left + 1, 1);
  }
  return columns;
}

/**
 * A cell's text: its lines joined, with a "\n" where the text was broken on purpose (items of a
 * list, separate paragraphs) rather than wrapped. A wrapped line fills its column: the next
 * line's first word would not have fitted after it. A line that stopped well short of that
 * (by two em, so narrow columns and hyphen breaks stay wrapped) ends where the author ended it.
 * A bold cell (a header) loses its stars.
 */
function cellText(cell: Line[], columnWidth: number): string {
  if (cell.length === 0) return '';
  const parts: Line[][] = [[cell[0]]];
  for (let k = 1; k < cell.length; k++) {
    const prev = cell[k - 1];
    const line = cell[k];
    const size = Math.max(prev.fontSize, line.fontSize);
    const room = columnWidth - (prev.bbox.x1 - prev.bbox.x0) - size * 0.3;
    const hardBreak = !prev.text.endsWith('-') && firstWordWidth(line) < room - size * 2;
    if (hardBreak) parts.push([line]);
    else parts[parts.length - 1].push(line);
  }
  return parts.map((lines) => inlineMarkdown(lines).replace(/^\*\*(.*)\*\*$/, '$1')).join('\n');
}

/**
 * A word too long for its cell is broken across lines without a hyphen: a line that is a single
 * word filling the cell's width continues in the next line without a space. The continuation's
 * runs are moved onto the line they continue, so inline rendering joins them tightly.
 */
function unbreakWords(cell: Line[]): Line[] {
  const right = Math.max(...cell.map((l) => l.bbox.x1));
  const out: Line[] = [];
  for (const line of cell) {
    const prev = out[out.length - 1];
    const charWidth = prev ? (prev.bbox.x1 - prev.bbox.x0) / Math.max(1, prev.text.length) : 0;
    if (prev && !/\s/.test(prev.text.trim()) && prev.bbox.x1 >= right - charWidth * 1.5 && /^\S/.test(line.text)) {
      let x = prev.bbox.x1;
      const moved = line.runs.map((r) => {
        const w = r.bbox.x1 - r.bbox.x0;
        const bbox = { x0: x, x1: x + w, y0: prev.bbox.y0, y1: prev.bbox.y1 };
        x += w + (r === line.runs[line.runs.length - 1] ? 0 : charWidth);
        return { ...r, bbox };
      });
      out[out.length - 1] = {
        ...prev,
        runs: [...prev.runs, ...moved],
        text: prev.text + line.text,
        bbox: unionBoxes([prev.bbox, ...moved.map((r) => r.bbox)]),
      };
    } else {
      out.push(line);
    }
  }
  return out;
}

/**
 * Left edges of the columns: where text starts after a wide gap, or at the start of a line.
 * Header cells are often centred, so the first line only counts when the others are not enough.
 */
export function columnStarts(lines: Line[], body: number): number[] {
  const starts = cellStarts(lines.slice(1), body);
  return starts.length >= 2 ? starts : cellStarts(lines, body);
}

function cellStarts(lines: Line[], body: number): number[] {
  const xs: number[] = [];
  for (const line of lines) {
    line.runs.forEach((run, k) => {
      if (k === 0 || run.bbox.x0 - line.runs[k - 1].bbox.x1 > body * 1.5) xs.push(run.bbox.x0);
    });
  }
  xs.sort((a, b) => a - b);
  const clusters: { x: number; n: number }[] = [];
  for (const x of xs) {
    const last = clusters[clusters.length - 1];
    if (last && x - last.x < body * 1.2) last.n++;
    else clusters.push({ x, n: 1 });
  }
  return clusters.map((c) => c.x);
}
