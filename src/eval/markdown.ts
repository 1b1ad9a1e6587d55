import { collapseSpaces, decodeEntities, inlineText } from './text.js';

// Markdown → a flat list of blocks, leniently: it reads ground truth written by people and the
// output of converters alike, so it accepts what CommonMark and GFM accept and never fails.
// Block texts are plain text (inline markup removed); code keeps its lines as written.

export type Block =
  | { type: 'heading'; level: number; text: string }
  | { type: 'paragraph'; text: string }
  | ListItem
  | { type: 'code'; text: string }
  | { type: 'table'; rows: string[][] };

export interface ListItem {
  type: 'item';
  /** 0 for a top-level item, 1 inside it, … */
  depth: number;
  ordered: boolean;
  text: string;
  /** The item is a heading (`- ## Title`): counted once as each, its text once. */
  isHeading?: boolean;
}

const FENCE = /^(\s*)(`{3,}|~{3,})(.*)$/;
const CLOSING_FENCE = /^\s*(`{3,}|~{3,})\s*$/;
const ATX_HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const THEMATIC_BREAK = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const SETEXT_1 = /^ {0,3}=+[ \t]*$/;
const SETEXT_2 = /^ {0,3}-+[ \t]*$/;
/** Bullets as converters write them too (•, ◦, ▪, ●, ‣, ⁃), and `1.` / `1)`. */
const LIST_ITEM = /^(\s*)([-*+\u2022\u25e6\u25aa\u25cf\u2023\u2043]|\d{1,9}[.)])(?:[ \t]+(.*)|[ \t]*$)/;
const QUOTE = /^ {0,3}>[ ]?(.*)$/;
const TABLE_DELIMITER_ROW = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;
const HTML_TABLE = /^\s*<table[\s>]/i;
const INDENTED_CODE = /^ {4,}/;
const TASK_BOX = /^\[[ xX]\]\s+/;

/** Where the parser is relative to a list: a blank line inside a list may continue an item. */
type ListContext = 'none' | 'in' | 'after-blank';

interface OpenParagraph {
  lines: string[];
  /** The list item this text belongs to (its first line and lazy continuations). */
  item?: ListItem;
}

export function parseMarkdown(markdown: string): Block[] {
  return new BlockParser(markdown).parse();
}

class BlockParser {
  private readonly lines: string[];
  private readonly blocks: Block[] = [];
  private i = 0;
  private paragraph: OpenParagraph | undefined;
  private list: ListContext = 'none';
  /** Content columns of the open list items, outermost first. */
  private listColumns: number[] = [];

  constructor(markdown: string) {
    this.lines = markdown
      .replace(/\r\n?/g, '\n')
      .replace(/\t/g, '    ')
      .replace(/[\u00A0\u2007\u202F]/g, ' ')
      .split('\n');
  }

  parse(): Block[] {
    while (this.i < this.lines.length) this.step(this.lines[this.i]);
    this.closeParagraph();
    return this.blocks;
  }

  private step(line: string): void {
    if (!line.trim()) {
      this.closeParagraph();
      this.i++;
      if (this.list !== 'none') this.list = 'after-blank';
      return;
    }
    if (this.skipComment(line) || this.fencedCode(line) || this.indentedCode(line) || this.htmlTable(line) || this.pipeTable(line)) return;
    if (this.atxHeading(line) || this.setextHeading(line) || this.thematicBreak(line) || this.blockquote(line) || this.listItem(line)) return;
    if (this.list === 'after-blank') {
      // An indented paragraph after a blank line inside a list belongs to the item above.
      if (/^\s{2,}/.test(line)) {
        this.closeParagraph();
        this.paragraph = { lines: [line.trim()] };
        this.i++;
        this.list = 'in';
        return;
      }
      this.leaveList();
    }
    this.paragraph ??= { lines: [] };
    this.paragraph.lines.push(line.trim());
    this.i++;
  }

  private leaveList(): void {
    this.list = 'none';
    this.listColumns = [];
  }

  private closeParagraph(): void {
    const open = this.paragraph;
    if (!open) return;
    this.paragraph = undefined;
    const text = collapseSpaces(inlineText(open.lines.join(' ')));
    if (open.item) open.item.text = collapseSpaces(`${open.item.text} ${text}`);
    else if (text) this.blocks.push({ type: 'paragraph', text });
  }

