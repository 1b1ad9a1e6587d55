import type { Block, Line, Page } from '../types.js';
import { resolvePlaces } from '../extract/destinations.js';
import { markFontStyles } from '../extract/fonts.js';
import { findFootnotes, withoutMark } from './footnotes.js';
import { buildLexicon, type Lexicon } from './hyphens.js';
import { type InlineOptions, inlineMarkdown } from './inline.js';
import { textMeasures } from './measures.js';
import { analyseLayout, type Column, columnIndexOf, columnsOf, type Layout } from './columns.js';
import { firstWordWidth, textSize, unionBoxes } from '../extract/lines.js';
import { removeFurniture } from './furniture.js';
import { entryTitle, findContents } from './contents.js';
import { findDisplays } from './equations.js';
import { atParagraphIndent, goesOnFromIndentedLine, hangsUnderLabel, paragraphIndent } from './indents.js';
import { paragraphLineGap } from './leading.js';
import { listMarker, type ListMarker, withoutMarker, writesBullets } from './markers.js';
import { columnStarts, detectTables, type FoundTable } from './tables.js';

// Layout step: lines → blocks. Drops page furniture, reads font styles and the column layout
// and what the document does the same way throughout (bullets drawn as text or as shapes, code
// set flush or in padded boxes, the size of inline code), then walks each page's lines in
// reading order (most producers draw text column by column) and cuts them into paragraphs, list
// items, block quotes, code blocks and footnotes. Headings, list nesting and joins across pages
// are decided later by the structure steps.

export function layoutBlocks(pages: Page[]): Block[] {
  removeFurniture(pages);
  resolvePlaces(pages);
  markFontStyles(pages);
  const layout = analyseLayout(pages);
  const pitch = codeLinePitch(pages);
  const bulletsAsText = writesBullets(pages);
  const { flush, fonts: codeFonts } = codeSetting(pages, layout);
  const allLines = pages.flatMap((p) => p.lines);
  let lexicon: Lexicon | undefined;
  const { codeGap, codeScale } = textMeasures(pages);
  const lineGap = paragraphLineGap(pages, layout);
  const indent = paragraphIndent(pages, layout, lineGap);
  const inline: InlineOptions = { codeGap, lexicon: () => (lexicon ??= buildLexicon(allLines)) };
  const blocks: Block[] = [];
  for (const page of pages) {
    if (page.failure)
      blocks.push({ type: 'unreadable_page', page: page.index, bbox: { x0: 0, y0: 0, x1: page.width, y1: page.height }, text: page.failure.message });
    else {
      // A table that ends a page may go on at the top of the next one.
      const last = blocks[blocks.length - 1];
      const carried = last?.type === 'table' && last.lines ? columnStarts(last.lines, layout.bodySize) : undefined;
      blocks.push(
        ...withImages(pageBlocks(page, { layout, pitch, carried, bulletsAsText, flush, codeFonts, inline, codeScale, indent, lineGap }), page),
      );
    }
  }
  return blocks;
}

/** Image blocks go before the first block that starts below the image's top (same column). */
function withImages(blocks: Block[], page: Page): Block[] {
  const out = [...blocks];
  for (const image of page.images) {
    const block: Block = { type: 'image', page: page.index, bbox: image.bbox, imageId: image.id };
    const at = out.findIndex((b) => b.bbox.y0 >= image.bbox.y0 && b.bbox.x0 < image.bbox.x1 && image.bbox.x0 < b.bbox.x1);
    out.splice(at === -1 ? out.length : at, 0, block);
  }
  return out;
}

interface LineInfo {
  line: Line;
  column: Column;
  columnIndex: number;
  /** Where the text starts relative to the column's left margin (after a list marker). */
  indent: number;
  /** The bullet or number drawn before a list item's text. */
  marker?: ListMarker;
  mono: boolean;
  bold: boolean;
  /** The size the line's text is set in (see textSize). */
  size: number;
  /** It runs across two or more columns (see spanOf). */
  spans: boolean;
  /** The page's width over all its columns, when it has several and no other column has text beside this line. */
  band?: Column;
}

function describe(line: Line, layout: Layout, columns: Column[], codeScale: number, next: Line | undefined, previous: number | undefined): LineInfo {
  const columnIndex = columnIndexOf(columns, line);
  const column = spanOf(columns, columnIndex, line);
  const marker = listMarker(line, column.left, layout.bodySize, next, previous);
  return {
    line,
    column,
    columnIndex,
    indent: (marker?.start ?? line.bbox.x0) - column.left,
    marker,
    // A list item's text in code is an item, not a line of code.
    mono: !marker && isMonospaceLine(line),
    bold: line.runs.every((r) => r.bold || r.monospace) && line.runs.some((r) => r.bold),
    size: textSize(line, codeScale),
    spans: column !== columns[columnIndex],
  };
}

