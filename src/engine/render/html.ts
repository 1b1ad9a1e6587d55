import type { Block, Document } from '../types.js';
import { escapeHtml, htmlTable, inline } from './html-parts.js';
import { type InlineNode, parseInline } from './inline-markdown.js';
import { unreadableComment } from './markdown.js';

// Render step: block tree → a whole HTML document, so a saved file opens with the right
// characters (it declares UTF-8) and a title. The body is the blocks, one element per line;
// inline Markdown is turned into tags.

/** A tab's worth of title; a PDF's Title entry can be any length. */
const MAX_TITLE_CHARS = 200;
const UNTITLED = 'Untitled document';
// The output has no script of its own: if anything ever slipped through, a browser refuses to run it.
const CSP = "script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'";

export function renderHtml(doc: Document): string {
  const body = doc.blocks.map(renderBlock).filter(Boolean).join('\n');
  return [
    '<!DOCTYPE html>',
    '<html>',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${CSP}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="generator" content="docmark">',
    `<title>${escapeHtml(documentTitle(doc))}</title>`,
    '</head>',
    '<body>',
    ...(body ? [body] : []),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** The PDF's own title, else the first heading's text, on one line and cut to a readable length. */
export function documentTitle(doc: Document): string {
  const heading = doc.blocks.find((b) => b.type === 'heading')?.text;
  const title = doc.info.title || (heading ? plainText(parseInline(heading)) : '');
  // Control characters have no place in a title; a PDF string can carry any byte.
  const line = title
    .replace(/\p{Cc}/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (!line) return UNTITLED;
  return line.length > MAX_TITLE_CHARS ? `${line.slice(0, MAX_TITLE_CHARS - 1)}…` : line;
}

function plainText(nodes: InlineNode[]): string {
  return nodes.map((n) => ('children' in n ? plainText(n.children) : n.text)).join('');
}

function renderBlock(block: Block): string {
  switch (block.type) {
    case 'heading': {
      const h = `h${headingLevel(block.level)}`;
      return `<${h}>${inline(block.text)}</${h}>`;
    }
    case 'paragraph':
      return `<p>${inline(block.text)}</p>`;
    case 'code':
      return `<pre><code>${escapeHtml(block.text ?? '')}</code></pre>`;
    case 'blockquote':
      return `<blockquote>\n${(block.children ?? []).map(renderBlock).join('\n')}\n</blockquote>`;
    case 'rule':
      return '<hr>';
    case 'list': {
      const tag = block.ordered ? 'ol' : 'ul';
      const start = block.ordered && Number.isInteger(block.start) && block.start !== 1 ? ` start="${block.start}"` : '';
      const items = (block.children ?? []).map((item) => `<li>${inline(item.text)}${(item.children ?? []).map(renderBlock).join('')}</li>`);
      return `<${tag}${start}>${items.join('')}</${tag}>`;
    }
    case 'table':
      return htmlTable(block.rows ?? []);
    case 'image':
      return block.imageId ? `<img src="${escapeHtml(block.imageId)}" alt="">` : '';
    case 'unreadable_page':
      return unreadableComment(block);
    default:
      return '';
  }
}

/** h1–h6 whatever the block says: the level names a tag. */
function headingLevel(level: number | undefined): number {
  return Number.isInteger(level) ? Math.min(6, Math.max(1, level!)) : 1;
}
