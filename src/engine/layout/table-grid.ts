import { firstWordWidth, makeLine, unionBoxes } from '../extract/lines.js';
import type { Line, TableSpan, TextRun } from '../types.js';
import { inlineMarkdown } from './inline.js';

/*
 * Layout step: the cells of a table whose place on the page is known (from its rules or its
 * alignment). Text is cut into pieces where a gap wider than a word space opens; columns are
 * where the body's pieces stand, separated by strips no piece of the body crosses (or by the
 * table's vertical rules); rows follow the lines of text down the table, a wrapped cell keeping
 * its row. Rows above the header rule are the header; a header piece over several columns spans
 * them.
 */

export interface GridInput {
  /** The table's lines, in drawing order. */
  lines: Line[];
  body: number;
  /** x of the vertical rules inside the table, between its columns. */
  verticals: number[];
  /** y of the rules across the table between its rows (the header rule among them). */
  separators: number[];
  /** y of the rule under the header: the rows above it are the header. */
  headerRule?: number;
  /** Rules under part of the header (a spanning header cell's underline). */
  partials: Array<{ at: number; from: number; to: number }>;
  /** The rules separate every row: each strip between two is one row. */
  ruledRows: boolean;
}

export interface Grid {
  rows: string[][];
  headerRows: number;
  spans: TableSpan[];
  columns: number;
}

/** Text of one line standing apart: runs closer than a column gap, cut at vertical rules and dot leaders. */
export interface Piece {
  runs: TextRun[];
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  size: number;
  text: string;
}

/** A gap between runs wider than this (in font sizes) is not a word space (pdfjs itself starts a new run at 0.6). */
const PIECE_GAP = 0.6;
/** Columns closer than this (in body sizes) are one: the space between two cells is wider. */
const MIN_COLUMN_GAP = 0.6;
/** A column starts where at least this many lines, and this share of the table's lines, start a piece at one x. */
const ALIGNED_MIN = 3;
const ALIGNED_SHARE = 0.5;
/** Pieces whose baselines differ by less than this (in font sizes) stand on one line. */
const SAME_BASELINE = 0.4;
/** A line set this much further (in body sizes) below the one before it than lines of one cell are starts a row (cell padding). */
const ROW_PADDING = 0.2;
/** Dot leaders: four or more dots, spaced or not, that lead the eye from a label to its value. */
export const LEADER = /\s*(?:\.\s?){4,}\s*|\s*(?:…\s?){2,}\s*/;
/** Text LEADER finds something in, found without its leading spaces (which make it try every position). */
const HAS_LEADER = /(?:\.\s?){3}\.|…\s?…/;
/** A number as tables print it: signs, currency, thousands separators, parentheses for negatives, a percent or a footnote mark. */
export const NUMBER = /^[([]?[-−–+]?[$€£¥]?\s?[-−–+]?\d[\d,.\s]*%?[)\]]?\*?$|^[-−–—]$/;
/** Cells that only hold a currency sign belong with the amount beside them. */
const CURRENCY = /^[$€£¥]$/;

