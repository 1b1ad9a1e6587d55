import type { Block, Document } from '../types.js';
import { escapeHtml, htmlTable, inline } from './html-parts.js';
import { unreadableComment } from './markdown.js';

/** Render step: block tree → an HTML fragment. Inline Markdown is turned into tags. */
export function renderHtml(doc: Document): string {
  return doc.blocks.map(renderBlock).filter(Boolean).join('\n') + '\n';
}

function renderBlock(block: Block): string {
  switch (block.type) {
    case 'heading': {
      const h = `h${block.level ?? 1}`;
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
      const start = block.ordered && block.start !== undefined && block.start !== 1 ? ` start="${block.start}"` : '';
      const items = (block.children ?? []).map((item) => `<li>${inline(item.text)}${(item.children ?? []).map(renderBlock).join('')}</li>`);
      return `<${tag}${start}>${items.join('')}</${tag}>`;
    }
    case 'table':
      return htmlTable(block.rows ?? [], block);
    case 'image':
      return block.imageId ? `<img src="${escapeHtml(block.imageId)}" alt="">` : '';
    case 'unreadable_page':
      return unreadableComment(block);
    default:
      return '';
  }
}
