import { unionBoxes } from '../extract/lines.js';
import type { Line } from '../types.js';
import { buildGrid, LEADER, NUMBER, type Piece, physicalLines, pieceColumnStarts, piecesFit, piecesOf, widenStrips } from './table-grid.js';
import type { FoundTable, TableLine } from './tables.js';

/*
 * Layout step: tables without rules, aligned by whitespace alone (word processors' plain tables,
 * statements, tables of contents). A row sets its cells apart with gaps wider than any word space
 * (or joins a label to its value with dot leaders); consecutive such rows whose cells line up in
 * the same columns are a table, with the lines between them that fit those columns (a wrapped
 * cell, a label alone on its line). A gap in one line of justified prose lines up with nothing,
 * and a list marker's gap is a list's.
 *
 * Producers draw a table row by row or cell by cell, so the text is first gathered into groups
 * of lines drawn one after the other and set close together (going back up beside what was drawn
 * is a cell of a row already seen), and each group is read line by line as it stands on the page.
 */

/** Cells of a row are at least this far apart (in body sizes); word spaces, even stretched, are narrower. */
const CELL_GAP = 1.0;
/** Lines of one table follow each other within this (in body sizes): more is a paragraph's spacing. */
const LINE_GAP = 1.0;
/**
 * ...except rows whose cells stand apart: word processors keep their paragraph spacing in table
 * cells (Word's Normal style adds 8 pt after each), so a row may sit this far under the last.
 */
const ROW_GAP = 2.5;
/** Rows set that far apart are a table from this many on: two could be run-in headings (a bold phrase, a quad, text) one under the other. */
const MIN_SPACED_ROWS = 3;
/** A table has at least this many rows set apart in columns. */
const MIN_ROWS = 2;
/** Cells of one column start, end or centre within this of each other (in body sizes); a closing parenthesis may hang past the figures. */
const ALIGN = 0.4;
/** What starts a list item: a bullet, a dash, or a number or letter with a dot or parenthesis. */
const LIST_MARKER = /^(?:[•◦▪▫■□●○‣∙·*–—-]|\(?(?:\d{1,3}|[a-zA-Z]|[ivxlcdm]{1,6})[.)])$/;
/** Cells that only hold a currency sign stand apart from the amount they belong to. */
const CURRENCY = /^[$€£¥]$/;

/** A line of text as it stands on the page (all pieces on one baseline), and the drawn lines it comes from. */
interface Row {
  pieces: Piece[];
  from: Set<number>;
  leader: boolean;
  y0: number;
  y1: number;
}

/** Tables found from alignment among the lines `free` allows, keyed by the index of their first line. */
export function unruledTables(lines: TableLine[], body: number, free: (i: number) => boolean): Map<number, FoundTable> {
  const found = new Map<number, FoundTable>();
  for (const group of drawnGroups(lines, body, free)) {
    if (!mayHoldRows(group, lines, body)) continue;
    const rows = rowsOf(group, lines);
    const margin = rightMargin(group, lines);
    const rowLike = rows.map((r) => isRowLike(r, body));
    let k = 0;
    while (k < rows.length) {
      const run = rowLike[k] ? tableFrom(rows, k, body, rowLike) : undefined;
      const indexes = run && contiguous(run.flatMap((r) => [...r.from]));
      const table = indexes && tableOf(run, indexes, lines, body, margin);
      if (!run || !indexes || !table) {
        k++;
        continue;
      }
      found.set(indexes[0], { block: table, end: indexes[indexes.length - 1] + 1 });
      k += run.length;
    }
  }
  return found;
}

/**
 * Runs of lines drawn one after the other in one text column, each set close under the ones
 * before it or beside them (a cell of a row already drawn).
 */
function drawnGroups(lines: TableLine[], body: number, free: (i: number) => boolean): number[][] {
  const groups: number[][] = [];
  let group: number[] = [];
  let top = 0;
  let bottom = 0;
  for (let i = 0; i < lines.length; i++) {
    const b = lines[i].line.bbox;
    // A row of cells may follow a row of cells (or a label) at a cell paragraph's spacing.
    const gap = group.length > 0 && (hasCellGap(lines[i].line, body) || hasCellGap(lines[group[group.length - 1]].line, body)) ? ROW_GAP : LINE_GAP;
    const joins = group.length > 0 && free(i) && lines[i].left === lines[group[0]].left && b.y0 <= bottom + body * gap && b.y1 >= top - body * 0.5;
    if (!joins) {
      if (group.length) groups.push(group);
      group = [];
      if (!free(i)) continue;
      top = b.y0;
      bottom = b.y1;
    }
    group.push(i);
    top = Math.min(top, b.y0);
    bottom = Math.max(bottom, b.y1);
  }
  if (group.length) groups.push(group);
  return groups;
}