/**
 * The column a line is set in, or the columns it runs across as one (a paper's title and
 * abstract over its two columns): a line that goes on past the next column's margin is set
 * across both, and is centred or indented against that width.
 */
function spanOf(columns: Column[], index: number, line: Line): Column {
  // It starts in its column's first half (a line starting past that is of a column not found).
  const own = columns[index];
  if (line.bbox.x0 > (own.left + own.wrap) / 2) return own;
  let last = index;
  while (last + 1 < columns.length && line.bbox.x1 > columns[last + 1].left + SPAN_OVERLAP) last++;
  if (last === index) return columns[index];
  return { left: columns[index].left, right: columns[last].right, wrap: columns[last].wrap };
}

/** A line reaching this far (pt) past the next column's margin runs across it (not a glyph's overhang). */
const SPAN_OVERLAP = 2;

/**
 * A line set in the monospace font. Symbols the code font lacks (©, ≠, emoji) come from a
 * fallback font: short runs of another font do not make a code line prose.
 */
function isMonospaceLine(line: Line): boolean {
  let mono = 0;
  let other = 0;
  for (const r of line.runs) {
    const n = r.text.trim().length;
    if (r.monospace) mono += n;
    else if (n > 2) return false;
    else other += n;
  }
  return mono > 0 && mono >= other * 3;
}

/** What the layout step knows of the whole document when it cuts a page into blocks. */
interface DocumentLook {
  layout: Layout;
  /** The document's code line pitch, in font sizes (see codeLinePitch). */
  pitch: number | undefined;
  /** Column starts of a table that ended the page before. */
  carried: number[] | undefined;
  /** List bullets are drawn as text (see writesBullets). */
  bulletsAsText: boolean;
  /** Code blocks are set flush with the text rather than inset in a padded box. */
  flush: boolean;
  /** The fonts of its code blocks (see codeSetting). */
  codeFonts: Set<string>;
  inline: InlineOptions;
  /** Inline code's size over the prose's (see inlineCodeScale). */
  codeScale: number;
  /** The indent of its paragraphs' first lines, when it indents them (see paragraphIndent). */
  indent: number | undefined;
  /** The widest gap between lines of one paragraph, in font sizes (see paragraphLineGap). */
  lineGap: number;
}

function pageBlocks(page: Page, look: DocumentLook): Block[] {
  const { layout, pitch, carried, bulletsAsText, flush } = look;
  const body = layout.bodySize;
  const columns = columnsOf(layout, page.index);
  // Footnotes are blocks of their own after the page's text; their calls in the text are references.
  const notes = findFootnotes(page, body, columns);
  const noteLines = new Set(notes.flatMap((n) => n.lines));
  const inline: InlineOptions = notes.length ? { ...look.inline, notes: new Set(notes.map((n) => n.mark)) } : look.inline;
  const lines = noteLines.size ? page.lines.filter((l) => !noteLines.has(l)) : page.lines;
  // The last numbered item's number, per column: the next number at the margin goes on with its list.
  const numbers = new Map<number, number>();
  const infos = lines.map((l, k) => {
    const info = describe(l, layout, columns, look.codeScale, lines[k + 1], numbers.get(columnIndexOf(columns, l)));
    if (info.marker?.number !== undefined) numbers.set(info.columnIndex, info.marker.number);
    return info;
  });
  markBands(infos, columns);
  const tables = detectTables(
    // A list marker is no table cell.
    infos.map((i) => ({ line: i.marker ? withoutMarker(i.line, i.marker) : i.line, left: i.column.left })),
    body,
    carried,
    page.rects,
  );
  const displays = new Map(findDisplays(infos, body).filter(([first]) => !tables.has(first)));
  const contents = new Map(findContents(infos, body).filter(([first]) => !tables.has(first)));
  const blocks: Block[] = [];
  let i = 0;
  while (i < infos.length) {
    const entries = contents.get(i);
    if (entries !== undefined) {
      for (const info of infos.slice(i, entries)) blocks.push(contentsEntry(info, page.index, inline));
      i = entries;
      continue;
    }
    const display = displays.get(i);
    if (display !== undefined) {
      blocks.push(displayBlock(infos.slice(i, display), page.index, inline));
      i = display;
      continue;
    }
    const table = tables.get(i);
    if (table) {
      blocks.push({ ...table.block, page: page.index });
      i = table.end;
      continue;
    }
    const codeEnds = codeStartingAt(infos, i, body, pitch, flush, look.codeFonts);
    if (codeEnds !== undefined) {
      let end = codeEnds;
      // A table starting inside it ends it (a table cell of code can look like a code line),
      // unless it is all code: that is the block's own alignment (a CLI's help text).
      for (let k = i + 1; k < end; k++) if (hasProse(tables.get(k))) end = k;
      blocks.push(codeBlock(infos.slice(i, end), page.index, body));
      i = end;
      continue;
    }
    let end = i + 1;
    while (end < infos.length && !tables.has(end) && continuesText(infos[i], infos[end - 1], infos[end], body, flush, look.lineGap)) end++;
    const block = textBlock(infos.slice(i, end), page.index, body, bulletsAsText, inline, look.indent, look.lineGap);
    const prev = blocks[blocks.length - 1];
    if (bulletsAsText && continuesItem(prev, block, body)) {
      const more = block.children?.[0]?.text ?? '';
      blocks[blocks.length - 1] = {
        ...prev,
        text: `${prev.text} ${more}`,
        lines: [...prev.lines!, ...block.lines!],
        bbox: unionBoxes([prev.bbox, block.bbox]),
      };
    } else blocks.push(block);
    i = end;
  }
  for (const note of notes) {
    const bbox = unionBoxes(note.lines.map((l) => l.bbox));
    blocks.push({
      type: 'paragraph',
      page: page.index,
      bbox,
      text: `[^${note.mark}]: ${inlineMarkdown(withoutMark(note), inline)}`,
      lines: note.lines,
      note: note.mark,
    });
  }
  return blocks;
}

