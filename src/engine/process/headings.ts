import type { Block, Document, Processor } from '../types.js';

/**
 * Headings: short blocks set clearly larger than the body text. The body size is
 * the size carrying the most characters; larger sizes rank as levels 1, 2, 3…
 */
export const detectHeadings: Processor = (doc) => {
  const body = bodyFontSize(doc.blocks);
  if (body === 0) return doc;
  const sizes = new Set<number>();
  const candidates: Block[] = [];
  for (const block of doc.blocks) {
    if (block.type !== 'paragraph' || !block.lines?.length) continue;
    const size = round(block.lines[0].fontSize);
    if (size < body * 1.12 || (block.text ?? '').length > 200 || block.lines.length > 3) continue;
    candidates.push(block);
    sizes.add(size);
  }
  const ranked = [...sizes].sort((a, b) => b - a);
  const blocks = doc.blocks.map((block) => {
    if (!candidates.includes(block)) return block;
    const level = Math.min(6, ranked.indexOf(round(block.lines![0].fontSize)) + 1);
    return { ...block, type: 'heading' as const, level };
  });
  return { ...doc, blocks };
};

function round(n: number): number {
  return Math.round(n * 2) / 2;
}

export function bodyFontSize(blocks: Block[]): number {
  const weight = new Map<number, number>();
  for (const block of blocks) {
    for (const line of block.lines ?? []) {
      const size = round(line.fontSize);
      weight.set(size, (weight.get(size) ?? 0) + line.text.length);
    }
  }
  let best = 0;
  let bestWeight = 0;
  for (const [size, w] of weight) if (w > bestWeight) [best, bestWeight] = [size, w];
  return best;
}
