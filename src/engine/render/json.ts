import type { Block, Document } from '../types.js';
import { safeInlineMarkdown } from './inline-markdown.js';

// Render step: the block tree itself, without the build-time line data. Texts are inline
// Markdown, checked on the way out like the Markdown output's (no link the policy refuses).
export function renderJson(doc: Document): string {
  const strip = (b: Block): Omit<Block, 'lines'> => {
    const { lines: _lines, centred: _centred, children, ...rest } = b;
    const out: Omit<Block, 'lines'> = { ...rest };
    if (b.type !== 'code' && b.type !== 'unreadable_page' && out.text !== undefined) out.text = safeInlineMarkdown(out.text);
    if (out.rows) out.rows = out.rows.map((row) => row.map(safeInlineMarkdown));
    if (children) out.children = children.map(strip);
    return out;
  };
  return JSON.stringify({
    pages: doc.pages.map((p) => ({ index: p.index, width: p.width, height: p.height, source: p.source })),
    blocks: doc.blocks.map(strip),
  });
}