export function buildGrid(input: GridInput): Grid | undefined {
  const { body } = input;
  const pieces = input.lines.flatMap((line) => piecesOf(line, input.verticals));
  if (pieces.length === 0) return undefined;
  const physical = physicalLines(pieces);
  const headerRule = input.headerRule;
  const bodyLines = headerRule === undefined ? physical.slice(1) : physical.filter((l) => l[0].y0 > headerRule);
  const columns = columnsOf(input.verticals, bodyLines.length ? bodyLines.flat() : pieces, pieces, body);
  if (columns.length === 0) return undefined;
  const columnOf = (p: Piece): number => bestColumn(columns, p);

  // Where each column's text reaches (short of its rules, by the cell padding): wrapped text fills it.
  const rights = columns.map(() => -Infinity);
  for (const p of pieces) rights[columnOf(p)] = Math.max(rights[columnOf(p)], p.x1);
  const textColumns = columns.map((c, k) => ({ x0: c.x0, x1: Math.min(c.x1, rights[k]) }));
  const spanning = (line: Piece[]) => line.some((p) => lastColumnCovered(columns, p, input.partials) > columnOf(p));
  const rowsOfLines = splitRows(physical, textColumns, columnOf, spanning, input);
  const width = columns.length;
  const rows: string[][] = [];
  const spans: TableSpan[] = [];
  let headerRows = 0;
  rowsOfLines.forEach((rowLines, r) => {
    const cells: Piece[][] = columns.map(() => []);
    const spanOf = new Map<number, number>();
    for (const line of rowLines)
      for (const p of line) {
        const c = columnOf(p);
        cells[c].push(p);
        const last = lastColumnCovered(columns, p, input.partials);
        if (last > c) spanOf.set(c, Math.max(spanOf.get(c) ?? c, last));
      }
    const inHeader = headerRule !== undefined ? rowLines[0][0].y1 < headerRule : r === 0;
    if (inHeader) headerRows = r + 1;
    // A spanning cell is only written as one in the header; in the body its text stays in its first column.
    if (inHeader)
      for (const [c, last] of spanOf)
        if (cells.slice(c + 1, last + 1).every((cell) => cell.length === 0)) spans.push({ row: r, col: c, cols: last - c + 1 });
    const texts = cells.map((cell, c) => cellText(unbreakWords(cellLines(cell), rights[c]), columns[c].x1 - columns[c].x0));
    // A header set in a bold or italic face says nothing more in Markdown.
    rows.push(inHeader ? texts.map((t) => t.replace(/^(\*{1,3})([^*]+)\1$/, '$2')) : texts);
  });
  if (rows.length === 0) return undefined;
  // A header row with nothing written in it is still the header.
  if (headerRule !== undefined && headerRows === 0) {
    rows.unshift(columns.map(() => ''));
    for (const s of spans) s.row++;
    headerRows = 1;
  }
  mergeCurrencyColumns(rows, spans);
  return { rows, headerRows: Math.max(1, headerRows), spans, columns: width };
}

/**
 * Where the columns of a table made of `lines` start: the left edges of the strips their pieces
 * cover (see columnsOf).
 */
export function columnStartsOf(lines: Line[], body: number): number[] {
  return pieceColumnStarts(
    lines.flatMap((line) => piecesOf(line)),
    body,
  );
}

/** The strips `strips` (sorted, apart) and the pieces cover together, joined where less than a column gap apart. */
export function widenStrips(strips: readonly Column[], pieces: readonly Piece[], body: number): Column[] {
  const all = [...strips, ...pieces.map((p) => ({ x0: p.x0, x1: p.x1 }))].sort((a, b) => a.x0 - b.x0);
  const out: Column[] = [];
  for (const s of all) {
    const last = out[out.length - 1];
    if (last && s.x0 < last.x1 + body * MIN_COLUMN_GAP) last.x1 = Math.max(last.x1, s.x1);
    else out.push({ ...s });
  }
  return out;
}

export function pieceColumnStarts(pieces: Piece[], body: number): number[] {
  return columnsOf([], pieces, pieces, body).map((c) => c.x0);
}

/** Does every piece of the line stand in one column (none runs from one column into the next)? */
export function fitsColumns(line: Line, starts: number[], body: number): boolean {
  return piecesFit(piecesOf(line), starts, body);
}

export function piecesFit(pieces: Piece[], starts: number[], body: number): boolean {
  return pieces.every((p) => {
    const next = starts.find((x) => x > p.x0 + body * MIN_COLUMN_GAP);
    return next === undefined || p.x1 < next;
  });
}

/** A line's runs cut where a gap wider than a word space opens, at a vertical rule, or at dot leaders. */
export function piecesOf(line: Line, verticals: number[] = []): Piece[] {
  const out: Piece[] = [];
  let current: TextRun[] = [];
  const flush = () => {
    if (current.length) out.push(piece(current));
    current = [];
  };
  for (const whole of line.runs) {
    for (const run of withoutLeaders(whole)) {
      const prev = current[current.length - 1];
      if (prev) {
        const gap = run.bbox.x0 - prev.bbox.x1;
        const ruled = verticals.some((x) => x > prev.bbox.x1 - 1 && x < run.bbox.x0 + 1);
        if (gap > Math.min(prev.fontSize, run.fontSize) * PIECE_GAP || ruled || run.bbox.x0 < prev.bbox.x0) flush();
      }
      current.push(run);
    }
    if (HAS_LEADER.test(whole.text)) flush();
  }
  flush();
  return out;
}

