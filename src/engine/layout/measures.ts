import { inlineCodeScale } from '../extract/lines.js';
import type { Page } from '../types.js';
import { inlineCodeGap } from './inline.js';

// Measures of how a document sets its text, read once per document by the layout step and again
// by the structure steps: kept per pages array, which both see.

export interface TextMeasures {
  /** The gap beside inline code above which a space is read (see inlineCodeGap). */
  codeGap: number;
  /** Inline code's size over the prose's (see inlineCodeScale). */
  codeScale: number;
}

const measured = new WeakMap<Page[], TextMeasures>();

export function textMeasures(pages: Page[]): TextMeasures {
  let m = measured.get(pages);
  if (!m) {
    const lines = pages.flatMap((p) => p.lines);
    m = { codeGap: inlineCodeGap(lines), codeScale: inlineCodeScale(lines) };
    measured.set(pages, m);
  }
  return m;
}
