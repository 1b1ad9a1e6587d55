import type { Line } from '../types.js';
import type { Column } from './columns.js';

// Layout step, displayed formulas. A numbered display sets its formula in from both margins and
// its number flush right, "(4)", far from the formula; its fractions, roots and sums put parts of
// it on lines of their own above and below. Those lines are one formula, not list items or a
// quotation: the step finds the run of lines a display takes, from its number.

/** An equation number: "(4)", "(2.3)", "(12a)", "(A.1)". */
const EQUATION_NUMBER = /^\((?:\d{1,3}(?:\.\d{1,3})*[a-z]?|[A-Z]\.?\d{1,3})\)$/;
/** The number stands at least this far (body sizes) from the formula before it. */
const NUMBER_GAP = 2;
/** A formula's lines start at least this far in from the column's margin (body sizes): displays are centred. */
const DISPLAY_INSET = 2;
/** Lines of one display stand this close at most (body sizes, box to box): a fraction's parts, a sum's limits. */
const DISPLAY_LINE_GAP = 0.6;

export interface DisplayLine {
  line: Line;
  column: Column;
  columnIndex: number;
}

/** The displays among a page's lines (in reading order): [first, end) index ranges. */
export function findDisplays(lines: DisplayLine[], body: number): [number, number][] {
  const displays: [number, number][] = [];
  for (let k = 0; k < lines.length; k++) {
    if (!endsWithNumber(lines[k], body)) continue;
    let top = lines[k].line.bbox.y0;
    let bottom = lines[k].line.bbox.y1;
    let first = k;
    while (first > 0 && partOf(lines[first - 1], lines[k], top, bottom, body)) {
      first--;
      top = Math.min(top, lines[first].line.bbox.y0);
      bottom = Math.max(bottom, lines[first].line.bbox.y1);
    }
    let end = k + 1;
    while (end < lines.length && partOf(lines[end], lines[k], top, bottom, body) && !endsWithNumber(lines[end], body)) {
      top = Math.min(top, lines[end].line.bbox.y0);
      bottom = Math.max(bottom, lines[end].line.bbox.y1);
      end++;
    }
    if (displays.length && first < displays[displays.length - 1][1]) first = displays[displays.length - 1][1];
    displays.push([first, end]);
    k = end - 1;
  }
  return displays;
}

/** Does the line end with an equation number set flush right, far from the text before it? */
function endsWithNumber({ line, column }: DisplayLine, body: number): boolean {
  const runs = line.runs;
  const last = runs[runs.length - 1];
  if (!EQUATION_NUMBER.test(last.text.trim()) || last.bbox.x1 < column.wrap - body) return false;
  const before = runs[runs.length - 2];
  return before ? last.bbox.x0 - before.bbox.x1 >= body * NUMBER_GAP : last.bbox.x0 - column.left >= (column.wrap - column.left) / 2;
}

/** Is `other` a line of the display numbered on `numbered`, whose lines so far span top to bottom? */
function partOf(other: DisplayLine, numbered: DisplayLine, top: number, bottom: number, body: number): boolean {
  if (other.columnIndex !== numbered.columnIndex) return false;
  if (other.line.bbox.x0 - other.column.left < body * DISPLAY_INSET) return false;
  const b = other.line.bbox;
  return b.y1 >= top - body * DISPLAY_LINE_GAP && b.y0 <= bottom + body * DISPLAY_LINE_GAP;
}
