import type { Block, Line, Page } from '../types.js';
import { markFontStyles } from '../extract/fonts.js';
import { inlineMarkdown } from './inline.js';
import { analyseLayout, columnIndexOf, type Column, type Layout } from './columns.js';
import { firstWordWidth, textSize, unionBoxes } from '../extract/lines.js';
import { removeRunningLines } from './furniture.js';
import { columnStarts, detectTables, type FoundTable } from './tables.js';

/**
 * Layout step: lines → blocks. Drops running headers/footers, reads font styles and the column
 * layout, then walks each page's lines in reading order (Chromium and most producers draw text
 * column by column) and cuts them into paragraphs, list items, block quotes and code blocks.
 * Headings, list nesting and joins across pages are decided later by the structure steps.
 */
export function layoutBlocks(pages: Page[]): Block[] {
  removeRunningLines(pages);
  markFontStyles(pages);
  const layout = analyseLayout(pages);
  const pitch = codeLinePitch(pages);
  const blocks: Block[] = [];
  for (const page of pages) {
    if (page.failure)
      blocks.push({ type: 'unreadable_page', page: page.index, bbox: { x0: 0, y0: 0, x1: page.width, y1: page.height }, text: page.failure.message });
    else {
      // A table that ends a page may go on at the top of the next one.
      const last = blocks[blocks.length - 1];
      const carried = last?.type === 'table' && last.lines ? columnStarts(last.lines, layout.bodySize) : undefined;
      blocks.push(...withImages(pageBlocks(page, layout, pitch, carried), page));
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
  /** "3." / "3)" drawn before a numbered item's text. */
  number?: number;
  mono: boolean;
  bold: boolean;
}

const NUMBER_MARKER = /^(\d{1,3})[.)]$/;

function describe(line: Line, layout: Layout): LineInfo {
  const columnIndex = columnIndexOf(layout.columns, line);
  const column = layout.columns[columnIndex];
  const first = line.runs[0];
  const second = line.runs[1];
  let start = line.bbox.x0;
  let number: number | undefined;
  const m = first.text.trim().match(NUMBER_MARKER);
  if (m && second && second.bbox.x0 - first.bbox.x1 > first.fontSize * 0.15) {
    number = Number(m[1]);
    start = second.bbox.x0;
  } else {
    // Some producers write the marker and the text as one run: trust it only on an inset line.
    const inRun = first.text.match(/^(\d{1,3})[.)]\s+(?=\S)/);
    if (inRun && line.bbox.x0 - column.left >= layout.bodySize * 0.5) {
      number = Number(inRun[1]);
      start = first.bbox.x0 + ((first.bbox.x1 - first.bbox.x0) * inRun[0].length) / first.text.length;
    }
  }
  return {
    line,
    column,
    columnIndex,
    indent: start - column.left,
    number,
    mono: isMonospaceLine(line),
    bold: line.runs.every((r) => r.bold || r.monospace) && line.runs.some((r) => r.bold),
  };
}

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

function pageBlocks(page: Page, layout: Layout, pitch: number | undefined, carried: number[] | undefined): Block[] {
  const body = layout.bodySize;
  const infos = page.lines.map((l) => describe(l, layout));
  const tables = detectTables(
    infos.map((i) => ({ line: i.line, left: i.column.left })),
    body,
    carried,
    page.rects,
  );
  const blocks: Block[] = [];
  let i = 0;
  while (i < infos.length) {
    const table = tables.get(i);
    if (table) {
      blocks.push({ ...table.block, page: page.index });
      i = table.end;
      continue;
    }
    const codeEnds = codeStartingAt(infos, i, body, pitch);
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
    while (end < infos.length && !tables.has(end) && continuesText(infos[end - 1], infos[end], body)) end++;
    blocks.push(textBlock(infos.slice(i, end), page.index, body));
    i = end;
  }
  return blocks;
}

function hasProse(table: FoundTable | undefined): boolean {
  return !!table?.block.lines?.some((l) => l.runs.some((r) => !r.monospace));
}