/** An entry of a table of contents: a list item of its title, nested by its indent. */
function contentsEntry(info: LineInfo, page: number, inline: InlineOptions): Block {
  const title = entryTitle(info.line);
  return {
    type: 'list_item',
    page,
    bbox: info.line.bbox,
    text: inlineMarkdown([title], inline),
    lines: [info.line],
    depth: 0,
    indent: info.line.bbox.x0 - info.column.left,
  };
}

/** A displayed formula: one paragraph of its lines' text, in the order they were drawn, without emphasis. */
function displayBlock(infos: LineInfo[], page: number, inline: InlineOptions): Block {
  const lines = infos.map((i) => ({ ...i.line, runs: i.line.runs.map((r) => ({ ...r, bold: false, italic: false, monospace: false })) }));
  return {
    type: 'paragraph',
    page,
    bbox: unionBoxes(lines.map((l) => l.bbox)),
    text: inlineMarkdown(lines, inline),
    lines: infos.map((i) => i.line),
  };
}

/** Lines no other column has text beside get the page's width over its columns (LineInfo.band). */
function markBands(infos: LineInfo[], columns: Column[]): void {
  if (columns.length < 2) return;
  const band: Column = { left: columns[0].left, right: columns[columns.length - 1].right, wrap: columns[columns.length - 1].wrap };
  const byTop = [...infos].sort((a, b) => a.line.bbox.y0 - b.line.bbox.y0);
  const tallest = infos.reduce((most, i) => Math.max(most, i.line.bbox.y1 - i.line.bbox.y0), 0);
  for (const info of infos) {
    const { y0, y1 } = info.line.bbox;
    // Only lines starting less than the tallest line's height above this one can reach it.
    let k = firstAtOrBelow(byTop, y0 - tallest);
    let beside = false;
    for (; k < byTop.length && byTop[k].line.bbox.y0 < y1; k++) {
      const other = byTop[k];
      if (other.columnIndex !== info.columnIndex && other.line.bbox.y1 > y0) {
        beside = true;
        break;
      }
    }
    if (!beside) info.band = band;
  }
}

/** The index of the first of `sorted` (by top) whose top is at or below `y`. */
function firstAtOrBelow(sorted: LineInfo[], y: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid].line.bbox.y0 < y) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function hasProse(table: FoundTable | undefined): boolean {
  return !!table?.block.lines?.some((l) => l.runs.some((r) => !r.monospace));
}

/** Share of the code blocks' characters a font must carry to be one of their fonts. */
const CODE_FONT_SHARE = 0.05;
/**
 * Lines of one code block are set closer than this (font sizes, box to box: 0 to 0.3 in browsers,
 * LaTeX and word processors); headings in a code font stacked one over another are spaced wider.
 */