/**
 * Can the group hold a row at all: a line with a cell's gap or dot leaders in it, or two lines
 * drawn on one baseline (cells drawn one by one)? Most groups are prose and are passed over here.
 */
function mayHoldRows(group: number[], lines: TableLine[], body: number): boolean {
  const baselines = new Set<number>();
  for (const i of group) {
    if (hasCellGap(lines[i].line, body)) return true;
    const key = Math.round(lines[i].line.bbox.y1);
    if (baselines.has(key) || baselines.has(key - 1) || baselines.has(key + 1)) return true;
    baselines.add(key);
  }
  return false;
}

/** A line with a cell's gap between two of its runs, or dot leaders. */
function hasCellGap(line: Line, body: number): boolean {
  const { runs } = line;
  for (let k = 1; k < runs.length; k++) if (runs[k].bbox.x0 - runs[k - 1].bbox.x1 >= body * CELL_GAP) return true;
  return LEADER.test(line.text);
}

/** A group's text as it stands on the page, line by line from the top. */
function rowsOf(group: number[], lines: TableLine[]): Row[] {
  const pieces: Array<Piece & { from: number }> = [];
  for (const i of group) for (const p of piecesOf(lines[i].line)) pieces.push({ ...p, from: i });
  return physicalLines(pieces).map((line) => {
    const from = new Set(line.map((p) => (p as Piece & { from: number }).from));
    return {
      pieces: line,
      from,
      leader: [...from].some((i) => LEADER.test(lines[i].line.text)),
      y0: Math.min(...line.map((p) => p.y0)),
      y1: Math.max(...line.map((p) => p.y1)),
    };
  });
}

/** Where the group's lines end when they run full (most end there, few beyond). */
function rightMargin(group: number[], lines: TableLine[]): number {
  const ends = group.map((i) => lines[i].line.bbox.x1).sort((a, b) => a - b);
  return ends[Math.floor((ends.length - 1) * 0.9)];
}

/**
 * A line that could be a table row: two or more pieces of text with a cell's gap (or dot leaders)
 * between two of them, not a list marker and its text, not code (a code line aligns its comments).
 */
function isRowLike(row: Row, body: number): boolean {
  const { pieces } = row;
  if (pieces.length < 2) return false;
  if (LIST_MARKER.test(pieces[0].text.trim())) return false;
  if (pieces.every((p) => p.runs.every((r) => r.monospace))) return false;
  if (row.leader) return true;
  return pieces.some((p, k) => k > 0 && p.x0 - pieces[k - 1].x1 >= body * CELL_GAP);
}

/**
 * The lines of the table starting with row `start`: following lines set close under each other,
 * rows whose cells keep two or more columns, and lines between rows that fit those columns.
 * Undefined when fewer than MIN_ROWS rows line up.
 */
function tableFrom(rows: Row[], start: number, body: number, rowLike: boolean[]): Row[] | undefined {
  const run = [rows[start]];
  let strips = widenStrips([], rows[start].pieces, body);
  // The widest spacing between two rows so far: the table's own, which its other lines keep too.
  let rowSpacing = LINE_GAP;
  for (let k = start + 1; k < rows.length; k++) {
    const last = run[run.length - 1];
    const gap = (rows[k].y0 - last.y1) / body;
    const betweenRows = rowLike[k] && rowLike[start + run.length - 1];
    if (gap > (betweenRows ? ROW_GAP : rowSpacing + LINE_GAP / 4)) break;
    if (betweenRows) rowSpacing = Math.max(rowSpacing, gap);
    if (rowLike[k]) {
      const widened = widenStrips(strips, rows[k].pieces, body);
      if (widened.length < 2) break;
      strips = widened;
    } else if (
      !sectionLabel(rows, k, strips, body, rowLike, rowSpacing + LINE_GAP / 4) &&
      (!piecesFit(
        rows[k].pieces,
        strips.map((c) => c.x0),
        body,
      ) ||
        rows[k].pieces.length > strips.length)
    ) {
      break;
    }
    run.push(rows[k]);
  }
  // A line after the last row that starts in the first column is the text after the table; one
  // further right goes on with a cell of that row.
  const second = strips[1]?.x0 ?? Infinity;
  while (run.length > 1 && !rowLike[start + run.length - 1] && run[run.length - 1].pieces[0].x0 < second - body * CELL_GAP) run.pop();
  return run.filter((_, j) => rowLike[start + j]).length >= (rowSpacing > LINE_GAP ? MIN_SPACED_ROWS : MIN_ROWS) ? run : undefined;
}

/**
 * A label alone on its line, left of every column so far, over a row that has a label of its own
 * there: a section's title in the label column (statements: "Assets" between the header and the
 * rows, which start the label column).
 */