  /** An HTML comment on lines of its own (page-break markers, say) shows nothing. */
  private skipComment(line: string): boolean {
    if (!/^\s*<!--/.test(line)) return false;
    let end = this.i;
    while (end < this.lines.length && !this.lines[end].includes('-->')) end++;
    if (end >= this.lines.length || !/-->\s*$/.test(this.lines[end])) return false;
    this.closeParagraph();
    this.i = end + 1;
    return true;
  }

  private fencedCode(line: string): boolean {
    const m = FENCE.exec(line);
    if (!m || (m[2][0] === '`' && m[3].includes('`'))) return false;
    this.closeParagraph();
    const indent = m[1].length;
    const [fenceChar, fenceLength] = [m[2][0], m[2].length];
    const body: string[] = [];
    for (this.i++; this.i < this.lines.length; this.i++) {
      const l = this.lines[this.i];
      const close = CLOSING_FENCE.exec(l);
      if (close && close[1][0] === fenceChar && close[1].length >= fenceLength) {
        this.i++;
        break;
      }
      body.push(l.slice(Math.min(indent, l.length - l.trimStart().length)));
    }
    this.blocks.push({ type: 'code', text: body.join('\n') });
    // A fence indented under a list item is part of the item: the list goes on after it.
    if (indent >= 2 && this.list !== 'none') this.list = 'in';
    else this.leaveList();
    return true;
  }

  private indentedCode(line: string): boolean {
    if (!INDENTED_CODE.test(line) || this.paragraph || this.list !== 'none') return false;
    const body: string[] = [];
    const next = (): string | undefined => this.lines[this.i + 1];
    while (this.i < this.lines.length) {
      const l = this.lines[this.i];
      const blankBeforeMore = !l.trim() && this.i + 1 < this.lines.length && INDENTED_CODE.test(next() ?? '');
      if (!INDENTED_CODE.test(l) && !blankBeforeMore) break;
      body.push(l.replace(/^ {4}/, ''));
      this.i++;
    }
    this.blocks.push({ type: 'code', text: body.join('\n') });
    return true;
  }

  private htmlTable(line: string): boolean {
    if (!HTML_TABLE.test(line)) return false;
    this.closeParagraph();
    let html = '';
    while (this.i < this.lines.length) {
      const l = this.lines[this.i++];
      html += `${l}\n`;
      if (/<\/table>/i.test(l)) break;
    }
    const rows = htmlTableRows(html);
    if (rows.length) this.blocks.push({ type: 'table', rows: rows.map((r) => r.map(collapseSpaces)) });
    this.leaveList();
    return true;
  }

  /** A GFM table: a header row, then a delimiter row (`| --- | :-: |`). */
  private pipeTable(line: string): boolean {
    const delimiter = this.lines[this.i + 1];
    if (!line.includes('|') || delimiter === undefined || !TABLE_DELIMITER_ROW.test(delimiter) || !delimiter.includes('-')) return false;
    if (!delimiter.includes('|') && !line.trim().startsWith('|')) return false;
    this.closeParagraph();
    const rows = [tableCells(line)];
    for (this.i += 2; this.i < this.lines.length && this.lines[this.i].trim() && this.lines[this.i].includes('|'); this.i++) {
      rows.push(tableCells(this.lines[this.i]));
    }
    this.blocks.push({ type: 'table', rows: rows.map((r) => r.map((cell) => collapseSpaces(inlineText(cell)))) });
    this.leaveList();
    return true;
  }

  private atxHeading(line: string): boolean {
    const m = ATX_HEADING.exec(line);
    if (!m) return false;
    this.closeParagraph();
    this.blocks.push({ type: 'heading', level: m[1].length, text: collapseSpaces(inlineText(m[2] ?? '')) });
    this.i++;
    this.leaveList();
    return true;
  }

  /** `Title` over `===` or `---`: the open paragraph becomes the heading. */
  private setextHeading(line: string): boolean {
    const open = this.paragraph;
    if (!open || open.item) return false;
    const level = SETEXT_1.test(line) ? 1 : SETEXT_2.test(line) && open.lines.length ? 2 : 0;
    if (!level) return false;
    this.paragraph = undefined;
    this.blocks.push({ type: 'heading', level, text: collapseSpaces(inlineText(open.lines.join(' '))) });
    this.i++;
    return true;
  }