const CODE_LINE_GAP = 0.5;
/** Monospace lines closer to the margin than this (body sizes) are set flush with the text. */
const FLUSH_CODE_INSET = 0.3;

/**
 * Code blocks are monospace lines, either set flush with the text (LaTeX, word processors) or
 * inset from it by the block's padding (browsers). A monospace line that goes on with the prose
 * of the line before it is inline code wrapped onto a line of its own.
 */
function startsCode(info: LineInfo, body: number, flush: boolean, prev?: LineInfo): boolean {
  // Code blocks are set at or below the body size; code alone in a heading is larger.
  if (!info.mono || info.line.fontSize > body * 1.02) return false;
  if (prev && continuesProse(prev, info)) return false;
  const inset = info.line.bbox.x0 - info.column.left;
  if (inset < body * FLUSH_CODE_INSET) return flush;
  // The first line of a column may continue a block cut by the break, at any indentation.
  const firstInColumn = !prev || prev.columnIndex !== info.columnIndex || prev.line.bbox.y0 > info.line.bbox.y0;
  if (firstInColumn && inset > body * 0.3) return true;
  const step = body * 2;
  const offset = ((inset % step) + step) % step;
  return offset > step * 0.2 && offset < step * 0.7;
}

/**
 * Does `next` go on with the prose of `prev`: set right under it, after a line of prose that was
 * full (the next line's first word did not fit on it)?
 */
function continuesProse(prev: LineInfo, next: LineInfo): boolean {
  if (prev.mono || prev.columnIndex !== next.columnIndex) return false;
  const a = prev.line;
  const b = next.line;
  const size = Math.max(prev.size, b.fontSize);
  const gap = b.bbox.y0 - a.bbox.y1;
  if (gap < -size * 0.5 || gap > size * 0.45) return false;
  return a.bbox.x1 + firstWordWidth(b) + size >= prev.column.wrap;
}

/**
 * Where the code block starting at `start` ends, or undefined when none starts there. A monospace
 * line whose inset looks like a list's (code indented by two characters can sit where a list item
 * would) still starts one when a later line of the same run of code lines has a code block's inset.
 */
function codeStartingAt(
  infos: LineInfo[],
  start: number,
  body: number,
  pitch: number | undefined,
  flush: boolean,
  codeFonts: Set<string>,
): number | undefined {
  if (!infos[start].mono || infos[start].line.fontSize > body * 1.02) return undefined;
  if (flush && inOtherCodeFace(infos[start].line, codeFonts) && !infos[start + 1]?.mono) return undefined;
  const end = codeEnd(infos, start, body, pitch, codeFonts);
  if (end === start + 1 && flush && headingSpaced(infos[start - 1], infos[start], infos[start + 1], body)) return undefined;
  for (let k = start; k < end; k++) if (startsCode(infos[k], body, flush, infos[k - 1])) return end;
  return undefined;
}

/** More space above than below (body sizes): a heading, where code has the same on both sides. */
const HEADING_SPACE = 0.3;

/**
 * A line of code alone, with more space above it than below: a heading set in the code font
 * (where code is set flush with the text, nothing else tells them apart).
 */
function headingSpaced(prev: LineInfo | undefined, info: LineInfo, next: LineInfo | undefined, body: number): boolean {
  if (!prev || !next || prev.columnIndex !== info.columnIndex || next.columnIndex !== info.columnIndex) return false;
  const above = info.line.bbox.y0 - prev.line.bbox.y1;
  const below = next.line.bbox.y0 - info.line.bbox.y1;
  return above > 0 && below > 0 && above - below >= body * HEADING_SPACE;
}

/**
 * Where the code block starting at `start` ends. Up to two blank lines stay inside one block. Lines
 * of one block sit on a grid of its line pitch (blank lines included); a line off that grid is in
 * the next block, whose box's padding and margin put it there. The pitch is the block's own when
 * it has lines set one after the other, else the document's (`pitch`, in font sizes).
 */
