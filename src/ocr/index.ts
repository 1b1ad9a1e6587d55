import { checkpoint } from '../engine/cancel.js';
import { detectText, type DetectedBox } from './detect.js';
import { rectBounds, type RotatedRect } from './geometry.js';
import type { GrayImage } from './image.js';
import { closeModels, loadModels, type OcrModels } from './models.js';
import { cropBox, recognizeCrops } from './recognize.js';
import { lineText } from './text.js';

// OCR of one page image: detect text boxes at a resolution chosen from the text's height,
// read each one, return lines in reading order with their boxes (page-image pixels) and
// confidences.

export type { GrayImage } from './image.js';
export { rgbaToGray } from './image.js';

export interface OcrLine {
  text: string;
  /** The detected (rotated) box, in page-image pixels. */
  rect: RotatedRect;
  /** Its axis-aligned bounds. */
  bbox: { x0: number; y0: number; x1: number; y1: number };
  /** Mean probability of the line's characters, 0–1. */
  confidence: number;
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

export async function ocrImage(image: GrayImage): Promise<OcrLine[]> {
  const models = await loadModels();
  const boxes = await detectAtTextScale(models, image);
  checkpoint();
  const crops = boxes.map((b) => cropBox(image, b.rect));
  const read = await recognizeCrops(models.recognition, crops, models.charset);
  const lines: OcrLine[] = [];
  boxes.forEach((box, i) => {
    const text = lineText(read[i].chars, read[i].crop);
    if (!text || read[i].confidence < MIN_CONFIDENCE) return;
    lines.push({ text, rect: box.rect, bbox: rectBounds(box.rect), confidence: read[i].confidence });
  });
  return lines.sort((a, b) => a.bbox.y0 - b.bbox.y0 || a.bbox.x0 - b.bbox.x0);
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
