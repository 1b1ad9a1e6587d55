/**
 * Greedy CTC decoding of the recogniser's per-frame class probabilities.
 * Classes: 0 = blank, 1..n = the dictionary's characters, n+1 = space.
 */

export interface DecodedChar {
  text: string;
  /** Centre of the character in crop pixels (from the frames that emitted it). */
  x: number;
  confidence: number;
}

export interface DecodedText {
  chars: DecodedChar[];
  confidence: number;
}

/** Scripts the Chinese model knows but which, in a mostly-Latin line, are misreadings. */
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;

const maskCache = new WeakMap<string[], Uint8Array>();

/** 1 for classes that are CJK characters. */
function cjkMask(charset: string[]): Uint8Array {
  let mask = maskCache.get(charset);
  if (!mask) {
    mask = new Uint8Array(charset.length);
    for (let i = 0; i < charset.length; i++) mask[i] = CJK.test(charset[i]) ? 1 : 0;
    maskCache.set(charset, mask);
  }
  return mask;
}

export function decodeCtc(probs: Float32Array, frames: number, classes: number, charset: string[], pixelsPerFrame: number): DecodedText {
  const all = greedy(probs, frames, classes, charset, pixelsPerFrame, undefined);
  const cjk = all.chars.filter((c) => CJK.test(c.text)).length;
  // A line that is mostly Latin: read it again with CJK classes excluded, so a smudge
  // becomes the likeliest Latin character rather than a Chinese one.
  if (cjk > 0 && cjk * 2 < all.chars.length) return greedy(probs, frames, classes, charset, pixelsPerFrame, cjkMask(charset));
  return all;
}

function greedy(
  probs: Float32Array,
  frames: number,
  classes: number,
  charset: string[],
  pixelsPerFrame: number,
  excluded: Uint8Array | undefined,
): DecodedText {
  const chars: DecodedChar[] = [];
  let previous = 0;
  let runStart = 0;
  let runMax = 0;
  const flush = (end: number) => {
    if (previous === 0) return;
    const text = charset[previous] ?? '';
    if (text) chars.push({ text, x: ((runStart + end) / 2) * pixelsPerFrame, confidence: runMax });
  };
  for (let t = 0; t < frames; t++) {
    const row = t * classes;
    let best = 0;
    let bestP = probs[row];
    for (let k = 1; k < classes; k++) {
      const p = probs[row + k];
      if (p > bestP && !excluded?.[k]) {
        best = k;
        bestP = p;
      }
    }
    if (best !== previous) {
      flush(t);
      previous = best;
      runStart = t;
      runMax = bestP;
    } else if (bestP > runMax) {
      runMax = bestP;
    }
  }
  flush(frames);
  const confidence = chars.length ? chars.reduce((s, c) => s + c.confidence, 0) / chars.length : 0;
  return { chars, confidence };
}