/** A run cut at its dot leaders: the text before and after them, each placed where it stands in the run. */
function withoutLeaders(run: TextRun): TextRun[] {
  const m = HAS_LEADER.test(run.text) ? run.text.match(LEADER) : null;
  if (!m || m.index === undefined) return [run];
  const perChar = (run.bbox.x1 - run.bbox.x0) / Math.max(1, run.text.length);
  const before = run.text.slice(0, m.index);
  const after = run.text.slice(m.index + m[0].length);
  const out: TextRun[] = [];
  if (before.trim()) out.push({ ...run, text: before.trim(), bbox: { ...run.bbox, x1: run.bbox.x0 + before.length * perChar } });
  if (after.trim()) {
    const x0 = run.bbox.x0 + (m.index + m[0].length) * perChar;
    out.push(...withoutLeaders({ ...run, text: after.trim(), bbox: { ...run.bbox, x0 } }));
  }
  return out;
}

function piece(runs: TextRun[]): Piece {
  const box = unionBoxes(runs.map((r) => r.bbox));
  return { runs, ...box, size: Math.max(...runs.map((r) => r.fontSize)), text: runs.map((r) => r.text).join(' ') };
}

/** Pieces grouped by the baseline they stand on, top to bottom, each line left to right. */
export function physicalLines(pieces: Piece[]): Piece[][] {
  const sorted = [...pieces].sort((a, b) => a.y1 - b.y1 || a.x0 - b.x0);
  const lines: Piece[][] = [];
  for (const p of sorted) {
    const line = lines[lines.length - 1];
    if (line && Math.abs(line[0].y1 - p.y1) < Math.min(line[0].size, p.size) * SAME_BASELINE) line.push(p);
    else lines.push([p]);
  }
  for (const line of lines) line.sort((a, b) => a.x0 - b.x0);
  return lines;
}

export interface Column {
  x0: number;
  x1: number;
}

/**
 * The columns: between the vertical rules when the table has them, else the strips the body's
 * pieces cover, joined where less than a column gap apart.
 */
function columnsOf(verticals: number[], bodyPieces: Piece[], all: Piece[], body: number): Column[] {
  if (verticals.length > 0) {
    const left = Math.min(...all.map((p) => p.x0));
    const right = Math.max(...all.map((p) => p.x1));
    const edges = [Math.min(left, verticals[0]) - 1, ...verticals, Math.max(right, verticals[verticals.length - 1]) + 1];
    const columns: Column[] = [];
    for (let k = 1; k < edges.length; k++) if (edges[k] - edges[k - 1] > 1) columns.push({ x0: edges[k - 1], x1: edges[k] });
    // A column nothing is written in, left or right of the text (a border drawn twice), is not one.
    return columns.filter((c) => all.some((p) => overlap(c, p) > 0));
  }
  const spans = bodyPieces.map((p) => ({ x0: p.x0, x1: p.x1 })).sort((a, b) => a.x0 - b.x0);
  const columns: Column[] = [];
  for (const s of spans) {
    const last = columns[columns.length - 1];
    if (last && s.x0 < last.x1 + body * MIN_COLUMN_GAP) last.x1 = Math.max(last.x1, s.x1);
    else columns.push({ ...s });
  }
  return columns.flatMap((c) => splitAtAlignedStarts(c, bodyPieces));
}

/**
 * A column whose pieces nearly touch the next one's (a narrow gap, a long cell) is still two
 * where the pieces after a gap start at one x in many lines and no piece runs across that x.
 */
function splitAtAlignedStarts(column: Column, pieces: Piece[]): Column[] {
  const inside = pieces.filter((p) => p.x0 >= column.x0 - 0.5 && p.x1 <= column.x1 + 0.5);
  const lines = new Set(inside.map((p) => Math.round(p.y1)));
  const starts = new Map<number, number>();
  for (const p of inside) if (p.x0 > column.x0 + 1) starts.set(Math.round(p.x0), (starts.get(Math.round(p.x0)) ?? 0) + 1);
  const cuts = [...starts]
    .filter(([x, n]) => n >= Math.max(ALIGNED_MIN, lines.size * ALIGNED_SHARE) && !inside.some((p) => p.x0 < x - 1 && p.x1 > x - 0.5))
    .map(([x]) => x)
    .sort((a, b) => a - b);
  const out: Column[] = [];
  let x0 = column.x0;
  for (const x of cuts) {
    const left = inside.filter((p) => p.x0 < x - 1);
    if (left.length === 0) continue;
    out.push({ x0, x1: Math.max(...left.map((p) => p.x1)) });
    x0 = x - 0.5;
  }
  out.push({ x0, x1: column.x1 });
  return out;
}

