import type { Line, Page } from '../types.js';

/**
 * Layout step: drop running headers, footers and page numbers. They sit in the top or bottom
 * margin band of the page and either repeat on many pages (once digits are ignored: "Page 3
 * of 8") or are nothing but a page number.
 */

/** Share of the page height at the top and at the bottom where running lines live. */
const BAND = 0.06;
const PAGE_NUMBER = /^(page\s*)?[-–—]?\s*\d{1,4}\s*[-–—]?(\s*(of|\/)\s*\d{1,4})?$/i;

export function removeRunningLines(pages: Page[]): void {
  const textPages = pages.filter((p) => p.lines.length > 0);
  const counts = new Map<string, number>();
  for (const page of textPages) {
    const seen = new Set<string>();
    for (const line of page.lines) if (inBand(line, page)) seen.add(signature(line));
    for (const key of seen) counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const minRepeats = Math.max(2, Math.ceil(textPages.length * 0.4));
  for (const page of textPages) {
    page.lines = page.lines.filter((line) => {
      if (!inBand(line, page)) return true;
      if (PAGE_NUMBER.test(line.text.trim())) return false;
      return textPages.length < 2 || (counts.get(signature(line)) ?? 0) < minRepeats;
    });
  }
}

function inBand(line: Line, page: Page): boolean {
  return line.bbox.y1 <= page.height * BAND || line.bbox.y0 >= page.height * (1 - BAND);
}

/** The text with numbers masked, so "Page 3 of 8" and "Page 4 of 8" are the same line. */
function signature(line: Line): string {
  return line.text.replace(/\d+/g, '#').replace(/\s+/g, ' ').trim().toLowerCase();
}