function sectionLabel(rows: Row[], k: number, strips: Array<{ x0: number }>, body: number, rowLike: boolean[], maxGap: number): boolean {
  const [piece, ...more] = rows[k].pieces;
  const next = rows[k + 1];
  if (more.length > 0 || !next || !rowLike[k + 1] || next.y0 - rows[k].y1 > body * maxGap) return false;
  const first = strips[0].x0;
  return piece.x1 < first - body * CELL_GAP && next.pieces[0].x1 < first - body * CELL_GAP && next.pieces[0].x0 < piece.x1;
}

/** The sorted line indexes when they follow each other without a gap, else undefined. */
function contiguous(indexes: number[]): number[] | undefined {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  return sorted[sorted.length - 1] - sorted[0] === sorted.length - 1 ? sorted : undefined;
}

/**
 * Do the rows' cells line up? In every column after the first, the pieces that start a cell in
 * the body (after a cell's gap) all start, end or centre at one x, and the header's stand clear of
 * the cells of the columns beside them (a header may be centred over its column, or wider than
 * its cells); no line has a cell's gap inside one column.
 * The stretched spaces of justified prose fall anywhere, and its lines all end at the margin
 * (`margin`: where the surrounding text's full lines end).
 */
function aligned(rows: Row[], body: number, margin: number): boolean {
  const lines = rows.map((r) => r.pieces.filter((p) => !CURRENCY.test(p.text.trim())));
  const starts = pieceColumnStarts(lines.flat(), body);
  const column = (p: Piece) => starts.filter((x) => x <= p.x0 + body * ALIGN).length - 1;
  const heads = starts.map(() => [] as Piece[]);
  // The body's pieces by column: all of them, and those that start a cell after a gap.
  const all = starts.map(() => [] as Piece[]);
  const cells = starts.map(() => [] as Piece[]);
  for (const [r, pieces] of lines.entries()) {
    for (let k = 0; k < pieces.length; k++) {
      const p = pieces[k];
      // Stretched spaces of justified prose: a cell's gap inside what lines up as one column.
      if (k > 0 && column(p) === column(pieces[k - 1]) && p.x0 - pieces[k - 1].x1 >= body * CELL_GAP) return false;
      if (r === 0) heads[column(p)].push(p);
      else {
        all[column(p)].push(p);
        if (k > 0) cells[column(p)].push(p);
      }
    }
  }
  const tight = (xs: number[]) => Math.max(...xs) - Math.min(...xs) <= body * ALIGN;
  // Justified prose ends every line at one x, the margin: words line up on their right only
  // there, where numbers would.
  const words = (ps: Piece[]) => !ps.every((p) => NUMBER.test(p.text.trim()));
  const atMargin = (ps: Piece[]) => ps.every((p) => p.x1 >= margin - body * ALIGN) && words(ps);
  const ends = lines.filter((ps) => ps.length > 1).map((ps) => ps[ps.length - 1]);
  // (A header's last cell is a word over a column of numbers: the body's ends tell.)
  const bodyEnds = lines
    .slice(1)
    .filter((ps) => ps.length > 1)
    .map((ps) => ps[ps.length - 1]);
  if (ends.length > 1 && tight(ends.map((p) => p.x1)) && !tight(ends.map((p) => p.x0)) && words(bodyEnds.length ? bodyEnds : ends)) return false;
  return cells.every((ps, c) => {
    if (c === 0 || ps.length === 0) return true;
    const lined = tight(ps.map((p) => p.x0)) || (tight(ps.map((p) => p.x1)) && !atMargin(ps)) || tight(ps.map((p) => (p.x0 + p.x1) / 2));
    // The header stands clear of the cells of the columns beside it.
    const left = Math.max(-Infinity, ...all.slice(0, c).flatMap((before) => before.map((p) => p.x1)));
    const right = Math.min(Infinity, ...all.slice(c + 1).flatMap((after) => after.map((p) => p.x0)));
    return lined && heads[c].every((h) => h.x0 > left && h.x1 < right);
  });
}

function tableOf(rows: Row[], indexes: number[], lines: TableLine[], body: number, margin: number): FoundTable['block'] | undefined {
  if (!aligned(rows, body, margin)) return undefined;
  const tableLines: Line[] = indexes.map((i) => lines[i].line);
  const grid = buildGrid({ lines: tableLines, body, verticals: [], separators: [], partials: [], ruledRows: false });
  if (!grid || grid.columns < 2 || grid.rows.length < MIN_ROWS) return undefined;
  return {
    type: 'table',
    bbox: unionBoxes(tableLines.map((l) => l.bbox)),
    rows: grid.rows,
    ...(grid.headerRows > 1 ? { headerRows: grid.headerRows } : {}),
    ...(grid.spans.length ? { spans: grid.spans } : {}),
    lines: tableLines,
  };
}
