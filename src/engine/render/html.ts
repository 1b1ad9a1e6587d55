import type { Block, Document } from '../types.js';
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
      const items = (block.children ?? []).map(
        (item) => `<li>${inline(item.text)}${(item.children ?? []).map(renderBlock).join('')}</li>`,
      );
      return `<${tag}${start}>${items.join('')}</${tag}>`;
    }
    case 'table': {
      const [head = [], ...body] = block.rows ?? [];
      const tr = (cells: string[], tag: string): string => `<tr>${cells.map((c) => `<${tag}>${inline(c)}</${tag}>`).join('')}</tr>`;
      return `<table><thead>${tr(head, 'th')}</thead><tbody>${body.map((r) => tr(r, 'td')).join('')}</tbody></table>`;
    }
    case 'image':
      return block.imageId ? `<img src="${escapeHtml(block.imageId)}" alt="">` : '';
    case 'unreadable_page':
      return unreadableComment(block);
    default:
      return '';
  }
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The small inline Markdown subset the engine emits: code, links, strong, emphasis, escapes. */
export function inline(md: string | undefined): string {
  const text = md ?? '';
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    let m: RegExpMatchArray | null;
    if ((m = rest.match(/^(`+)([\s\S]*?)\1/))) {
      out.push(`<code>${escapeHtml(m[2].trim())}</code>`);
    } else if ((m = rest.match(/^\[([^\]]*)\]\(([^)\s]*)\)/))) {
      out.push(`<a href="${escapeHtml(m[2])}">${inline(m[1])}</a>`);
    } else if ((m = rest.match(/^\*\*([^*]+)\*\*/))) {
      out.push(`<strong>${inline(m[1])}</strong>`);
    } else if ((m = rest.match(/^\*([^*]+)\*/))) {
      out.push(`<em>${inline(m[1])}</em>`);
    } else if ((m = rest.match(/^\\([\\`*_{}[\]()#+\-.!|<>~&])/))) {
      out.push(escapeHtml(m[1]));
    } else {
      m = [rest[0]] as unknown as RegExpMatchArray;
      out.push(escapeHtml(rest[0]));
    }
    i += m[0].length;
  }
  return out.join('');
}
