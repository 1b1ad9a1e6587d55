import type { Line, Page, TextRun } from '../types.js';
import { type Column, columnIndexOf } from './columns.js';

// Layout step, footnotes and the marks that call them. A footnote is set at the foot of its page
// in a smaller size than the body, apart from the body above it, and starts with its mark (a
// number or a symbol, often raised). A mark in the text is a raised, smaller run touching the
// word before it. The step finds each page's footnotes so that they become blocks of their own,
// and tells the inline step which raised runs are calls to them.

/** Footnotes are set at most this size against the body. */
const NOTE_SIZE = 0.92;
/** A raised or lowered run is at most this size against the text around it. */
const SCRIPT_SIZE = 0.8;
/** Raised by this share of the text's size: a superscript; lowered by the second: a subscript. */
const RAISED = 0.2;
const LOWERED = 0.1;
/** Space between the body and the first footnote, in body sizes. */
const NOTE_SEPARATION = 0.6;
/** What a footnote mark is: a number or the usual symbols. */
const MARK = /^(\d{1,3}|[*†‡§¶]{1,3})$/;
const MARK_START = /^(\d{1,3}|[*†‡§¶]{1,3})(?=\s|$)/;

export interface Footnote {
  mark: string;
  lines: Line[];
}

/**
 * The page's footnotes, column by column and top to bottom, with the lines they take (left out of
 * the body). Each column has its own foot (two-column papers set a column's notes under it).
 */
export function findFootnotes(page: Page, body: number, columns: Column[]): Footnote[] {
  const byColumn: Line[][] = columns.map(() => []);
  for (const line of page.lines) byColumn[columnIndexOf(columns, line)].push(line);
  return byColumn.flatMap((lines) => columnFootnotes(lines, body));
}

function columnFootnotes(columnLines: Line[], body: number): Footnote[] {
  const lines = [...columnLines].sort((a, b) => a.bbox.y0 - b.bbox.y0);
  // The run of small lines at the foot of the page.
  let start = lines.length;
  while (start > 0 && isNoteLine(lines[start - 1], body)) start--;
  if (start === lines.length || start === 0) return [];
  const above = lines[start - 1];
  if (lines[start].bbox.y0 - above.bbox.y1 < body * NOTE_SEPARATION) return [];
  const notes: Footnote[] = [];
  for (const line of lines.slice(start)) {
    const mark = leadingMark(line);
    if (mark !== undefined) notes.push({ mark, lines: [line] });
    else if (notes.length) notes[notes.length - 1].lines.push(line);
    else return []; // small text at the foot that does not start with a mark: not footnotes
  }
  return notes;
}

function isNoteLine(line: Line, body: number): boolean {
  return line.fontSize <= body * NOTE_SIZE && !line.runs.every((r) => r.monospace);
}

/** The mark a footnote starts with: a raised run, or a number or symbol before its words. */
function leadingMark(line: Line): string | undefined {
  const first = line.runs[0];
  const text = first.text.trim();
  if (line.runs.length > 1 && MARK.test(text) && scriptOf(first, line) === 'sup') return text;
  return MARK_START.exec(text)?.[1];
}

/** The footnote's text without its mark. */
export function withoutMark(note: Footnote): Line[] {
  const [first, ...rest] = note.lines;
  const runs = [...first.runs];
  const head = runs[0].text.trim();
  if (head === note.mark) runs.shift();
  else runs[0] = { ...runs[0], text: runs[0].text.trimStart().slice(note.mark.length).trimStart() };
  return [{ ...first, runs }, ...rest];
}

/**
 * Is the run raised (a superscript) or lowered (a subscript) against the line's text? It is set
 * smaller than the line's main size and its baseline sits off the main baseline.
 */
export function scriptOf(run: TextRun, line: Line): 'sup' | 'sub' | undefined {
  const size = line.fontSize;
  if (run.fontSize > size * SCRIPT_SIZE) return undefined;
  const main = line.runs.find((r) => Math.abs(r.fontSize - size) < size * 0.05);
  if (!main) return undefined;
  const shift = baseline(main) - baseline(run);
  if (shift >= size * RAISED) return 'sup';
  if (-shift >= size * LOWERED) return 'sub';
  return undefined;
}

/** A run's baseline, from its box (descenders take about a fifth of the size below it). */
function baseline(run: TextRun): number {
  return run.bbox.y1 - run.fontSize * 0.2;
}

/** Is this raised text a call to one of the page's footnotes? */
export function isNoteCall(text: string, marks: ReadonlySet<string>): boolean {
  const t = text.trim();
  return MARK.test(t) && marks.has(t);
}
