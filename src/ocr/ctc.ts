// Greedy CTC decoding of the recogniser's per-frame class probabilities.
// Classes: 0 = blank, 1..n = the dictionary's characters, n+1 = space.

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
  const mask = cjkMask(charset);
  // Both readings in one pass over the frames: the likeliest class, and the likeliest that is not CJK.
  const best = new Int32Array(frames);
  const bestP = new Float32Array(frames);
  const latin = new Int32Array(frames);
  const latinP = new Float32Array(frames);
  let cjkFrames = 0;
  for (let t = 0; t < frames; t++) {
    const row = t * classes;
    let b = 0;
    let bp = probs[row];
    let l = 0;
    let lp = bp;
    for (let k = 1; k < classes; k++) {
      const p = probs[row + k];
      if (p > lp && mask[k] === 0) {
        l = k;
        lp = p;
      }
      if (p > bp) {
        b = k;
        bp = p;
      }
    }
    best[t] = b;
    bestP[t] = bp;
    latin[t] = l;
    latinP[t] = lp;
    if (mask[b]) cjkFrames++;
  }
  const all = collapse(best, bestP, charset, pixelsPerFrame);
  if (cjkFrames === 0) return all;
  const cjk = all.chars.filter((c) => CJK.test(c.text)).length;
  // A line that is mostly Latin: take the likeliest Latin character where the model saw a CJK
  // one, so a smudge becomes a Latin character rather than a Chinese one.
  if (cjk > 0 && cjk * 2 < all.chars.length) return collapse(latin, latinP, charset, pixelsPerFrame);
  return all;
}

/** Frames' classes → characters: repeats merge, blanks separate. */
function collapse(classes: Int32Array, probability: Float32Array, charset: string[], pixelsPerFrame: number): DecodedText {
  const chars: DecodedChar[] = [];
  let previous = 0;
  let runStart = 0;
  let runMax = 0;
  const flush = (end: number) => {
    if (previous === 0) return;
    const text = charset[previous] ?? '';
    if (text) chars.push({ text, x: ((runStart + end) / 2) * pixelsPerFrame, confidence: runMax });
  };
  for (let t = 0; t < classes.length; t++) {
    const best = classes[t];
    const p = probability[t];
    if (best !== previous) {
      flush(t);
      previous = best;
      runStart = t;
      runMax = p;
    } else if (p > runMax) {
      runMax = p;
    }
  }
  flush(classes.length);
  const confidence = chars.length ? chars.reduce((s, c) => s + c.confidence, 0) / chars.length : 0;
  return { chars, confidence };
}
