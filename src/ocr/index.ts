import { checkpoint } from '../engine/cancel.js';
import { detectText, type DetectedBox } from './detect.js';
import type { RotatedRect } from './geometry.js';
import type { GrayImage } from './image.js';
import { closeModels, loadModels, type OcrModels } from './models.js';
import { inkProfile } from './ink.js';
import { cropBox, recognizeCrops } from './recognize.js';
import { lineText } from './text.js';

// OCR of one page image: detect text boxes at a resolution chosen from the text's height,
// read each one, return lines in reading order with their boxes (page-image pixels) and
// confidences.

export type { GrayImage } from './image.js';
export { rgbaToGray } from './image.js';

export interface OcrLine {
  text: string;
  /**
   * The line's box in page-image pixels, turned with the text: the detector's height (which
   * includes a margin around the glyphs) and the ink's own left and right ends.
   */
  rect: RotatedRect;
  /** Mean probability of the line's characters, 0–1. */
  confidence: number;
  /** Set in a monospaced face; undefined when the line is too short to tell. */
  monospace: boolean | undefined;
}

export interface OcrPage {
  /** In reading order of their tops. */
  lines: OcrLine[];
  /** The text's angle on the page (radians, clockwise positive in image coordinates): how much the scan is turned. */
  skew: number;
  /** Text regions the detector found, read or not. */
  regions: number;
}

/** Boxes read with less confidence than this are noise; callers filter further. */
const MIN_CONFIDENCE = 0.1;
/**
 * Longest side of the first detection pass. DB finds lines whose boxes are 12 px or more in
 * its input; body text on a page of any usual size is well above that at this size.
 */
const DETECTION_MAX_SIDE = 960;
/** Text smaller than this in the detection input is detected again at a larger scale... */
const MIN_DETECTED_TEXT_HEIGHT = 14;
/** ...chosen to bring it to this height, */
const TARGET_DETECTED_TEXT_HEIGHT = 20;
/** ...but never above this side (memory and time grow with its square). */
const DETECTION_LIMIT_SIDE = 2048;

export async function ocrImage(image: GrayImage): Promise<OcrPage> {
  const models = await loadModels();
  const boxes = await detectAtTextScale(models, image);
  checkpoint();
  const crops = boxes.map((b) => cropBox(image, b.rect));
  const read = await recognizeCrops(models.recognition, crops, models.charset);
  const lines: OcrLine[] = [];
  boxes.forEach((box, i) => {
    const { chars, confidence, crop } = read[i];
    const ink = inkProfile(crop);
    const { text, monospace } = lineText(chars, ink);
    if (!text || confidence < MIN_CONFIDENCE || ink.left < 0) return;
    lines.push({ text, rect: inkWidth(box.rect, ink.left, ink.right + 1, crop.width), confidence, monospace });
  });
  const top = (l: OcrLine) => Math.min(l.rect.origin.y, l.rect.origin.y + l.rect.width * l.rect.u.y);
  return { lines: lines.sort((a, b) => top(a) - top(b)), skew: pageSkew(boxes.map((b) => b.rect)), regions: boxes.length };
}

/** The box cut to the ink's columns (crop pixels `from`–`to` of a crop `width` wide), keeping its height. */
function inkWidth(rect: RotatedRect, from: number, to: number, width: number): RotatedRect {
  const step = rect.width / width;
  return {
    origin: { x: rect.origin.x + from * step * rect.u.x, y: rect.origin.y + from * step * rect.u.y },
    u: rect.u,
    v: rect.v,
    width: (to - from) * step,
    height: rect.height,
  };
}

/** Only boxes this many times longer than high say which way the text runs; short ones are words, marks or noise. */
const MIN_SKEW_ASPECT = 4;

/** The page's skew: the median angle of its long boxes, weighted by length (0 when there are none). */
function pageSkew(rects: RotatedRect[]): number {
  const long = rects.filter((r) => r.width >= r.height * MIN_SKEW_ASPECT).map((r) => ({ angle: Math.atan2(r.u.y, r.u.x), weight: r.width }));
  if (long.length === 0) return 0;
  long.sort((a, b) => a.angle - b.angle);
  const half = long.reduce((s, l) => s + l.weight, 0) / 2;
  let seen = 0;
  for (const l of long) if ((seen += l.weight) >= half) return l.angle;
  return 0;
}

/**
 * Detection at the scale the page's text needs: one pass at a size that suits body text, and
 * a second, larger one only when the text found is too small for the detector to be sure of
 * its lines (small print, or a page scanned large).
 */
async function detectAtTextScale(models: OcrModels, image: GrayImage): Promise<DetectedBox[]> {
  const longest = Math.max(image.width, image.height);
  const first = Math.min(1, DETECTION_MAX_SIDE / longest);
  const boxes = await detectText(models.detection, image, { scale: first });
  const height = medianTextHeight(boxes) * first;
  if (boxes.length === 0 || height >= MIN_DETECTED_TEXT_HEIGHT) return boxes;
  const second = Math.min(1, DETECTION_LIMIT_SIDE / longest, (first * TARGET_DETECTED_TEXT_HEIGHT) / height);
  if (second <= first * 1.1) return boxes;
  checkpoint();
  return detectText(models.detection, image, { scale: second });
}

/** Median height of the boxes, in page-image pixels (0 when there are none). */
function medianTextHeight(boxes: DetectedBox[]): number {
  if (boxes.length === 0) return 0;
  const heights = boxes.map((b) => b.rect.height).sort((a, b) => a - b);
  return heights[Math.floor(heights.length / 2)];
}

/** Warm the models up (load the sessions) without reading anything. */
export async function loadOcr(): Promise<void> {
  await loadModels();
}

/** Release this process's (or worker's) OCR sessions. */
export async function closeOcr(): Promise<void> {
  await closeModels();
}
