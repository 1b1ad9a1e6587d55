import type { Line, Page } from '../types.js';
import { firstWordWidth } from '../extract/lines.js';
import { type Column, columnIndexOf, columnsOf, type Layout } from './columns.js';

// Layout step, first-line indents. Books, papers (LaTeX's \parindent) and many word-processor
// styles mark a new paragraph by indenting its first line, with no space between paragraphs: the
// first line stands in from the lines under it, which start at the column's margin. Such a line
// starts a paragraph, not a quotation or a list item, and the line under it goes on with it.

/** A first-line indent, in body sizes: LaTeX's is 1–1.5 (15 pt at 10–12 pt), Word's half inch up to 3. */
const MIN_FIRST_LINE_INDENT = 0.7;
const MAX_FIRST_LINE_INDENT = 3.5;
/** Paragraphs indented this alike (body sizes) use the document's indent. */
const SAME_INDENT = 0.3;
/** First-line indents seen before a document is said to use them. */
const MIN_INDENTED_PARAGRAPHS = 2;

export interface IndentedLine {
  line: Line;
  column: Column;
  columnIndex: number;
  /** Where the text starts relative to the column's left margin. */
  indent: number;
}

/**
 * Does `next` go on with the paragraph whose first line is `first`: `first` is indented from
 * `next` by a first-line indent, and was full (the first word of `next` did not fit on it)?
 */
export function goesOnFromIndentedLine(first: IndentedLine, next: IndentedLine, body: number, lineGap: number): boolean {
  if (first.columnIndex !== next.columnIndex) return false;
  const step = first.indent - next.indent;
  if (step < body * MIN_FIRST_LINE_INDENT || step > body * MAX_FIRST_LINE_INDENT) return false;
  const a = first.line;
  const b = next.line;
  const size = Math.max(a.fontSize, b.fontSize);
  const gap = b.bbox.y0 - a.bbox.y1;
  if (gap < -size * 0.5 || gap > size * lineGap || Math.abs(a.fontSize - b.fontSize) > size * 0.08) return false;
  return a.bbox.x1 + firstWordWidth(b) + size >= first.column.wrap;
}

/**
 * The document's paragraph indent (from its column's margin, pt), when it indents the first lines
 * of its paragraphs: the median indent of lines that start a paragraph (the line above ended
 * short, or there is none close above) and go on below at the margin.
 */
export function paragraphIndent(pages: Page[], layout: Layout, lineGap: number): number | undefined {
  const body = layout.bodySize;
  const steps: number[] = [];
  for (const page of pages) {
    const columns = columnsOf(layout, page.index);
    const infos = page.lines.map((line) => {
      const columnIndex = columnIndexOf(columns, line);
      const column = columns[columnIndex];
      return { line, column, columnIndex, indent: line.bbox.x0 - column.left };
    });
    for (let k = 0; k + 1 < infos.length; k++) {
      const [first, next] = [infos[k], infos[k + 1]];
      if (Math.abs(first.line.fontSize - body) > body * 0.08 || next.indent > body * MIN_FIRST_LINE_INDENT) continue;
      if (!goesOnFromIndentedLine(first, next, body, lineGap)) continue;
      const above = infos[k - 1];
      if (above && above.columnIndex === first.columnIndex && isFullAbove(above, first, lineGap)) continue;
      steps.push(first.indent);
    }
  }
  if (steps.length < MIN_INDENTED_PARAGRAPHS) return undefined;
  steps.sort((a, b) => a - b);
  return steps[Math.floor(steps.length / 2)];
}

/** The line above ran to the column's edge right above `line`: `line` is no paragraph's first. */
function isFullAbove(above: IndentedLine, line: IndentedLine, lineGap: number): boolean {
  const gap = line.line.bbox.y0 - above.line.bbox.y1;
  const size = line.line.fontSize;
  if (gap < -size * 0.5 || gap > size * lineGap) return false;
  return above.line.bbox.x1 + firstWordWidth(line.line) + size >= above.column.wrap;
}

/** Is a line starting `indent` in from its margin set at the document's paragraph indent? */
export function atParagraphIndent(indent: number, paragraph: number | undefined, body: number): boolean {
  return paragraph !== undefined && Math.abs(indent - paragraph) <= body * SAME_INDENT;
}

/** A label hung out before a paragraph ("[12]", "A.", "Note:") is at most this long (characters). */
const MAX_LABEL = 8;
/** A hanging line starts this close (body sizes) to where the text after the label does. */
const HANGING_SLACK = 0.3;

/**
 * Does `next` go on with the paragraph whose first line is `first` by hanging under the text
 * after its label (a bibliography's "[12]", a glossary's term): `first` was full, and `next`
 * starts where the text after its first word does, further in?
 */
export function hangsUnderLabel(first: IndentedLine, next: IndentedLine, body: number, lineGap: number): boolean {
  if (first.columnIndex !== next.columnIndex) return false;
  const a = first.line;
  const b = next.line;
  const size = Math.max(a.fontSize, b.fontSize);
  const gap = b.bbox.y0 - a.bbox.y1;
  if (gap < -size * 0.5 || gap > size * lineGap || Math.abs(a.fontSize - b.fontSize) > size * 0.08) return false;
  if (b.bbox.x0 - a.bbox.x0 < body * MIN_FIRST_LINE_INDENT || b.bbox.x0 - a.bbox.x0 > body * MAX_FIRST_LINE_INDENT) return false;
  const start = textAfterLabel(a);
  if (start === undefined || Math.abs(b.bbox.x0 - start) > body * HANGING_SLACK) return false;
  return a.bbox.x1 + firstWordWidth(b) + size >= first.column.wrap;
}

/** Where the text after a line's first word starts, when that word is short enough to be a label. */
function textAfterLabel(line: Line): number | undefined {
  const run = line.runs[0];
  const text = run.text.trimStart();
  const label = text.match(/^\S+/)?.[0];
  if (!label || label.length > MAX_LABEL) return undefined;
  if (text.trimEnd() === label) return line.runs[1]?.bbox.x0;
  const at = run.text.indexOf(label) + label.length;
  const cut = at + (run.text.slice(at).match(/^\s+/)?.[0].length ?? 0);
  return run.bbox.x0 + ((run.bbox.x1 - run.bbox.x0) * cut) / run.text.length;
}
