import ort from 'onnxruntime-node';
import { minAreaRect, scaleRect, unclip, type Point, type RotatedRect } from './geometry.js';
import { resizeGray, type GrayImage } from './image.js';
import { stage } from './stages.js';

// Text detection with the DB (differentiable binarisation) model: page image → probability
// map of "text here" → threshold → connected components → rotated boxes → unclip.
// Parameters are PaddleOCR's defaults for PP-OCRv4 (thresh 0.3, box_thresh 0.6, unclip 1.5).

export interface DetectionOptions {
  /** Model input pixels per page-image pixel (at most 1); memory and time grow with its square. */
  scale: number;
}

export interface DetectedBox {
  /** In page-image pixels. */
  rect: RotatedRect;
  score: number;
}

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];
const BINARY_THRESHOLD = 0.3;
const BOX_THRESHOLD = 0.6;
const UNCLIP_RATIO = 1.5;
const MIN_SIDE = 3;
const MAX_BOXES = 1000;

export async function detectText(session: ort.InferenceSession, image: GrayImage, options: DetectionOptions): Promise<DetectedBox[]> {
  const scale = Math.min(1, options.scale);
  // The network downsamples by 32: both sides must be multiples of it.
  const width = Math.max(32, Math.round((image.width * scale) / 32) * 32);
  const height = Math.max(32, Math.round((image.height * scale) / 32) * 32);
  const resized = width === image.width && height === image.height ? image : stage('detect.resize', () => resizeGray(image, width, height));
  const input = new ort.Tensor(
    'float32',
    stage('detect.pre', () => toNormalisedPlanes(resized)),
    [1, 3, height, width],
  );
  let output: ort.InferenceSession.OnnxValueMapType | undefined;
  try {
    output = await stage('detect.run', () => session.run({ [session.inputNames[0]]: input }));
    const map = output[session.outputNames[0]];
    const probabilities = map.data as Float32Array;
    const boxes = stage('detect.post', () => boxesFromMap(probabilities, width, height));
    const sx = image.width / width;
    const sy = image.height / height;
    return boxes.map((b) => ({ rect: scaleRect(b.rect, sx, sy), score: b.score }));
  } finally {
    input.dispose();
    if (output) for (const value of Object.values(output)) value.dispose();
  }
}

/** Grey → the three normalised colour planes the model takes (one grey copied three times). */
function toNormalisedPlanes(img: GrayImage): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) {
    const lut = new Float32Array(256);
    for (let g = 0; g < 256; g++) lut[g] = (g / 255 - MEAN[c]) / STD[c];
    const offset = c * n;
    for (let i = 0; i < n; i++) out[offset + i] = lut[img.data[i]];
  }
  return out;
}

/** Connected regions of the thresholded map (8-neighbourhood) → scored, unclipped boxes. */
export function boxesFromMap(prob: Float32Array, width: number, height: number): DetectedBox[] {
  const visited = new Uint8Array(width * height);
  const rowMin = new Int32Array(height).fill(width);
  const rowMax = new Int32Array(height).fill(-1);
  const stack = new Int32Array(width * height);
  const boxes: DetectedBox[] = [];
  for (let start = 0; start < prob.length; start++) {
    if (visited[start] || prob[start] <= BINARY_THRESHOLD) continue;
    let top = 0;
    stack[top++] = start;
    visited[start] = 1;
    let sum = 0;
    let count = 0;
    let minY = height;
    let maxY = -1;
    while (top > 0) {
      const i = stack[--top];
      const x = i % width;
      const y = (i - x) / width;
      sum += prob[i];
      count++;
      if (x < rowMin[y]) rowMin[y] = x;
      if (x > rowMax[y]) rowMax[y] = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const j = ny * width + nx;
          if (!visited[j] && prob[j] > BINARY_THRESHOLD) {
            visited[j] = 1;
            stack[top++] = j;
          }
        }
      }
    }
    // The region's outline: both ends of every row, as pixel corners.
    const outline: Point[] = [];
    for (let y = minY; y <= maxY; y++) {
      if (rowMax[y] >= 0) {
        outline.push({ x: rowMin[y], y }, { x: rowMin[y], y: y + 1 }, { x: rowMax[y] + 1, y }, { x: rowMax[y] + 1, y: y + 1 });
      }
      rowMin[y] = width;
      rowMax[y] = -1;
    }
    if (count < MIN_SIDE * MIN_SIDE) continue;
    const rect = minAreaRect(outline);
    if (Math.min(rect.width, rect.height) < MIN_SIDE) continue;
    const score = sum / count;
    if (score < BOX_THRESHOLD) continue;
    const grown = unclip(rect, UNCLIP_RATIO);
    if (Math.min(grown.width, grown.height) < MIN_SIDE + 2) continue;
    boxes.push({ rect: grown, score });
    if (boxes.length >= MAX_BOXES) break;
  }
  return boxes;
}
