import { textSize } from '../extract/lines.js';
import type { Block, Line, Processor } from '../types.js';

/**
 * Headings: short blocks set larger than the body text, or bold at about body size. Levels come
 * from the size relative to the body (the ratios common stylesheets use: 2, 1.5, 1.25, 1, 0.875
 * em), not from a rank, so a document without a level-1 heading keeps its levels.
 */
export const detectHeadings: Processor = (doc) => {
  const body = bodyFontSize(doc.blocks);
  if (body === 0) return doc;
  const padding = boxPadding(doc.blocks, body);
  const blocks = doc.blocks.map((block, i) => {
    let level = headingLevel(block, body);
    if (level && level >= 4 && !spacedLikeHeading(doc.blocks[i - 1], block, doc.blocks[i + 1], body, padding)) level = undefined;
    if (!level) return block;
    let text = plainHeadingText(block.text ?? '');
    // A numbered heading keeps its number, which the list step took for an item's marker.
    if (block.type === 'list_item') text = `${block.marker ?? `${block.number}.`} ${text}`;
    const { number: _number, depth: _depth, indent: _indent, marker: _marker, ...rest } = block;
    return { ...rest, type: 'heading' as const, level, text };
  });
  return { ...doc, blocks };
};

/**
 * A heading's inline Markdown without the bold stars (a heading is bold already) and without
 * escapes it does not need: a heading is never read as a list marker, another heading or a table
 * row, and its brackets make no link unless "](" or "][" would follow.
 */
function plainHeadingText(text: string): string {
  const plain = outsideCode(text.replace(/\*\*/g, ''), (t) => t.replace(/\\\|/g, '|'))
    .replace(/^(\d+)\\([.)])/, '$1$2')
    .replace(/^\\([#+-])/, '$1');
  const unbracketed = outsideCode(plain, (t) => t.replace(/\\([[\]])/g, '$1'));
  return /\]\(|\]\[/.test(unbracketed) ? plain : unbracketed;
}

/** `f` applied to the text between code spans (a code span's backslashes are its own). */
function outsideCode(text: string, f: (t: string) => string): string {
  return text
    .split(/(`+[^`]*`+)/)
    .map((part, k) => (k % 2 === 0 ? f(part) : part))
    .join('');
}

export function headingLevel(block: Block, body: number): number | undefined {
  if (!block.lines?.length || block.lines.length > 3 || (block.text ?? '').length > 200) return undefined;
  // "2. Installation" set large is a numbered heading, not an item of a list (set at body size).
  const numbered = block.type === 'list_item' && block.number !== undefined;
  if (block.type !== 'paragraph' && !numbered) return undefined;
  const size = textSize(block.lines[0]);
  const ratio = size / body;
  if (ratio >= 1.75) return 1;
  if (ratio >= 1.37) return 2;
  if (ratio >= 1.12) return 3;
  if (numbered) return undefined;
  // Bold, or code alone on its line (a monospace face shows no weight in its widths); the
  // spacing check in detectHeadings tells these apart from bold paragraphs.
  const codeOnly = block.lines.every((l) => l.runs.every((r) => r.monospace || !/\w/.test(r.text)));
  if (!codeOnly && !block.lines.every(isBold)) return undefined;
  if (ratio >= 0.96) return 4;
  if (ratio >= 0.862) return 5;
  if (ratio >= 0.8) return 6;
  return undefined;
}

/**
 * A bold line at body size is a heading or a bold paragraph ("**Params**"): headings have more
 * space above than below them (stylesheets give them a larger top margin and a tighter line
 * height), bold paragraphs the same space on both sides. Space is measured between the boxes:
 * to a code block or a table, less the padding its text sits in.
 */
function spacedLikeHeading(prev: Block | undefined, block: Block, next: Block | undefined, body: number, padding: Padding): boolean {
  const above = gapBetween(prev, block);
  const below = gapBetween(block, next);
  if (above !== undefined && below !== undefined) return above - padding(prev!) - (below - padding(next!)) >= body * 0.3;
  if (below !== undefined) return below - padding(next!) < body * 0.95;
  if (above !== undefined) return above - padding(prev!) >= body * 1.19;
  return false;
}

type Padding = (block: Block) => number;

/**
 * How far a block's text sits inside its box: the padding of code blocks and of table cells, as
 * this document's stylesheet draws them. Measured, since stylesheets differ: the usual space from
 * a paragraph (of several lines) to a code block or a table, less the usual space between two
 * paragraphs.
 */
function boxPadding(blocks: Block[], body: number): Padding {
  const gaps: Record<string, number[]> = { paragraph: [], code: [], table: [] };
  for (let i = 1; i < blocks.length; i++) {
    // After a paragraph of several lines: a one-line paragraph may be a heading-like label.
    const prev = blocks[i - 1];
    const gap = prev.type === 'paragraph' && (prev.lines?.length ?? 0) > 1 ? gapBetween(prev, blocks[i]) : undefined;
    if (gap !== undefined) gaps[blocks[i].type]?.push(gap);
  }
  const base = median(gaps.paragraph);
  const pad = (type: string, usual: number): number => {
    const gap = median(gaps[type]);
    return base === undefined || gap === undefined ? usual : Math.max(0, gap - base);
  };
  const code = pad('code', body * 0.55);
  const table = pad('table', body * 0.33);
  return (block) => (block.type === 'code' ? code : block.type === 'table' ? table : 0);
}

/** The middle value of at least three, else undefined (too few to say what is usual). */
function median(values: number[]): number | undefined {
  if (values.length < 3) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Vertical space between two blocks that follow each other in one column, if they do. */
function gapBetween(a: Block | undefined, b: Block | undefined): number | undefined {
  if (!a || !b || a.page !== b.page) return undefined;
  if (b.bbox.y0 < a.bbox.y1 || b.bbox.x0 > a.bbox.x1 || a.bbox.x0 > b.bbox.x1) return undefined;
  return b.bbox.y0 - a.bbox.y1;
}

function isBold(line: Line): boolean {
  return line.runs.every((r) => r.bold || r.monospace || !/\w/.test(r.text)) && line.runs.some((r) => r.bold);
}

export function bodyFontSize(blocks: Block[]): number {
  const weight = new Map<number, number>();
  for (const block of blocks) {
    if (block.type === 'code') continue;
    for (const line of block.lines ?? []) {
      const size = Math.round(line.fontSize * 10) / 10;
      weight.set(size, (weight.get(size) ?? 0) + line.text.length);
    }
  }
  let best = 0;
  let bestWeight = 0;
  for (const [size, w] of weight) if (w > bestWeight) [best, bestWeight] = [size, w];
  return best;
}
