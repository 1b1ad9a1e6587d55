import { checkpoint } from '../engine/cancel.js';
import { detectText } from './detect.js';
import { rectBounds, type RotatedRect } from './geometry.js';
import type { GrayImage } from './image.js';
import { closeModels, loadModels } from './models.js';
import { cropBox, recognizeCrops } from './recognize.js';
import { lineText } from './text.js';

/**
 * OCR of one page image: detect text boxes, read each one, return lines in reading order
 * with their boxes (page-image pixels) and confidences.
 */

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

export interface OcrOptions {
  /** Longest side of the detection input (pixels). */
  detectionMaxSide?: number;
}

/** Boxes read with less confidence than this are noise; callers filter further. */
const MIN_CONFIDENCE = 0.1;
/**
 * 1280 px keeps body text at 200 dpi ~20 px high in the map (plenty for DB) while the
 * model's activations stay in the low hundreds of MB; recognition reads the full resolution.
 */
const DEFAULT_DETECTION_MAX_SIDE = 1280;

export async function ocrImage(image: GrayImage, options: OcrOptions = {}): Promise<OcrLine[]> {
  const models = await loadModels();
  const boxes = await detectText(models.detection, image, { maxSide: options.detectionMaxSide ?? DEFAULT_DETECTION_MAX_SIDE });
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

/** Warm the models up (load the sessions) without reading anything. */
export async function loadOcr(): Promise<void> {
  await loadModels();
}

/** Release this process's (or worker's) OCR sessions. */
export async function closeOcr(): Promise<void> {
  await closeModels();
}