/** Code blocks are monospace lines inset from the text by the block's padding. */
function startsCode(info: LineInfo, body: number, prev?: LineInfo): boolean {
  // Code blocks are set at or below the body size; code alone in a heading is larger.
  if (!info.mono || info.line.fontSize > body * 1.02) return false;
  const inset = info.line.bbox.x0 - info.column.left;
  // The first line of a column may continue a block cut by the break, at any indentation.
  const firstInColumn = !prev || prev.columnIndex !== info.columnIndex || prev.line.bbox.y0 > info.line.bbox.y0;
  if (firstInColumn && inset > body * 0.3) return true;
  const step = body * 2;
  const offset = ((inset % step) + step) % step;
  return offset > step * 0.2 && offset < step * 0.7;
}

/**
 * Where the code block starting at `start` ends, or undefined when none starts there. A monospace
 * line whose inset looks like a list's (code indented by two characters can sit where a list item
 * would) still starts one when a later line of the same run of code lines has a code block's inset.
 */
function codeStartingAt(infos: LineInfo[], start: number, body: number, pitch: number | undefined): number | undefined {
  if (!infos[start].mono || infos[start].line.fontSize > body * 1.02) return undefined;
  const end = codeEnd(infos, start, body, pitch);
  for (let k = start; k < end; k++) if (startsCode(infos[k], body, infos[k - 1])) return end;
  return undefined;
}

/**
 * Where the code block starting at `start` ends. Up to two blank lines stay inside one block. Lines
 * of one block sit on a grid of its line pitch (blank lines included); a line off that grid is in
 * the next block, whose box's padding and margin put it there. The pitch is the block's own when
 * it has lines set one after the other, else the document's (`pitch`, in font sizes).
 */
function codeEnd(infos: LineInfo[], start: number, body: number, pitch: number | undefined): number {
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
    // (Only between lines that start in the same font: a fallback font has other metrics.)
    if (lines[k - 1].runs[0].fontName !== lines[k].runs[0].fontName) continue;
    const steps = (baseline(lines[k]) - baseline(lines[k - 1])) / step;
    if (steps > 3.25 || Math.abs(steps - Math.round(steps)) > 0.15) return start + k;
  }
  return end;
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
      const wrapped = blank === 0 && line.bbox.x0 - left < charWidth * 0.5 && prev.bbox.x1 + charWidth + firstWord > limit - charWidth;
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

/** Does `next` continue the text block that `prev` is in? */
function continuesText(prev: LineInfo, next: LineInfo, body: number): boolean {
  if (next.mono && startsCode(next, body, prev)) return false;
  if (next.columnIndex !== prev.columnIndex) return false;
  const a = prev.line;
  const b = next.line;
  const sizeA = textSize(a);
  const sizeB = textSize(b);
  const size = Math.max(sizeA, sizeB);
  if (Math.abs(sizeA - sizeB) > size * 0.08) return false;
  const gap = b.bbox.y0 - a.bbox.y1;
  if (gap < -size * 0.5 || gap > size * 0.45) return false;
  if (next.number !== undefined) return false;
  if (prev.bold !== next.bold) return false;
  if (Math.abs(next.indent - prev.indent) > body * 0.5) return false;
  if (next.indent > body * 0.9) {
    // Inside a list (bullets are drawn, not written): a new item starts where the previous line
    // stopped short of the column's edge, or after the small extra space between items.
    if (a.bbox.x1 + firstWordWidth(b) + size < prev.column.wrap) return false;
  }
  return true;
}

function textBlock(infos: LineInfo[], page: number, body: number): Block {
  const lines = infos.map((i) => i.line);
  const first = infos[0];
  const block: Block = { type: 'paragraph', page, bbox: unionBoxes(lines.map((l) => l.bbox)), text: inlineMarkdown(lines), lines };
  if (first.number !== undefined) {
    // Drop the marker: a run of its own, or the start of the first run.
    const [head, ...rest] = first.line.runs;
    const marker = /^\d{1,3}[.)]\s*$/.test(head.text) ? [] : [{ ...head, text: head.text.replace(/^\d{1,3}[.)]\s+/, '') }];
    block.text = inlineMarkdown([{ ...first.line, runs: [...marker, ...rest] }, ...lines.slice(1)]);
  }
  const unit = body * 2;
  if (first.number !== undefined || first.indent >= body * 1.6) {
    block.type = 'list_item';
    block.depth = Math.max(0, Math.round(first.indent / unit) - 1);
    if (first.number !== undefined) block.number = first.number;
  } else if (first.indent >= body * 0.9) {
    block.type = 'blockquote';
    block.children = [{ type: 'paragraph', page, bbox: block.bbox, text: block.text }];
    delete block.text;
  }
  return block;
}
