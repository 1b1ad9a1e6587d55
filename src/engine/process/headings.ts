import { textSize } from '../build/lines.js';
import type { Block, Line, Processor } from '../types.js';

/**
 * Headings: short blocks set larger than the body text, or bold at about body size. Levels come
 * from the size relative to the body (the ratios common stylesheets use: 2, 1.5, 1.25, 1, 0.875
 * em), not from a rank, so a document without a level-1 heading keeps its levels.
 */
export const detectHeadings: Processor = (doc) => {
  const body = bodyFontSize(doc.blocks);
  if (body === 0) return doc;
  const blocks = doc.blocks.map((block, i) => {
    let level = headingLevel(block, body);
    if (level && level >= 4 && !spacedLikeHeading(doc.blocks[i - 1], block, doc.blocks[i + 1], body)) level = undefined;
    if (!level) return block;
    const text = (block.text ?? '').replace(/\*\*/g, '');
    return { ...block, type: 'heading' as const, level, text };
  });
  return { ...doc, blocks };
};

export function headingLevel(block: Block, body: number): number | undefined {
  if (block.type !== 'paragraph' || !block.lines?.length) return undefined;
  if (block.lines.length > 3 || (block.text ?? '').length > 200) return undefined;
  const size = textSize(block.lines[0]);
  const ratio = size / body;
  if (ratio >= 1.75) return 1;
  if (ratio >= 1.37) return 2;
  if (ratio >= 1.12) return 3;
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
 * height), bold paragraphs the same space on both sides.
 */
function spacedLikeHeading(prev: Block | undefined, block: Block, next: Block | undefined, body: number): boolean {
  const above = gapBetween(prev, block);
  const below = gapBetween(block, next);
  if (above !== undefined && below !== undefined) return above - below >= body * 0.3;
  if (below !== undefined) return below < body * (next!.type === 'code' ? 1.45 : 0.95);
  if (above !== undefined) return above >= body * 1.19 && prev!.type !== 'code' && prev!.type !== 'table';
  return false;
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