function codeEnd(infos: LineInfo[], start: number, body: number, pitch: number | undefined, codeFonts: Set<string>): number {
  const left = infos[start].line.bbox.x0;
  const size = infos[start].line.fontSize;
  let end = start + 1;
  while (end < infos.length) {
    const prev = infos[end - 1];
    const next = infos[end];
    if (!next.mono || next.columnIndex !== prev.columnIndex || next.line.bbox.x0 < left - 1) break;
    const dy = next.line.bbox.y0 - prev.line.bbox.y0;
    if (dy < 0 || dy > size * 4.2 || Math.abs(next.line.fontSize - size) > body * 0.05) break;
    end++;
  }
  const lines = infos.slice(start, end).map((i) => i.line);
  const step = (tightPitch(lines) ?? pitch ?? 0) * size;
  if (step === 0) return end;
  for (let k = 1; k < lines.length; k++) {
    // (Only between lines that start in the same font: a fallback font has other metrics. But a
    // line all in a code face the code blocks do not use is a heading in code when off the grid.)
    if (lines[k - 1].runs[0].fontName !== lines[k].runs[0].fontName && !inOtherCodeFace(lines[k], codeFonts)) continue;
    const steps = (baseline(lines[k]) - baseline(lines[k - 1])) / step;
    if (steps > 3.25 || Math.abs(steps - Math.round(steps)) > 0.15) return start + k;
  }
  return end;
}

/** A line whose code is all in monospace fonts other than the code blocks' own. */
function inOtherCodeFace(line: Line, codeFonts: Set<string>): boolean {
  const mono = line.runs.filter((r) => r.monospace);
  return codeFonts.size > 0 && mono.length > 0 && mono.every((r) => !codeFonts.has(r.fontName));
}

/** Where a line's first run sits (its own font's box, unlike the line's, which a symbol from a fallback font can stretch). */
function baseline(line: Line): number {
  return line.runs[0].bbox.y1;
}

/**
 * The distance between monospace lines set one after the other, in font sizes: the mean of the
 * tightest (positions are rounded, so single distances differ by a fraction of a point; lines of
 * inline code in lists and prose are spaced wider than code). Undefined when no two follow closely.
 */
function tightPitch(lines: Line[]): number | undefined {
  return tightest(lineSteps(lines));
}

/**
 * Does the document set its code blocks flush with the text (LaTeX, word processors) rather than
 * inset in a padded box (browsers)? Told by its runs of two or more monospace lines: where most
 * of them start. Then a monospace line at the margin is code unless it goes on with prose. Also
 * the fonts of those runs: a line alone in another monospace font (bold, oblique) is a heading
 * or a label set in code, not a code block.
 */
function codeSetting(pages: Page[], layout: Layout): { flush: boolean; fonts: Set<string> } {
  let flush = 0;
  let inset = 0;
  const chars = new Map<string, number>();
  for (const page of pages) {
    let run: Line[] = [];
    for (const line of [...page.lines, undefined]) {
      const prev = run[run.length - 1];
      if (line && isMonospaceLine(line) && (!prev || (line.bbox.y0 > prev.bbox.y0 && line.bbox.y0 - prev.bbox.y1 < line.fontSize * CODE_LINE_GAP))) {
        run.push(line);
        continue;
      }
      if (run.length >= 2) {
        for (const l of run) for (const r of l.runs) if (r.monospace) chars.set(r.fontName, (chars.get(r.fontName) ?? 0) + r.text.length);
        const columns = columnsOf(layout, page.index);
        const left = columns[columnIndexOf(columns, run[0])].left;
        if (Math.min(...run.map((l) => l.bbox.x0)) - left < layout.bodySize * FLUSH_CODE_INSET) flush++;
        else inset++;
      }
      run = line && isMonospaceLine(line) ? [line] : [];
    }
  }
  // A heading in a code font can sit right over a code block: only fonts carrying a fair share count.
  const total = [...chars.values()].reduce((a, b) => a + b, 0);
  const fonts = new Set([...chars].filter(([, n]) => n >= total * CODE_FONT_SHARE).map(([f]) => f));
  return { flush: flush >= inset, fonts };
}

/** The document's code line pitch (see tightPitch), from each page's monospace lines that follow each other. */
function codeLinePitch(pages: Page[]): number | undefined {
  const steps: number[] = [];
  for (const page of pages) {
    let run: Line[] = [];
    for (const line of [...page.lines, undefined]) {
      if (line && isMonospaceLine(line)) run.push(line);
      else {
        steps.push(...lineSteps(run));
        run = [];
      }
    }
  }
  return tightest(steps);
}

/** Distances between consecutive lines of one font that follow closely, in font sizes. */
function lineSteps(lines: Line[]): number[] {
  const steps: number[] = [];
  for (let k = 1; k < lines.length; k++) {
    const [a, b] = [lines[k - 1], lines[k]];
    if (Math.abs(a.fontSize - b.fontSize) > 0.01 || a.runs[0].fontName !== b.runs[0].fontName) continue;
    const dy = baseline(b) - baseline(a);
    if (dy > 0 && dy < a.fontSize * 2) steps.push(dy / a.fontSize);
  }
  return steps;
}

