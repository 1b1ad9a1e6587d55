import { buildLexicon, dropsHyphen, type Lexicon } from '../layout/hyphens.js';
import { joinTableParts } from '../layout/tables.js';
import type { Block, Processor } from '../types.js';

// Joins across column and page breaks: a paragraph, list item or code block cut by the end of
// a column continues in the first block of the next column or page. Text continues when the
// cut line ran to the column's edge and did not end a sentence; code when the next block is code;
// a table when the next block is a table with as many columns (see joinTableParts).
// A page's footnotes sit between the two parts: the join goes over them, and they follow it.

export const joinAcrossBreaks: Processor = (doc) => {
  const out: Block[] = [];
  // The document's words, read only if a hyphenated word is cut by a break.
  let lexicon: Lexicon | undefined;
  const words = () => (lexicon ??= buildLexicon(doc.pages.flatMap((p) => p.lines)));
  // The part of a joined block seen last (where it ends), to compare the next block with.
  let tail: Block | undefined;
  for (const block of doc.blocks) {
    if (block.note !== undefined) {
      out.push(block);
      continue;
    }
    let at = out.length - 1;
    while (at >= 0 && out[at].note !== undefined) at--;
    const prev = out[at];
    if (prev && tail && isBreakBetween(tail, block) && continues(prev, block)) {
      out[at] = merge(prev, block, words);
    } else {
      out.push(block);
    }
    tail = block;
  }
  return { ...doc, blocks: out };
};

function isBreakBetween(a: Block, b: Block): boolean {
  if (b.page !== a.page) return b.page === a.page + 1;
  return b.bbox.y0 < a.bbox.y0 && b.bbox.x0 > a.bbox.x1 - 1; // next column, to the right
}

function continues(a: Block, b: Block): boolean {
  if (a.type === 'table' && b.type === 'table') return a.rows?.[0]?.length === b.rows?.[0]?.length;
  if (a.type === 'code' && b.type === 'code') return true; // a code block cut by the break
  if (a.type !== b.type || (a.type !== 'paragraph' && a.type !== 'list_item')) return false;
  if (b.type === 'list_item' && b.number !== undefined) return false;
  const last = a.lines?.[a.lines.length - 1];
  const first = b.lines?.[0];
  if (!last || !first || Math.abs(last.fontSize - first.fontSize) > 0.5) return false;
  if (/[.!?:]["')\]]?$/.test(last.text.trim())) return false;
  // The cut line is full: it ends near the block's right edge.
  return last.bbox.x1 >= a.bbox.x1 - last.fontSize * 3 && (a.lines!.length > 1 || /^[a-z]/.test(first.text));
}

function merge(a: Block, b: Block, words: () => Lexicon): Block {
  const lines = [...(a.lines ?? []), ...(b.lines ?? [])];
  if (a.type === 'table') return { ...a, rows: joinTableParts(a, b), lines };
  if (a.type === 'code') return { ...a, text: `${a.text}\n${b.text}`, lines };
  const hyphen = /[a-z]-$/.test(a.text ?? '') && /^[a-z]/.test(b.text ?? '');
  const left = (a.text ?? '').slice(-40, -1);
  const text = !hyphen
    ? `${a.text} ${b.text}`
    : dropsHyphen(left, b.text ?? '', words())
      ? (a.text ?? '').slice(0, -1) + b.text
      : `${a.text}${b.text}`;
  return { ...a, text, lines };
}
