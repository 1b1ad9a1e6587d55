import type { Page } from '../types.js';

/**
 * Build step: which fonts are bold or italic. pdfjs's text content names fonts only by an id
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
  for (const c of text) w += charWidth(c);
  return w;
}

function charWidth(c: string): number {
  if (c === ' ') return 0.28;
  if ('ijl|!.,:;\'`'.includes(c)) return 0.24;
  if ('ftrI()[]{}/\\-"'.includes(c)) return 0.33;
  if ('mwMW@%'.includes(c)) return 0.86;
  if (c >= 'A' && c <= 'Z') return 0.68;
  if (c >= '0' && c <= '9') return 0.556;
  return 0.53;
}