function overlap(c: Column, p: { x0: number; x1: number }): number {
  return Math.min(c.x1, p.x1) - Math.max(c.x0, p.x0);
}

/** The column a piece belongs to: the one it overlaps most, else the nearest. */
function bestColumn(columns: Column[], p: Piece): number {
  let best = 0;
  let score = -Infinity;
  columns.forEach((c, k) => {
    const o = overlap(c, p);
    if (o > score) {
      score = o;
      best = k;
    }
  });
  return best;
}

/** The last column a header piece reaches into: across the gap and well into the next column, or as far as a rule under it runs. */
function lastColumnCovered(columns: Column[], p: Piece, partials: GridInput['partials']): number {
  let last = bestColumn(columns, p);
  const first = last;
  for (let k = first + 1; k < columns.length; k++) {
    const into = p.x1 - columns[k].x0;
    if (p.x0 < columns[k - 1].x1 && into > Math.min(p.size, (columns[k].x1 - columns[k].x0) * 0.3)) last = k;
  }
  // A rule drawn under a header cell, as wide as the columns it spans.
  const under = partials.find((r) => r.at > p.y1 - 1 && r.at - p.y1 < p.size * 1.5 && r.from <= p.x1 && r.to >= p.x0);
  if (under) {
    for (let k = first + 1; k < columns.length; k++) if (under.to >= columns[k].x0 + (columns[k].x1 - columns[k].x0) * 0.5) last = Math.max(last, k);
  }
  return last;
}

/**
 * Rows from the lines of text down the table. A rule across the table always parts two rows;
 * between rules that separate every row, a strip is a row. The header (above its rule) is one
 * row, unless a header cell spans columns: then the line under it is a header row of its own.
 * In the body, a table that sets its rows apart with cell padding (more space between some lines
 * than between the lines of one cell) starts a row where the padding is, and where a number
 * stands under a number (groups of rows spaced apart, as statements set them, are rows still).
 * Otherwise a line carries on the row above when it writes in fewer of the columns than the
 * row's first line and each of its cells continues the cell above it (the text wrapped there,
 * or a line was broken inside a cell away from the first column); a line that writes in as many
 * columns as the row's first, in a column left empty above, a number under a number (numbers
 * do not wrap), or a change between bold and regular (wrapped text keeps its face), starts a
 * row. A wrapped label whose amounts stand on its last line (as statements set them) is one row.
 */
function splitRows(
  lines: Piece[][],
  columns: Column[],
  columnOf: (p: Piece) => number,
  spans: (line: Piece[]) => boolean,
  input: GridInput,
): Piece[][][] {
  const cellsOf = (line: Piece[]): Map<number, Piece> => {
    const cells = new Map<number, Piece>();
    for (const p of line) if (!cells.has(columnOf(p))) cells.set(columnOf(p), p);
    return cells;
  };
  const tops = lines.map((line) => Math.min(...line.map((p) => p.y0)));
  const bottoms = lines.map((line) => Math.max(...line.map((p) => p.y1)));
  const ruledAbove = lines.map((_, k) => k > 0 && input.separators.some((y) => y > bottoms[k - 1] - 1 && y < tops[k] + 1));
  const inHeader = (k: number) => input.headerRule !== undefined && bottoms[k] < input.headerRule;
  // The space between body lines that no rule parts: the tightest is the spacing inside a cell.
  const gaps = lines.map((_, k) => (k > 0 && !ruledAbove[k] && !inHeader(k) ? tops[k] - bottoms[k - 1] : undefined));
  const known = gaps.filter((g): g is number => g !== undefined);
  const tight = known.length ? Math.min(...known) : 0;
  const padded = (g: number | undefined) => g !== undefined && g > tight + input.body * ROW_PADDING;
  // (Lines that overlap are text of another column the table runs into: no spacing to go by.)
  const byPadding = tight > -1 && known.some(padded) && known.some((g) => !padded(g));
  const rows: Piece[][][] = [];
  let row: Piece[][] | undefined;
  let first = 0;
  for (let k = 0; k < lines.length; k++) {
    const line = lines[k];
    let starts: boolean;
    if (!row || ruledAbove[k]) starts = true;
    else if (inHeader(k)) starts = spans(lines[k - 1]);
    else if (input.ruledRows) starts = false;
    else if (byPadding) starts = padded(gaps[k]) || stacksNumbers(cellsOf(lines[k - 1]), cellsOf(line));
    else starts = !carriesOn(cellsOf(lines[k - 1]), cellsOf(line), first, columns);
    if (starts) {
      row = [];
      rows.push(row);
      first = cellsOf(line).size;
    }
    row!.push(line);
  }
  return rows;
}

