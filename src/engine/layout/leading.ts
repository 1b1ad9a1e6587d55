import type { Page } from '../types.js';
import { firstWordWidth } from '../extract/lines.js';
import { columnIndexOf, columnsOf, type Layout } from './columns.js';

// Layout step, the document's leading: how far apart the lines of one paragraph stand. Most
// documents set them closer than half a font size, box to box; documents set one and a half or
// double spaced (manuscripts, theses, legal filings) set them further apart, and mark a new
// paragraph by its indent alone. Read from the lines under a full line that go on with its
// sentence.

/** Lines of one paragraph stand at most this far apart (font sizes, box to box) in documents set close. */
const MIN_PARAGRAPH_GAP = 0.45;
/** Beyond the document's own line gap, what rounding may add (font sizes): less than the quarter em browsers put between list items. */
const GAP_SLACK = 0.12;
/** Gaps under full lines seen before the document's leading is trusted. */
const MIN_SAMPLES = 8;
/** Gaps this close (font sizes) are one leading, told apart only by rounding. */
const SAME_GAP = 0.06;
/** Share of the gaps that must agree on one leading. */
const AGREEING_SHARE = 0.6;
/** The widest line gap read as leading (font sizes): double spacing and a little more. */
const MAX_LEADING_GAP = 1.6;

/** The widest gap (font sizes, box to box) between lines of one paragraph in this document. */
export function paragraphLineGap(pages: Page[], layout: Layout): number {
  const body = layout.bodySize;
  const gaps: number[] = [];
  for (const page of pages) {
    const columns = columnsOf(layout, page.index);
    const lines = page.lines;
    for (let k = 0; k + 1 < lines.length; k++) {
      const [a, b] = [lines[k], lines[k + 1]];
      if (Math.abs(a.fontSize - body) > body * 0.08 || Math.abs(b.fontSize - body) > body * 0.08) continue;
      const column = columns[columnIndexOf(columns, a)];
      if (columnIndexOf(columns, b) !== columnIndexOf(columns, a)) continue;
      // Under a full line, a line that goes on with a sentence (a list item or a paragraph
      // that starts there would start with a capital, a number or a mark).
      if (a.bbox.x1 + firstWordWidth(b) + body < column.wrap || !/^\p{Ll}/u.test(b.text.trimStart())) continue;
      const gap = (b.bbox.y0 - a.bbox.y1) / body;
      if (gap > -0.5 && gap <= MAX_LEADING_GAP) gaps.push(gap);
    }
  }
  if (gaps.length < MIN_SAMPLES) return MIN_PARAGRAPH_GAP;
  // A document's leading is one value: most of the gaps agree on it, or it is not read.
  gaps.sort((x, y) => x - y);
  let best = { gap: 0, count: 0 };
  for (let i = 0, j = 0; i < gaps.length; i++) {
    while (j < gaps.length && gaps[j] - gaps[i] <= SAME_GAP * 2) j++;
    if (j - i > best.count) best = { gap: gaps[(i + j - 1) >> 1], count: j - i };
  }
  if (best.count < gaps.length * AGREEING_SHARE) return MIN_PARAGRAPH_GAP;
  // Set close, items and paragraphs may stand only a little further apart than lines: keep to the usual gap.
  return best.gap > MIN_PARAGRAPH_GAP ? best.gap + GAP_SLACK : MIN_PARAGRAPH_GAP;
}
