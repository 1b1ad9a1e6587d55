import type { PDFPageProxy } from 'pdfjs-dist/types/src/display/api.js';
import { pdfjs } from '../load.js';
import type { Page } from '../types.js';

/**
 * Build step: does a page need OCR? Runs on every page, so it lives apart from the OCR itself,
 * whose native parts (canvas, onnxruntime) are loaded only when a page needs them.
 */

/**
 * Does this page need OCR? Yes when its text layer is unusable — no text at all while
 * something is drawn (a scan), or text that is garbage — and no for a blank page.
 */
export async function needsOcr(page: PDFPageProxy, textPage: Page): Promise<boolean> {
  const text = textPage.lines.map((l) => l.text).join(' ');
  if (!/\S/.test(text)) return hasImages(page);
  return isGarbageText(text);
}

/** Replacement characters, control codes, private-use code points: glyphs with no Unicode mapping. */
function isUnmapped(code: number): boolean {
  return code === 0xfffd || code <= 0x08 || (code >= 0x0e && code <= 0x1f) || (code >= 0x7f && code <= 0x9f) || (code >= 0xe000 && code <= 0xf8ff);
}
const WHITESPACE = /\s/;
const LATIN_WORD = /(?<!\S)[A-Za-z]{3,}(?!\S)/g;
/** Real words in Latin-script languages have a vowel and no run of 5 consonants. */
const PRONOUNCEABLE = /^(?=.*[aeiouyAEIOUY])(?!.*[b-df-hj-np-tv-xzB-DF-HJ-NP-TV-XZ]{5})/;

// Runs once per page over all of its text: one pass, no copies of the text.
export function isGarbageText(text: string): boolean {
  let chars = 0;
  let unmapped = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // Whitespace codes (tab to CR, space, NBSP…) are neither text nor unmapped glyphs.
    if ((code <= 0x20 || code === 0xa0 || (code >= 0x1680 && code <= 0x3000) || code === 0xfeff) && WHITESPACE.test(text[i])) continue;
    chars++;
    if (isUnmapped(code)) unmapped++;
  }
  if (chars === 0) return true;
  if (unmapped / chars > 0.1) return true;
  // Fonts with a made-up encoding give letters, but not words.
  const words = text.match(LATIN_WORD);
  if (words && words.length >= 10) {
    let nonWords = 0;
    for (const w of words) if (!PRONOUNCEABLE.test(w)) nonWords++;
    if (nonWords / words.length > 0.5) return true;
  }
  return false;
}

async function hasImages(page: PDFPageProxy): Promise<boolean> {
  const { OPS } = await pdfjs();
  const imageOps = new Set<number>([
    OPS.paintImageXObject,
    OPS.paintInlineImageXObject,
    OPS.paintInlineImageXObjectGroup,
    OPS.paintImageXObjectRepeat,
    OPS.paintImageMaskXObject,
    OPS.paintImageMaskXObjectGroup,
    OPS.paintImageMaskXObjectRepeat,
    OPS.paintSolidColorImageMask,
  ]);
  const ops = await page.getOperatorList();
  return ops.fnArray.some((fn) => imageOps.has(fn));
}
