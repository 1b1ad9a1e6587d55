import type { PDFPageProxy } from 'pdfjs-dist/types/src/display/api.js';
import { pdfjs } from '../load/pdf.js';
import { type DrawingReader, drawingOperators } from './drawing-operators.js';
import { CLOSE_PATH, CURVE_TO, LINE_TO, MOVE_TO, QUADRATIC_CURVE_TO } from './path-commands.js';
import type { BBox, Page, Rect, TextRun } from '../types.js';

/*
 * Extract step, drawings: the ruling lines, cell borders and filled boxes (cell and code-block
 * backgrounds) a page draws, from pdfjs's operator list, into Page.rects. Filled paths become the
 * boxes of their subpaths; stroked paths become their straight horizontal and vertical segments,
 * each a rect as thick as the pen. Curves, slanted lines, clipping paths and white fills (paper on
 * paper) are left out.
 *
 * The operators come from the page's content stream read for its paths alone, or from pdfjs's
 * evaluator with the page's text, fonts and images left out (see drawing-operators.ts), or from
 * its full operator list where neither is available. Even so they are read only on pages whose
 * text could hold a table (see mayHoldTable). A page whose drawings cannot be read keeps its text,
 * without rects.
 */

type Matrix = [number, number, number, number, number, number];

/** A page drawing more boxes and lines than this is a chart or a vector figure: keep the first ones. */
const MAX_RECTS = 5000;
/** A pen thinner than this (zero means "thinnest the device can draw") is drawn this thick. */
const HAIRLINE = 0.25;
/** A segment whose ends differ by less than this across its length is straight along an axis. */
const AXIS_TOLERANCE = 0.5;

interface GraphicsState {
  ctm: Matrix;
  lineWidth: number;
  whiteFill: boolean;
}

/** The page's rules and boxes in page space (points, origin top-left). */
export async function readDrawings(page: PDFPageProxy, source: DrawingSource = 'content-stream'): Promise<Rect[]> {
  let operators: { fnArray: number[]; argsArray: unknown[] };
  try {
    operators = (source !== 'operator-list' && (await drawingOperators(page, source))) || (await page.getOperatorList());
  } catch {
    return [];
  }
  return drawingsOf(page, operators);
}

/** Where the operators come from: the content stream read for paths alone, pdfjs's evaluator without text and images, or its full operator list. */
export type DrawingSource = DrawingReader | 'operator-list';

async function drawingsOf(page: PDFPageProxy, { fnArray, argsArray }: { fnArray: number[]; argsArray: unknown[] }): Promise<Rect[]> {
  const { OPS, Util } = await pdfjs();
  const viewport = page.getViewport({ scale: 1 });
  const rects: Rect[] = [];
  const stack: GraphicsState[] = [];
  let state: GraphicsState = { ctm: viewport.transform as Matrix, lineWidth: 1, whiteFill: false };
  for (let i = 0; i < fnArray.length && rects.length < MAX_RECTS; i++) {
    const fn = fnArray[i];
    const args = argsArray[i] as unknown[];
    switch (fn) {
      case OPS.save:
      case OPS.beginGroup:
        stack.push(state);
        state = { ...state };
        break;
      case OPS.restore:
      case OPS.endGroup:
      case OPS.paintFormXObjectEnd:
        state = stack.pop() ?? state;
        break;
      case OPS.paintFormXObjectBegin:
        stack.push(state);
        state = { ...state };
        if (args[0]) state.ctm = Util.transform(state.ctm, Array.from(args[0] as ArrayLike<number>)) as Matrix;
        break;
      case OPS.transform:
        state.ctm = Util.transform(state.ctm, args as number[]) as Matrix;
        break;
      case OPS.setLineWidth:
        state.lineWidth = args[0] as number;
        break;
      case OPS.setGState:
        for (const [key, value] of args[0] as Array<[string, unknown]>) if (key === 'LW' && typeof value === 'number') state.lineWidth = value;
        break;
      case OPS.setFillRGBColor:
        state.whiteFill = String(args[0]).toLowerCase() === '#ffffff';
        break;
      case OPS.setFillColorN:
      case OPS.setFillTransparent:
        state.whiteFill = false;
        break;
      case OPS.constructPath:
        addPath(rects, args, state, OPS);
        break;
    }
  }
  return rects.slice(0, MAX_RECTS);
}

type Ops = Awaited<ReturnType<typeof pdfjs>>['OPS'];

function addPath(rects: Rect[], args: unknown[], state: GraphicsState, OPS: Ops): void {
  const [paint, [buffer]] = args as [number, [ArrayLike<number> | null]];
  if (!buffer) return;
  const stroke = paint === OPS.stroke || paint === OPS.closeStroke;
  const fill = paint === OPS.fill || paint === OPS.eoFill;
  const both = paint === OPS.fillStroke || paint === OPS.eoFillStroke || paint === OPS.closeFillStroke || paint === OPS.closeEOFillStroke;
  if (!stroke && !fill && !both) return; // endPath: a clipping path, nothing painted
  const m = state.ctm;
  const pen = Math.max(HAIRLINE, state.lineWidth * Math.sqrt(Math.abs(m[0] * m[3] - m[1] * m[2])));
  addSubpaths(rects, buffer, m, (fill || both) && !state.whiteFill, stroke || both, pen);
}

