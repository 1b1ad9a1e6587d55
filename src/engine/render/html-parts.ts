// HTML pieces shared by the HTML renderer and the Markdown renderer's table fallback.
import { type InlineNode, parseInline } from './inline-markdown.js';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * The engine's inline Markdown (code, links, strong, emphasis, escapes) as HTML. Everything that
 * is not one of those constructs is text and escaped as such; a link whose target the link
 * policy refuses keeps its text and loses the link.
 */
export function inline(md: string | undefined): string {
  return md ? inlineHtml(parseInline(md)) : '';
}

function inlineHtml(nodes: InlineNode[]): string {
  let out = '';
  for (const node of nodes) {
    switch (node.kind) {
      case 'text':
        out += escapeHtml(node.text);
        break;
      case 'code':
        out += `<code>${escapeHtml(node.text)}</code>`;
        break;
      case 'link':
        out += node.href === undefined ? inlineHtml(node.children) : `<a href="${escapeHtml(node.href)}">${inlineHtml(node.children)}</a>`;
        break;
      case 'strong':
        out += `<strong>${inlineHtml(node.children)}</strong>`;
        break;
      case 'em':
        out += `<em>${inlineHtml(node.children)}</em>`;
        break;
      case 'strong_em':
        out += `<strong><em>${inlineHtml(node.children)}</em></strong>`;
        break;
    }
  }
  return out;
}

/**
 * A table as HTML, the first row as its header. A cell's line breaks ("\n": a list or separate
 * paragraphs in the cell) become <br>; short rows are padded with empty cells. One row per
 * line and no blank line, so Markdown keeps it as one HTML block.
 */
export function htmlTable(rows: string[][]): string {
  if (rows.length === 0) return '';
  const width = Math.max(...rows.map((r) => r.length));
  const row = (cells: string[], tag: 'th' | 'td'): string =>
    `<tr>${Array.from({ length: width }, (_, i) => `<${tag}>${(cells[i] ?? '').split('\n').map(inline).join('<br>')}</${tag}>`).join('')}</tr>`;
  const [head, ...body] = rows;
  return ['<table>', `<thead>${row(head, 'th')}</thead>`, '<tbody>', ...body.map((r) => row(r, 'td')), '</tbody>', '</table>'].join('\n');
}