function tightest(steps: number[]): number | undefined {
  if (steps.length === 0) return undefined;
  steps.sort((x, y) => x - y);
  const tight = steps[Math.floor(steps.length / 4)];
  const band = steps.filter((r) => r <= tight * 1.15);
  return band.reduce((sum, r) => sum + r, 0) / band.length;
}

/** A code line the browser wrapped runs at least this share of the block's width. */
const WRAPPED_FULL = 0.5;

/**
 * Does `prev` end where a line of code ends on purpose: after a statement, or in a line comment
 * with a statement on the next line (a wrapped comment goes on in words)?
 */
function endsStatement(prev: string, next: string): boolean {
  if (/;\s*$/.test(prev)) return true;
  const comment = /(^|\s)(\/\/|#|--)\s/.test(prev);
  return comment && STATEMENT.test(next.trim());
}

/** A line that is a statement: a call, an assignment or a member access first, or a ";" last (before a comment). */
const STATEMENT = /^[\w$.]+\s*[(=.]|;\s*(\/\/.*)?$/;

function codeBlock(infos: LineInfo[], page: number, body: number): Block {
  const lines = infos.map((i) => i.line);
  const left = Math.min(...lines.map((l) => l.bbox.x0));
  let chars = 0;
  let width = 0;
  for (const l of lines)
    for (const r of l.runs) {
      chars += r.text.length;
      width += r.bbox.x1 - r.bbox.x0;
    }
  // Zero-width runs (damaged fonts) would make every column infinite.
  const charWidth = chars && width > 0 ? width / chars : Math.max(body, 1) * 0.5;
  const pitches = lines
    .slice(1)
    .map((l, k) => l.bbox.y0 - lines[k].bbox.y0)
    .filter((d) => d > 0);
  const pitch = pitches.length ? Math.min(...pitches) : lines[0].fontSize * 1.4;
  // The widest a line gets before the browser wraps it inside the block.
  const limit = infos[0].column.right - (left - infos[0].column.left);
  const out: string[] = [];
  lines.forEach((line, k) => {
    // Each run goes to the character column its position gives (keeps indentation and alignment).
    let text = '';
    line.runs.forEach((run, r) => {
      const col = Math.round((run.bbox.x0 - left) / charWidth);
      const spaced = r > 0 && run.bbox.x0 - line.runs[r - 1].bbox.x1 > charWidth * 0.3 ? 1 : 0;
      text += ' '.repeat(Math.max(spaced, col - text.length)) + run.text;
    });
    text = text.replace(/\s+$/, '');
    if (k > 0) {
      const prev = lines[k - 1];
      const blank = Math.max(0, Math.round((line.bbox.y0 - prev.bbox.y0) / pitch) - 1);
      const firstWord = line.runs[0].bbox.x1 - line.runs[0].bbox.x0;
      const wrapped =
        blank === 0 &&
        line.bbox.x0 - left < charWidth * 0.5 &&
        prev.bbox.x1 + charWidth + firstWord > limit - charWidth &&
        prev.bbox.x1 - left >= (limit - left) * WRAPPED_FULL &&
        !endsStatement(out[out.length - 1], text);
      if (wrapped) {
        out[out.length - 1] += ' ' + text.trimStart();
        return;
      }
      for (let b = 0; b < blank; b++) out.push('');
    }
    out.push(text);
  });
  return { type: 'code', page, bbox: unionBoxes(lines.map((l) => l.bbox)), text: out.join('\n'), lines };
}

/** A section number and a capitalised title: "2.1 Sampling", "A.1 Proofs", "IV. Methods". */
const SECTION_TITLE = /^(?:\d{1,2}(?:\.\d{1,2}){0,3}\.?|[A-Z](?:\.\d{1,2})+\.?|[IVX]{1,5}\.)\s+\p{Lu}/u;

/** The label a caption starts with. */
const CAPTION = /^(?:Figure|Fig\.|Table|Listing|Algorithm|Chart|Exhibit|Plate|Abbildung|Tabelle|Tableau)\s+[\dA-Z][\d.]*[.:]\s/;

/** Does `next` continue the text block that `prev` is in (whose first line is `first`)? */
function continuesText(first: LineInfo, prev: LineInfo, next: LineInfo, body: number, flush: boolean, lineGap: number): boolean {
  if (next.mono && startsCode(next, body, flush, prev)) return false;
  if (next.columnIndex !== prev.columnIndex) return false;
  const a = prev.line;
  const b = next.line;
  const sizeA = prev.size;
  const sizeB = next.size;
  const size = Math.max(sizeA, sizeB);
  if (Math.abs(sizeA - sizeB) > size * 0.08) return false;
  const gap = b.bbox.y0 - a.bbox.y1;
  if (gap < -size * 0.5 || gap > size * lineGap) return false;
  if (next.marker) return false;
  // A caption starts a block of its own ("Figure 2: …", "Table 1. …").
  if (CAPTION.test(b.text)) return false;
  if (prev.bold !== next.bold) return false;
  // A numbered title alone on a short first line ("2.1 Sampling") ends its block: a paragraph's
  // first line is short only when it is its only one. (Set in the body's face, as on an OCR'd
  // page, nothing else parts a heading from the text under it.)
  if (prev === first && SECTION_TITLE.test(a.text.trim()) && a.bbox.x1 + firstWordWidth(b) + size < prev.column.wrap) return false;
  const indented =
    prev === first && !first.marker && (goesOnFromIndentedLine(prev, next, body, lineGap) || hangsUnderLabel(prev, next, body, lineGap));
  // Centred lines of unlike widths: a block of them only (not a list item's last line over a quotation).
  const centred = !first.marker && (prev === first || centredPair(first, prev, body)) && centredPair(prev, next, body);
  if (centred) return true;
  if (!indented && Math.abs(next.indent - prev.indent) > body * 0.5) return false;
  // An item whose marker is drawn as text goes on until the next marker.
  if (first.marker) return true;
  if (next.indent > body * 0.9) {
    // Inside a list (bullets are drawn, not written): a new item starts where the previous line
    // stopped short of the column's edge, or after the small extra space between items. A block
    // inset on the right too (a quotation, an abstract) has its own edge, where its lines so far end.
    const edge = prev !== first && Math.abs(first.line.bbox.x1 - a.bbox.x1) <= JUSTIFIED_SLACK ? a.bbox.x1 : prev.column.wrap;
    if (a.bbox.x1 + firstWordWidth(b) + size < edge) return false;
  }
  return true;
}

/** List items start this far in (body sizes) when their bullets are drawn as shapes: the list's padding. */
const DRAWN_ITEM_INSET = 1.6;
/** Block quotes are inset by at least this (body sizes), less than a list item. */
const QUOTE_INSET = 0.9;
/** Nesting step of lists (body sizes): browsers and word processors indent each level by about two. */
const LIST_LEVEL_STEP = 2;

/**
 * A quotation is inset on both sides: its full lines, justified, stop at one x short of the
 * column's edge (a list item's lines run to the edge or end ragged).
 */
function insetBothSides(infos: LineInfo[], body: number): boolean {
  if (infos.length < 3) return false;
  const ends = infos.slice(0, -1).map((i) => i.line.bbox.x1);
  const right = Math.max(...ends);
  return Math.min(...ends) > right - JUSTIFIED_SLACK && infos[0].column.wrap - right >= body * QUOTE_INSET;
}

/** A centred line's middle is this close to its column's (body sizes). */
const CENTRE_SLACK = 0.5;
/** A single centred line stands at least this far in (body sizes, and share of the column): nearer, it may be a list item by chance. */
const CENTRED_LINE_INSET = 3;
const CENTRED_LINE_SHARE = 0.2;

/**
 * Centred text (titles, authors, captions, a heading over a centred table): each line's middle at
 * the column's middle. A paragraph, not a quotation or a list item.
 */
function centered(infos: LineInfo[], body: number): boolean {
  // Lines centred on an axis of their own (a cell of a title block's table) when there are several.
  if (infos.length > 1 && infos.slice(1).every((info, k) => centredPair(infos[k], info, body))) return true;
  if (centredIn(infos, infos[0].column, infos[0].spans, body)) return true;
  // Text with no other column's text beside it (over the columns, as a title's subtitle) may be
  // centred on the page's width.
  const band = infos[0].band;
  return band !== undefined && infos.every((i) => i.band) && centredIn(infos, band, true, body);
}

/** `across`: the lines run across columns (no column's list item). */
function centredIn(infos: LineInfo[], column: Column, across: boolean, body: number): boolean {
  const middle = (column.left + column.wrap) / 2;
  if (!infos.every((i) => Math.abs((i.line.bbox.x0 + i.line.bbox.x1) / 2 - middle) <= body * CENTRE_SLACK)) return false;
  const widths = infos.map((i) => i.line.bbox.x1 - i.line.bbox.x0);
  const ragged = Math.max(...widths) - Math.min(...widths) > body;
  const inset = infos[0].line.bbox.x0 - column.left;
  const share = across || inset >= (column.wrap - column.left) * CENTRED_LINE_SHARE;
  return ragged || (inset >= body * CENTRED_LINE_INSET && share);
}

/** Both lines of a centred pair stand in from the margin by more than this (body sizes). */
const CENTRED_PAIR_INSET = 0.3;

/** Lines of unlike widths centred on one axis (an author and affiliation under each other). */
function centredPair(a: LineInfo, b: LineInfo, body: number): boolean {
  const [x, y] = [a.line.bbox, b.line.bbox];
  if (Math.abs((x.x0 + x.x1) / 2 - (y.x0 + y.x1) / 2) > body * CENTRE_SLACK) return false;
  return Math.abs(x.x1 - x.x0 - (y.x1 - y.x0)) > body && Math.min(a.indent, b.indent) > body * CENTRED_PAIR_INSET;
}

/**
 * Text set flush right (a letter's address and date, a signature): every line ends at the column's
 * edge, well in from its left. A paragraph, not a quotation or a list item, whose lines end ragged.
 */
function rightAligned(infos: LineInfo[], body: number): boolean {
  const { column } = infos[0];
  if (!infos.every((i) => i.line.bbox.x1 >= column.wrap - JUSTIFIED_SLACK)) return false;
  const inset = Math.min(...infos.map((i) => i.line.bbox.x0)) - column.left;
  return inset >= body * CENTRED_LINE_INSET && inset >= (column.wrap - column.left) * CENTRED_LINE_SHARE;
}

/** How far apart (pt) the ends of justified lines may be. */
const JUSTIFIED_SLACK = 1.5;

/**
 * `bulletsAsText`: the document draws its list bullets as text, so an inset paragraph without
 * one is no list item.
 */
function textBlock(
  infos: LineInfo[],
  page: number,
  body: number,
  bulletsAsText: boolean,
  inline: InlineOptions,
  paragraphIndent: number | undefined,
  lineGap: number,
): Block {
  const lines = infos.map((i) => i.line);
  const { marker } = infos[0];
  // A paragraph whose first line is indented stands where its other lines do.
  const first = infos.length > 1 && !marker && goesOnFromIndentedLine(infos[0], infos[1], body, lineGap) ? infos[1] : infos[0];
  const text = inlineMarkdown(marker ? [withoutMarker(infos[0].line, marker), ...lines.slice(1)] : lines, inline);
  const block: Block = { type: 'paragraph', page, bbox: unionBoxes(lines.map((l) => l.bbox)), text, lines };
  const drawnItem = !marker && first.indent >= body * DRAWN_ITEM_INSET && !bulletsAsText && !insetBothSides(infos, body);
  if (!marker && centered(infos, body)) return { ...block, centred: true };
  if (!marker && rightAligned(infos, body)) return block;
  // A caption is a paragraph wherever it stands (centred under a figure, inset in a column).
  if (!marker && CAPTION.test(lines[0].text)) return block;
  // A paragraph of one line, indented as the document indents its paragraphs' first lines.
  if (!marker && infos.length === 1 && atParagraphIndent(first.indent, paragraphIndent, body)) return block;
  if (marker || drawnItem) {
    block.type = 'list_item';
    block.depth = Math.max(0, Math.round(first.indent / (body * LIST_LEVEL_STEP)) - 1);
    block.indent = first.indent;
    if (marker?.number !== undefined) block.number = marker.number;
    if (marker) block.marker = marker.text;
  } else if (first.indent >= body * QUOTE_INSET) {
    block.type = 'blockquote';
    block.indent = first.indent;
    block.children = [{ type: 'paragraph', page, bbox: block.bbox, text: block.text }];
    delete block.text;
  }
  return block;
}

/**
 * A paragraph set at the text indent of the list item just above it, in a document whose
 * bullets are text: more of that item (its next paragraph).
 */
function continuesItem(prev: Block | undefined, block: Block, body: number): boolean {
  if (prev?.type !== 'list_item' || block.type !== 'blockquote' || prev.page !== block.page) return false;
  if (Math.abs((prev.indent ?? 0) - (block.indent ?? 0)) > body * 0.5) return false;
  const gap = block.bbox.y0 - prev.bbox.y1;
  return gap >= 0 && gap < body * 2;
}