/**
 * The rects of a pdfjs path buffer's subpaths, in page space and in the buffer's order: a filled
 * subpath's box, then a stroked one's straight segments (the closing one included). A subpath's
 * points are not kept, only its box and its segments' ends: a path can hold thousands of them.
 */
function addSubpaths(rects: Rect[], buffer: ArrayLike<number>, m: Matrix, filled: boolean, stroked: boolean, pen: number): void {
  let open = false; // a subpath has begun
  let points = 0;
  let x0 = 0;
  let y0 = 0;
  let x1 = 0;
  let y1 = 0;
  let startX = 0;
  let startY = 0;
  let lastX = 0;
  let lastY = 0;
  // The open subpath's segments, four numbers each (a's x and y, b's x and y), reused.
  const segments: number[] = [];
  let segmentEnds = 0;
  const point = (x: number, y: number) => {
    if (points++ === 0) {
      x0 = x1 = x;
      y0 = y1 = y;
    }
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  };
  const segment = (ax: number, ay: number, bx: number, by: number) => {
    segments[segmentEnds++] = ax;
    segments[segmentEnds++] = ay;
    segments[segmentEnds++] = bx;
    segments[segmentEnds++] = by;
  };
  const close = () => {
    if (!open) return;
    if (filled && points >= 2 && (x1 - x0 > 0 || y1 - y0 > 0)) rects.push({ bbox: { x0, y0, x1, y1 }, filled: true });
    if (stroked) {
      for (let s = 0; s < segmentEnds; s += 4) {
        const seg = segmentRect(segments[s], segments[s + 1], segments[s + 2], segments[s + 3], pen);
        if (seg) rects.push({ bbox: seg, filled: false });
      }
    }
    points = 0;
    segmentEnds = 0;
  };
  let k = 0;
  while (k < buffer.length) {
    const op = buffer[k++];
    if (op === MOVE_TO || op === LINE_TO) {
      const x = m[0] * buffer[k] + m[2] * buffer[k + 1] + m[4];
      const y = m[1] * buffer[k] + m[3] * buffer[k + 1] + m[5];
      if (op === MOVE_TO) {
        close();
        open = true;
        startX = x;
        startY = y;
      } else if (open) segment(lastX, lastY, x, y);
      if (open) point(x, y);
      lastX = x;
      lastY = y;
      k += 2;
    } else if (op === CURVE_TO || op === QUADRATIC_CURVE_TO) {
      const n = op === CURVE_TO ? 6 : 4;
      // Control points bound the curve: enough for the box of a rounded background.
      for (let c = 0; c < n; c += 2) {
        const x = m[0] * buffer[k + c] + m[2] * buffer[k + c + 1] + m[4];
        const y = m[1] * buffer[k + c] + m[3] * buffer[k + c + 1] + m[5];
        if (open) point(x, y);
        lastX = x;
        lastY = y;
      }
      k += n;
    } else if (op === CLOSE_PATH) {
      if (open && (lastX !== startX || lastY !== startY)) segment(lastX, lastY, startX, startY);
      lastX = startX;
      lastY = startY;
    } else {
      break; // not a path command: a damaged buffer, stop reading it
    }
  }
  close();
}

/** A horizontal or vertical segment (from a to b) as a rect as thick as the pen; undefined when slanted. */
function segmentRect(ax: number, ay: number, bx: number, by: number, pen: number): BBox | undefined {
  const half = pen / 2;
  if (Math.abs(ay - by) < AXIS_TOLERANCE) {
    const y = (ay + by) / 2;
    return { x0: Math.min(ax, bx), y0: y - half, x1: Math.max(ax, bx), y1: y + half };
  }
  if (Math.abs(ax - bx) < AXIS_TOLERANCE) {
    const x = (ax + bx) / 2;
    return { x0: x - half, y0: Math.min(ay, by), x1: x + half, y1: Math.max(ay, by) };
  }
  return undefined;
}

/** A gap this wide between two runs of a line (in font sizes) may part two cells; word spaces are narrower. */
const CELL_GAP = 0.9;
/** What starts a list item: a bullet, a dash, or a number or letter with a dot or parenthesis. */
const LIST_MARKER = /^(?:[•◦▪▫■□●○‣∙·*–—-]|\(?(?:\d{1,3}|[a-zA-Z]|[ivxlcdm]{1,6})[.)])$/;
/** Cells of one column start (or end) within this of each other (points). */
const SAME_EDGE = 3;

