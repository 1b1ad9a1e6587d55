import type { Page } from '../types.js';

/**
 * Extract step: which fonts are bold or italic. pdfjs's text content names fonts only by an id
 * ("g_d0_f3") and a generic family, so the weight is read from the glyph widths instead: a bold
 * face sets the same letters wider than the body face of its family (by 5–10 % in common fonts),
 * an italic face about as wide or narrower. Widths are compared against a rough per-letter width
 * model so that fonts used for different texts can be compared.
 */
export function markFontStyles(pages: Page[]): void {
  const stats = new Map<string, { actual: number; expected: number; chars: number; mono: boolean }>();
  for (const page of pages) {
    if (page.source !== 'text') continue;
    for (const line of page.lines) {
      for (const run of line.runs) {
        const s = stats.get(run.fontName) ?? { actual: 0, expected: 0, chars: 0, mono: run.monospace };
        s.actual += run.bbox.x1 - run.bbox.x0;
        s.expected += modelWidth(run.text) * run.fontSize;
        s.chars += run.text.length;
        stats.set(run.fontName, s);
      }
    }
  }
  // The body face: the proportional font carrying the most characters.
  let body: { ratio: number; chars: number } | undefined;
  for (const s of stats.values()) {
    if (s.mono || s.expected === 0) continue;
    if (!body || s.chars > body.chars) body = { ratio: s.actual / s.expected, chars: s.chars };
  }
  if (!body) return;
  const bold = new Set<string>();
  const italic = new Set<string>();
  for (const [name, s] of stats) {
    if (s.mono || s.expected === 0 || s.chars < 3) continue;
    const ratio = s.actual / s.expected;
    if (Math.abs(ratio - body.ratio) / body.ratio < 0.001) continue; // the body face itself
    if (ratio > body.ratio * 1.035) bold.add(name);
    else italic.add(name);
  }
  const bodyName = [...stats].find(([, s]) => !s.mono && s.chars === body!.chars)?.[0];
  for (const page of pages) {
    for (const line of page.lines) {
      for (const run of line.runs) {
        if (run.fontName === bodyName) continue;
        if (bold.has(run.fontName)) run.bold = true;
        else if (italic.has(run.fontName)) run.italic = true;
      }
    }
  }
}

/** Approximate advance widths (em) of a proportional sans face, by letter class. */
export function modelWidth(text: string): number {
  let w = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // A surrogate pair is one letter.
    if (code >= 0xdc00 && code <= 0xdfff && i > 0 && (text.charCodeAt(i - 1) & 0xfc00) === 0xd800) continue;
    w += code < ASCII_WIDTHS.length ? ASCII_WIDTHS[code] : OTHER_WIDTH;
  }
  return w;
}

const OTHER_WIDTH = 0.53;
/** Widths of ASCII characters by code, from the classes below; all else is OTHER_WIDTH. */
const ASCII_WIDTHS = (() => {
  const table = new Float64Array(128).fill(OTHER_WIDTH);
  const set = (chars: string, width: number) => {
    for (const c of chars) table[c.charCodeAt(0)] = width;
  };
  for (let c = 0x41; c <= 0x5a; c++) table[c] = 0.68; // A–Z
  for (let c = 0x30; c <= 0x39; c++) table[c] = 0.556; // 0–9
  set('mwMW@%', 0.86);
  set('ftrI()[]{}/\\-"', 0.33);
  set("ijl|!.,:;'`", 0.24);
  set(' ', 0.28);
  return table;
})();
