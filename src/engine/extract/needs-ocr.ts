import type { PDFPageProxy } from 'pdfjs-dist/types/src/display/api.js';
import { pdfjs } from '../load/pdf.js';
import type { Page } from '../types.js';

// Extract step: does a page need OCR? Runs on every page, so it lives apart from the OCR itself,
// whose native parts (canvas, onnxruntime) are loaded only when a page needs them.

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

function isSpace(text: string, i: number): boolean {
  const code = text.charCodeAt(i);
  // Only these codes can be \s: test the regex on them alone.
  return (code <= 0x20 || code === 0xa0 || (code >= 0x1680 && code <= 0x3000) || code === 0xfeff) && WHITESPACE.test(text[i]);
}

/** 0 = not an ASCII letter, 1 = vowel (y counts), 2 = consonant. */
function letterKind(code: number): number {
  const lower = code | 0x20;
  if (lower < 0x61 || lower > 0x7a || (code > 0x5a && code < 0x61)) return 0;
  return lower === 0x61 || lower === 0x65 || lower === 0x69 || lower === 0x6f || lower === 0x75 || lower === 0x79 ? 1 : 2;
}

/**
 * Garbage text: many glyphs with no Unicode mapping, or — fonts with a made-up encoding give
 * letters, but not words — mostly unpronounceable words. A word here is a whitespace-separated
 * token of 3+ ASCII letters; a real one (in Latin-script languages) has a vowel and no run of
 * 5 consonants. Runs once per page over all of its text: one pass, no copies.
 */
export function isGarbageText(text: string): boolean {
  let chars = 0;
  let unmapped = 0;
  let words = 0;
  let nonWords = 0;
  // The current token: its length, whether it is all letters, has a vowel, its consonant runs.
  let length = 0;
  let letters = true;
  let vowel = false;
  let consonants = 0;
  let longRun = false;
  const endToken = (): void => {
    if (length >= 3 && letters) {
      words++;
      if (!vowel || longRun) nonWords++;
    }
    length = 0;
    letters = true;
    vowel = false;
    consonants = 0;
    longRun = false;
  };
  for (let i = 0; i < text.length; i++) {
    if (isSpace(text, i)) {
      endToken();
      continue;
    }
    const code = text.charCodeAt(i);
    chars++;
    if (isUnmapped(code)) unmapped++;
    length++;
    const kind = letterKind(code);
    if (kind === 0) letters = false;
    else if (kind === 1) {
      vowel = true;
      consonants = 0;
    } else if (++consonants >= 5) longRun = true;
  }
  endToken();
  if (chars === 0) return true;
  if (unmapped / chars > 0.1) return true;
  return words >= 10 && nonWords / words > 0.5;
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