/** Cells of one row are drawn within this many lines of each other (a cell's wrapped lines come first). */
const CELL_DRAW_DISTANCE = 8;
/** A line of this many cells drawn one by one (or this many more drawn as one line) is a table's row. */
const DRAWN_CELLS = 3;
const LINE_CELLS = 4;
/** Two rows close together of this many cells each are a table's (a header and its first row at a page's foot): prose stretches two spaces that wide in two lines running rarely. */
const PAIRED_CELLS = 3;
/** Runs whose bottoms differ by less than this (in font sizes) stand on one baseline. */
const SAME_BASELINE = 0.3;
/** Lines of code follow each other closer than this (in font sizes); rows of a table of code keep their cells' padding between them. */
const CODE_ROW_PITCH = 1.8;
/** Rows of one table follow each other within this many font sizes (a row may hold a few wrapped lines). */
const ROW_SPAN = 8;

/**
 * Could the page hold a table whose rules are worth reading? Yes when two rows of text close to
 * each other set text apart with a cell's gap and the text after those gaps starts, or ends, at
 * one x (a column), or when one line holds three or more cells drawn one by one (four drawn as
 * one line: justified prose stretches a space or two, rarely three). Text is taken as
 * it stands on the page, baseline by baseline, since producers draw a table cell by cell; text
 * drawn far apart (two text columns) is not a row. Prose, lists, code and headings alone never do; the stretched spaces
 * of justified lines fall anywhere.
 */
export function mayHoldTable(page: Page): boolean {
  // Every run with the line it was drawn in, by where it stands: top to bottom, then left to right.
  const runs: TextRun[] = [];
  const drawnIn: number[] = [];
  const code: boolean[] = page.lines.map((line) => line.runs.every((r) => r.monospace));
  page.lines.forEach((line, index) => {
    for (const run of line.runs) {
      runs.push(run);
      drawnIn.push(index);
    }
  });
  const order = runs.map((_, k) => k).sort((a, b) => runs[a].bbox.y1 - runs[b].bbox.y1);
  const cells: Array<{ x0: number; x1: number; y: number; code: boolean }> = [];
  let wideRow: { y: number; code: boolean } | undefined;
  let start = 0;
  while (start < order.length) {
    // One baseline: runs whose bottoms lie within a fraction of their size of the first one's.
    const first = runs[order[start]];
    let end = start + 1;
    while (end < order.length && runs[order[end]].bbox.y1 - first.bbox.y1 < first.fontSize * SAME_BASELINE) end++;
    const row = order.slice(start, end).sort((a, b) => runs[a].bbox.x0 - runs[b].bbox.x0);
    start = end;
    // A row of many cells is a table's row even alone on its page (a header at the foot of a page,
    // a one-row table): three or more cells drawn one by one, or more still in one line.
    let cellsInRow = 1;
    let gapsInRow = 0;
    let drawnApart = false;
    for (let k = 1; k < row.length; k++) {
      const before = runs[row[k - 1]];
      const run = runs[row[k]];
      const [beforeLine, line] = [drawnIn[row[k - 1]], drawnIn[row[k]]];
      const size = Math.min(before.fontSize, run.fontSize);
      if (run.bbox.x0 - before.bbox.x1 < size * CELL_GAP) continue;
      // Text on one baseline drawn far apart is two text columns, not two cells of a row.
      if (Math.abs(line - beforeLine) > CELL_DRAW_DISTANCE) continue;
      // A list's marker and its text: not cells.
      if (k === 1 && LIST_MARKER.test(before.text.trim())) continue;
      drawnApart ||= line !== beforeLine;
      gapsInRow++;
      // (A line of code aligns its comments: its gaps alone make no row.)
      if (!(line === beforeLine && code[line]) && ++cellsInRow >= (drawnApart ? DRAWN_CELLS : LINE_CELLS)) return true;
      const { x0, x1, y1: y } = run.bbox;
      const cell = { x0, x1, y, code: code[line] };
      // Code lines set one under the other line up as a code block does; rows of code cells are
      // set further apart (cell padding).
      for (const c of cells) {
        const dy = Math.abs(c.y - y);
        if (dy <= size * SAME_BASELINE || dy > size * ROW_SPAN || (c.code && cell.code && dy < size * CODE_ROW_PITCH)) continue;
        if (Math.abs(c.x0 - x0) <= SAME_EDGE || Math.abs(c.x1 - x1) <= SAME_EDGE) return true;
      }
      cells.push(cell);
    }
    // A row of code cells pairs with a header of text; two lines of code with comments aligned do not pair.
    const codeRow = row.every((k) => code[drawnIn[k]]);
    if (gapsInRow + 1 >= PAIRED_CELLS) {
      if (wideRow && first.bbox.y1 - wideRow.y <= first.fontSize * ROW_SPAN && !(wideRow.code && codeRow)) return true;
      wideRow = { y: first.bbox.y1, code: codeRow };
    }
  }
  return false;
}
