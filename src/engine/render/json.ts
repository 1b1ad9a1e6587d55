import type { Block, Document } from '../types.js';

/** Render step: the block tree itself, without the build-time line data. */
export function renderJson(doc: Document): string {
  const strip = (b: Block): Omit<Block, 'lines'> => {
    const { lines: _lines, children, ...rest } = b;
    return children ? { ...rest, children: children.map(strip) } : rest;
  };
  return JSON.stringify({
    pages: doc.pages.map((p) => ({ index: p.index, width: p.width, height: p.height, source: p.source })),
    blocks: doc.blocks.map(strip),
  });
}
