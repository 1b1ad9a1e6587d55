import { type InlineOptions, inlineMarkdown } from '../layout/inline.js';
import { makeLine } from '../extract/lines.js';
import type { Block, Line, TextRun } from '../types.js';

// Run-in headings (LaTeX's \paragraph, "Results." set bold at the start of a paragraph in
// papers): a phrase in its own font that opens a paragraph's first line, followed by a wider
// space than a word space, then the paragraph's text in another font. The phrase becomes a
// heading block of its own, the rest stays a paragraph.

/** The space after a run-in heading, in font sizes: LaTeX sets a quad (1); a word space is under half. */
const RUN_IN_GAP = 0.7;
/** ...and at most this: further is a tab to a tab stop, a label and its value ("Re:", "Amount due:") as in letters and forms. */
const MAX_RUN_IN_GAP = 2;
/** A run-in heading is a phrase, not a sentence: at most this many characters. */
const MAX_RUN_IN_CHARS = 80;
/** Wide gaps tried as the heading's end: a numbered one has a wide gap after its number too. */
const MAX_GAPS_TRIED = 2;
/** A section number ("2.8.1", "A.2", "IV."), set a quad before its title. */
const SECTION_NUMBER = /^(?:\d{1,2}(?:\.\d{1,2})*|[A-Z](?:\.\d{1,2})+|[IVXLC]{1,6})\.?$/;

export interface RunIn {
  heading: Block;
  rest: Block;
}

export function splitRunIn(block: Block, inline: InlineOptions = {}): RunIn | undefined {
  if (block.type !== 'paragraph' || !block.lines?.length) return undefined;
  const [first, ...more] = block.lines;
  const runs = first.runs;
  let gaps = 0;
  for (let k = 1; k < runs.length && gaps < MAX_GAPS_TRIED; k++) {
    const gap = runs[k].bbox.x0 - runs[k - 1].bbox.x1;
    if (gap < runs[k - 1].fontSize * RUN_IN_GAP) continue;
    gaps++;
    if (gap > runs[k - 1].fontSize * MAX_RUN_IN_GAP) continue;
    const head = runs.slice(0, k);
    const tail = runs.slice(k);
    if (!isRunInHeading(head, tail)) continue;
    const headLine = makeLine(head);
    const restLines: Line[] = [makeLine(tail), ...more];
    return {
      heading: { type: 'paragraph', page: block.page, bbox: headLine.bbox, text: inlineMarkdown([headLine], inline), lines: [headLine] },
      rest: { ...block, bbox: unionOf(restLines), text: inlineMarkdown(restLines, inline), lines: restLines },
    };
  }
  return undefined;
}

/** The phrase is set apart by its font: bold, or a font the text after it does not use. */
function isRunInHeading(head: TextRun[], tail: TextRun[]): boolean {
  const text = head
    .map((r) => r.text)
    .join(' ')
    .trim();
  if (!text || text.length > MAX_RUN_IN_CHARS || !/\p{L}/u.test(text)) return false;
  // Inner wide gaps: a row of table cells or a form, not a phrase (but for the one after a number).
  for (let k = 1; k < head.length; k++) {
    const wide = head[k].bbox.x0 - head[k - 1].bbox.x1 > head[k].fontSize * RUN_IN_GAP;
    if (wide && !(k === 1 && SECTION_NUMBER.test(head[0].text.trim()))) return false;
  }
  if (head.length === 1 && SECTION_NUMBER.test(text)) return false;
  // Code within the phrase ("1.1.1 `name` (String)") shows no weight: the words around it decide.
  const words = head.some((r) => !r.monospace) ? head.filter((r) => !r.monospace) : head;
  if (words.every((r) => r.bold)) return !tail.every((r) => r.bold);
  const fonts = new Set(tail.map((r) => r.fontName));
  return words.every((r) => r.fontName !== '' && !fonts.has(r.fontName));
}

function unionOf(lines: Line[]) {
  return lines.reduce(
    (u, l) => ({ x0: Math.min(u.x0, l.bbox.x0), y0: Math.min(u.y0, l.bbox.y0), x1: Math.max(u.x1, l.bbox.x1), y1: Math.max(u.y1, l.bbox.y1) }),
    lines[0].bbox,
  );
}