/** Does a line (its cells by column) carry on the row of the line above? `first`: how many cells the row's first line has. */
function carriesOn(above: Map<number, Piece>, cells: Map<number, Piece>, first: number, columns: Column[]): boolean {
  // A label wrapped onto a second line with its amounts beside the last one.
  if (above.size === 1 && above.has(0) && cells.size > 1 && cells.has(0) && wraps(above.get(0)!, cells.get(0)!, columns[0])) return true;
  if (cells.size >= first) return false;
  for (const [c, p] of cells) {
    const before = above.get(c);
    if (!before) return false;
    // Wrapped text keeps its face: a bold header over regular rows is not their first line.
    if (before.runs[before.runs.length - 1].bold !== p.runs[0].bold) return false;
    if (NUMBER.test(before.text.trim()) && NUMBER.test(p.text.trim())) return false;
    if (c === 0 && !wraps(before, p, columns[c])) return false;
  }
  return true;
}

/** A number under a number in one column: numbers do not wrap, so the lower one is another row's. */
function stacksNumbers(above: Map<number, Piece>, cells: Map<number, Piece>): boolean {
  for (const [c, p] of cells) {
    const before = above.get(c);
    if (before && NUMBER.test(before.text.trim()) && NUMBER.test(p.text.trim())) return true;
  }
  return false;
}

/** The text above would not have had room for the first word below: it wrapped there. */
function wraps(above: Piece, below: Piece, column: Column): boolean {
  if (/[-/]$/.test(above.text)) return true;
  const room = column.x1 - above.x1 - below.size * 0.3;
  return firstWordWidth({ runs: below.runs } as Line) > room;
}

/** A cell's pieces as lines of text, top to bottom. */
function cellLines(cell: Piece[]): Line[] {
  return physicalLines(cell).map((line) => makeLine(line.flatMap((p) => p.runs)));
}

/** A column holding only currency signs joins the amounts to its right. */
function mergeCurrencyColumns(rows: string[][], spans: TableSpan[]): void {
  const width = rows[0].length;
  for (let c = width - 2; c >= 0; c--) {
    const body = rows.map((r) => r[c]).filter((t) => t !== '');
    if (body.length === 0 || !body.every((t) => CURRENCY.test(t))) continue;
    for (const r of rows) {
      r[c + 1] = r[c] ? `${r[c]}${r[c + 1]}` : r[c + 1];
      r.splice(c, 1);
    }
    for (const s of spans) {
      if (s.col > c) s.col--;
      else if (s.col + s.cols > c) s.cols--;
    }
  }
}

/**
 * A cell's text: its lines joined, with a "\n" where the text was broken on purpose (items of a
 * list, separate paragraphs) rather than wrapped. A wrapped line fills its column: the next
 * line's first word would not have fitted after it. A line that stopped well short of that
 * (by two em, so narrow columns and hyphen breaks stay wrapped) ends where the author ended it.
 * A bold cell (a header) loses its stars.
 */
export function cellText(cell: Line[], columnWidth: number): string {
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
 * word reaching as far as any text of its column (`right`) continues in the next line without a
 * space. The continuation's runs are moved onto the line they continue, so inline rendering joins
 * them tightly.
 */
export function unbreakWords(cell: Line[], right: number): Line[] {
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
