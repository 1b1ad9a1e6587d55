import { checkpoint } from '../engine/cancel.js';
import { detectText, type DetectedBox } from './detect.js';
import { settleFaces } from './faces.js';
import { type Bounds, levelledBounds, type RotatedRect } from './geometry.js';
import type { GrayImage } from './image.js';
import { closeModels, loadModels, type OcrModels } from './models.js';
import { type InkProfile, inkProfile } from './ink.js';
import { CROP_HEIGHT, cropBox, type Recognized, recognizeCrops } from './recognize.js';
import { stage } from './stages.js';
import { faceFit, lineFace, lineText } from './text.js';

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
  /** The box's bounds on the page turned straight (see OcrPage.skew), in page-image pixels. */
  bounds: Bounds;
  /** Mean probability of the line's characters, 0–1. */
  confidence: number;
  /** Set in a monospaced face (code). */
  monospace: boolean;
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
  const crops = stage('crops', () => boxes.map((b) => cropBox(image, b.rect)));
  const read = await recognizeCrops(models.recognition, crops, models.charset);
  return stage('lines', () => readLines(image, boxes, read));
}

function readLines(image: GrayImage, boxes: DetectedBox[], read: Recognized[]): OcrPage {
  const skew = pageSkew(boxes.map((b) => b.rect));
  const centre = { x: image.width / 2, y: image.height / 2 };
  const found = boxes.flatMap((box, i) => {
    const { chars, confidence, crop } = read[i];
    const ink = inkProfile(crop);
    if (chars.length === 0 || confidence < MIN_CONFIDENCE || ink.left < 0) return [];
    const rect = fitToInk(box.rect, ink, crop.width);
    return [{ chars, confidence, ink, rect, face: lineFace(faceFit(chars)), bounds: levelledBounds(rect, skew, centre) }];
  });
  const faces = settleFaces(
    found.map((f) => f.face),
    found.map((f) => f.bounds),
  );
  const lines: OcrLine[] = [];
  found.forEach((f, i) => {
    const text = lineText(f.chars, f.ink);
    if (text) lines.push({ text, rect: f.rect, bounds: f.bounds, confidence: f.confidence, monospace: faces[i] });
  });
  return { lines: lines.sort((a, b) => a.bounds.y0 - b.bounds.y0 || a.bounds.x0 - b.bounds.x0), skew, regions: boxes.length };
}

/**
 * The box cut to the ink's columns, and moved across the text so that its middle is the text's
 * core: lines then line up on their baselines whatever letters they hold. Its height is kept.
 */
function fitToInk(rect: RotatedRect, ink: InkProfile, cropWidth: number): RotatedRect {
  const along = rect.width / cropWidth;
  const across = rect.height / CROP_HEIGHT;
  const shift = (ink.coreMiddle - CROP_HEIGHT / 2) * across;
  const from = ink.left * along;
  return {
    origin: {
      x: rect.origin.x + from * rect.u.x + shift * rect.v.x,
      y: rect.origin.y + from * rect.u.y + shift * rect.v.y,
    },
    u: rect.u,
    v: rect.v,
    width: (ink.right + 1 - ink.left) * along,
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