  private thematicBreak(line: string): boolean {
    if (!THEMATIC_BREAK.test(line)) return false;
    this.closeParagraph();
    this.i++;
    this.leaveList();
    return true;
  }

  /** A quote's content is read as Markdown of its own; its blocks count like any other. */
  private blockquote(line: string): boolean {
    if (!QUOTE.test(line)) return false;
    this.closeParagraph();
    const inner: string[] = [];
    while (this.i < this.lines.length && this.lines[this.i].trim()) {
      const quoted = QUOTE.exec(this.lines[this.i]);
      if (!quoted && !inner.length) break;
      inner.push(quoted ? quoted[1] : this.lines[this.i]);
      this.i++;
    }
    this.blocks.push(...parseMarkdown(inner.join('\n')));
    this.leaveList();
    return true;
  }

  private listItem(line: string): boolean {
    const m = LIST_ITEM.exec(line);
    if (!m) return false;
    const [, indentText, marker, content] = m;
    const ordered = /^\d/.test(marker);
    // Inside a paragraph, only `1.` and a non-empty item start a list (CommonMark's rule): a
    // wrapped line that happens to begin with "2019." stays text.
    const plainParagraph = this.paragraph && !this.paragraph.item;
    if (plainParagraph && ((ordered && !/^1[.)]$/.test(marker)) || !content)) return false;
    this.closeParagraph();
    const indent = indentText.length;
    if (this.list === 'none') this.listColumns = [];
    while (this.listColumns.length && indent < this.listColumns[this.listColumns.length - 1]) this.listColumns.pop();
    this.listColumns.push(indent + marker.length + 1);
    const item: ListItem = { type: 'item', depth: this.listColumns.length - 1, ordered, text: '' };
    this.blocks.push(item);
    const text = (content ?? '').replace(TASK_BOX, '');
    const heading = ATX_HEADING.exec(text);
    if (heading) {
      item.text = collapseSpaces(inlineText(heading[2] ?? ''));
      item.isHeading = true;
      this.blocks.push({ type: 'heading', level: heading[1].length, text: item.text });
    } else {
      this.paragraph = { lines: [text], item };
    }
    this.i++;
    this.list = 'in';
    return true;
  }
}

/** A pipe-table row's cells: outer pipes dropped, `\|` kept as text, pipes in code spans kept. */
function tableCells(line: string): string[] {
  let row = line.trim();
  if (row.startsWith('|')) row = row.slice(1);
  if (row.endsWith('|') && !row.endsWith('\\|')) row = row.slice(0, -1);
  const cells: string[] = [];
  let cell = '';
  let inCode = false;
  for (let i = 0; i < row.length; i++) {
    const c = row[i];
    if (c === '\\' && row[i + 1] === '|') {
      cell += '|';
      i++;
      continue;
    }
    if (c === '`') inCode = !inCode;
    if (c === '|' && !inCode) {
      cells.push(cell.trim());
      cell = '';
    } else {
      cell += c;
    }
  }
  cells.push(cell.trim());
  return cells;
}

/** Rows of an HTML table; tags inside cells are dropped, and unclosed `<tr>`/`<td>` are tolerated. */
function htmlTableRows(html: string): string[][] {
  const rows: string[][] = [];
  for (const row of html.matchAll(/<tr[^>]*>([\s\S]*?)(?=<tr[\s>]|<\/table>|$)/gi)) {
    const cells = [...row[1].matchAll(/<t([dh])[^>]*>([\s\S]*?)(?=<t[dh][\s>]|<\/tr>|$)/gi)].map((cell) =>
      decodeEntities(cell[2].replace(/<br\s*\/?>/gi, ' ').replace(/<[^>]+>/g, ' ')).trim(),
    );
    if (cells.length) rows.push(cells);
  }
  return rows;
}

/** The document's text, one block per line (a table row per line): what the text metric reads. */
export function blocksText(blocks: Block[]): string {
  const lines: string[] = [];
  for (const b of blocks) {
    if (b.type === 'table') for (const row of b.rows) lines.push(row.join(' '));
    else if (!(b.type === 'item' && b.isHeading)) lines.push(b.text);
  }
  return lines.join('\n');
}

export function markdownText(markdown: string): string {
  return blocksText(parseMarkdown(markdown));
}
