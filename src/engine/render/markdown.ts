import type { Block, Document } from '../types.js';
import { htmlTable } from './html-parts.js';
import { safeInlineMarkdown } from './inline-markdown.js';

// Render step: block tree → Markdown (GFM). Block texts are the engine's inline Markdown,
// checked on the way out (safeInlineMarkdown): no link leaves that the link policy refuses.

export function renderMarkdown(doc: Document, options: { paginate?: boolean } = {}): string {
  const parts: string[] = [];
  let page = -1;
  for (const block of doc.blocks) {
    if (options.paginate && block.page !== page) {
      if (page !== -1) parts.push(pageSeparator(block.page));
      page = block.page;
    }
    const md = renderBlock(block);
    if (md) parts.push(md);
  }
  return parts.length ? parts.join('\n\n') + '\n' : '';
}

/** A page that could not be read leaves a visible mark where it was (an HTML comment). */
export function unreadableComment(block: Block): string {
  // "--" may not appear inside an HTML comment.
  const reason = (block.text ?? '').replace(/-{2,}/g, '-').replace(/\s+/g, ' ');
  return `<!-- docmark: ${reason} -->`;
}

/** Marker's style of page separator: the page index in braces, then a rule. */
export function pageSeparator(page: number): string {
  return `{${page}}------------------------------------------------`;
}

export function renderBlock(block: Block, indent = ''): string {
  switch (block.type) {
    case 'heading':
      return `${'#'.repeat(block.level ?? 1)} ${oneLine(block.text)}`;
    case 'paragraph':
      return indent + oneLine(block.text);
    case 'code': {
      const body = block.text ?? '';
      const fence = '`'.repeat(Math.max(3, longestRun(body, '`') + 1));
      return `${fence}\n${body}\n${fence}`;
    }
    case 'blockquote':
      return (block.children ?? [])
        .map((c) => renderBlock(c))
        .join('\n\n')
        .split('\n')
        .map((l) => (l ? `> ${l}` : '>'))
        .join('\n');
    case 'rule':
      return '---';
    case 'list':
      return renderList(block, indent);
    case 'table':
      return renderTable(block.rows ?? []);
    case 'image':
      return block.imageId ? `![](${block.imageId})` : '';
    case 'page_break':
      return '';
    case 'unreadable_page':
      return unreadableComment(block);
    default:
      return oneLine(block.text);
  }
}

function renderList(list: Block, indent: string): string {
  let n = list.start ?? 1;
  const out: string[] = [];
  for (const item of list.children ?? []) {
    const marker = list.ordered ? `${n++}. ` : '- ';
    const pad = indent + ' '.repeat(marker.length);
    out.push(indent + marker + oneLine(item.text));
    for (const child of item.children ?? []) out.push(renderBlock(child, pad));
  }
  return out.join('\n');
}

function renderTable(rows: string[][]): string {
  if (rows.length === 0) return '';
  // A GFM cell holds one line of text: a cell broken on purpose needs an HTML table.
  if (rows.some((r) => r.some((c) => c.includes('\n')))) return htmlTable(rows);
  const width = Math.max(...rows.map((r) => r.length));
  const cell = (s: string | undefined): string => oneLine(s).replace(/\|/g, '\\|');
  const line = (r: string[]): string => `| ${Array.from({ length: width }, (_, i) => cell(r[i])).join(' | ')} |`;
  return [line(rows[0]), `| ${Array(width).fill('---').join(' | ')} |`, ...rows.slice(1).map(line)].join('\n');
}

function oneLine(text: string | undefined): string {
  return safeInlineMarkdown((text ?? '').replace(/\s+/g, ' ').trim());
}

function longestRun(text: string, ch: string): number {
  let best = 0;
  let run = 0;
  for (const c of text) {
    run = c === ch ? run + 1 : 0;
    best = Math.max(best, run);
  }
  return best;
}
