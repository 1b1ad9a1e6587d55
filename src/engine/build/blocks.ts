import type { Block, Line, Page } from '../types.js';
import { unionBoxes } from './lines.js';

/**
 * Build step: lines → paragraph blocks. Lines stay together while they are close
 * below each other in the same font size; a larger gap, a size change or a jump
 * back up the page (next column) starts a new block.
 */
export function buildBlocks(pages: Page[]): Block[] {
  const blocks: Block[] = [];
  for (const page of pages) {
    let current: Line[] = [];
    const flush = (): void => {
      if (current.length === 0) return;
      blocks.push({
        type: 'paragraph',
        page: page.index,
        bbox: unionBoxes(current.map((l) => l.bbox)),
        lines: current,
        text: joinLines(current),
      });
      current = [];
    };
    for (const line of page.lines) {
      const prev = current[current.length - 1];
      if (prev && !continues(prev, line)) flush();
      current.push(line);
    }
    flush();
  }
  return blocks;
}

function continues(prev: Line, line: Line): boolean {
  const size = Math.max(prev.fontSize, line.fontSize);
  if (Math.abs(prev.fontSize - line.fontSize) > size * 0.08) return false;
  const gap = line.bbox.y0 - prev.bbox.y1;
  if (gap < -size * 0.5) return false; // moved up: a new column or a new region
  return gap <= size * 0.6;
}

/** Join the lines of a paragraph, re-joining words hyphenated at a line end. */
export function joinLines(lines: Line[]): string {
  let out = '';
  for (const line of lines) {
    const text = line.text;
    if (!out) {
      out = text;
    } else if (/[a-z]-$/.test(out) && /^[a-z]/.test(text)) {
      out = out.slice(0, -1) + text;
    } else {
      out += ' ' + text;
    }
  }
  return out;
}
