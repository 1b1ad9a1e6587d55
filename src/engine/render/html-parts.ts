/** HTML pieces shared by the HTML renderer and the Markdown renderer's table fallback. */

import type { TableSpan } from '../types.js';

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

/**
 * A table as HTML, the first row (or the first `headerRows`) as its header; a cell listed in
 * `spans` covers the columns after it (their cells are not written). A cell's line breaks ("\n":
 * a list or separate paragraphs in the cell) become <br>; short rows are padded with empty cells.
 * One row per line and no blank line, so Markdown keeps it as one HTML block.
 */
export function htmlTable(rows: string[][], { headerRows = 1, spans = [] }: { headerRows?: number; spans?: readonly TableSpan[] } = {}): string {
  if (rows.length === 0) return '';
  const width = Math.max(...rows.map((r) => r.length));
  const row = (cells: string[], r: number, tag: 'th' | 'td'): string => {
    const out: string[] = [];
    for (let c = 0; c < width; c++) {
      const span = spans.find((s) => s.row === r && s.col === c && s.cols > 1);
      const text = (cells[c] ?? '').split('\n').map(inline).join('<br>');
      out.push(span ? `<${tag} colspan="${span.cols}">${text}</${tag}>` : `<${tag}>${text}</${tag}>`);
      if (span) c += span.cols - 1;
    }
    return `<tr>${out.join('')}</tr>`;
  };
  const head = Math.max(1, Math.min(headerRows, rows.length));
  return [
    '<table>',
    `<thead>${rows
      .slice(0, head)
      .map((r, k) => row(r, k, 'th'))
      .join('')}</thead>`,
    '<tbody>',
    ...rows.slice(head).map((r, k) => row(r, head + k, 'td')),
    '</tbody>',
    '</table>',
  ].join('\n');
}
