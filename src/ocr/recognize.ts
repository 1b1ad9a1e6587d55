import { checkpoint } from '../engine/cancel.js';
import ort from 'onnxruntime-node';
import type { RotatedRect } from './geometry.js';
import { sampleBilinear, type GrayImage } from './image.js';
import { decodeCtc, type DecodedText } from './ctc.js';
import { stage } from './stages.js';

// Text recognition (PP-OCRv4 SVTR + CTC): each detected box is cut out of the page,
// straightened and scaled to 48 px high, and read in small batches.

export const CROP_HEIGHT = 48;
/** Narrowest batch width, as PaddleOCR pads (3:20 → 320 px at height 48). */
const MIN_BATCH_WIDTH = 320;
/** Longest crop: a full-width line at 48 px is ~2500 px; anything longer is squeezed. */
const MAX_CROP_WIDTH = 3200;
/**
 * Padded columns per batch. The model's cost per column is the same alone or batched, so
 * batching saves only the per-run overhead, while a bigger batch means bigger activations
 * (the arena keeps the largest) and padding: long lines run alone, short ones together.
 */
const MAX_BATCH_COLUMNS = 2560;
const MAX_BATCH = 8;
export interface Crop {
  width: number;
  /** CROP_HEIGHT rows of `width` grey pixels. */
  data: Uint8Array;
}

/** Cut a rotated box out of the page: sampled straight, at the model's height. */
export function cropBox(image: GrayImage, rect: RotatedRect): Crop {
  const scale = rect.height / CROP_HEIGHT; // page pixels per crop pixel
  const width = Math.max(8, Math.min(MAX_CROP_WIDTH, Math.round(rect.width / scale)));
  const stepU = rect.width / width;
  const data = new Uint8Array(width * CROP_HEIGHT);
  // Shrinking big text: average a few samples per pixel so thin strokes survive.
  const samples = Math.min(3, Math.max(1, Math.ceil(scale - 0.25)));
  const { origin, u, v } = rect;
  for (let y = 0; y < CROP_HEIGHT; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let sy = 0; sy < samples; sy++) {
        const dv = (y + (sy + 0.5) / samples) * scale;
        for (let sx = 0; sx < samples; sx++) {
          const du = (x + (sx + 0.5) / samples) * stepU;
          sum += sampleBilinear(image, origin.x + du * u.x + dv * v.x, origin.y + du * u.y + dv * v.y);
        }
      }
      data[y * width + x] = Math.round(sum / (samples * samples));
    }
  }
  stretchContrast(data);
  return { width, data };
}

/** Darkest share of a crop's pixels taken as ink, and the share below which paper starts. */
const INK_PERCENTILE = 0.02;
const PAPER_PERCENTILE = 0.5;
/** Crops with less contrast than this (grey levels) are left alone: blank paper or a flat patch, whose noise must not be blown up. */
const MIN_CONTRAST = 24;

/**
 * Faded, grey or dark scans: ink to black and paper to white, per crop (the page's lighting and
 * toner vary across it), as the recogniser saw most text when it learnt.
 */
function stretchContrast(data: Uint8Array): void {
  const histogram = new Uint32Array(256);
  for (const value of data) histogram[value]++;
  const level = (share: number) => {
    const target = data.length * share;
    let seen = 0;
    for (let v = 0; v < 256; v++) if ((seen += histogram[v]) >= target) return v;
    return 255;
  };
  const ink = level(INK_PERCENTILE);
  const paper = level(PAPER_PERCENTILE);
  if (paper - ink < MIN_CONTRAST) return;
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = Math.max(0, Math.min(255, Math.round(((v - ink) * 255) / (paper - ink))));
  for (let i = 0; i < data.length; i++) data[i] = lut[data[i]];
}

export interface Recognized extends DecodedText {
  crop: Crop;
}

/** Read the crops, batching crops of similar width together (less padding, less work). */
export async function recognizeCrops(session: ort.InferenceSession, crops: Crop[], charset: string[]): Promise<Recognized[]> {
  const order = crops.map((_, i) => i).sort((a, b) => crops[a].width - crops[b].width);
  const results: Recognized[] = new Array(crops.length);
  for (let start = 0; start < order.length; ) {
    checkpoint();
    // Sorted by width: the batch's last crop is its widest, and padding stays small.
    let end = start + 1;
    while (end < order.length && end - start < MAX_BATCH && (end - start + 1) * paddedWidth(crops[order[end]]) <= MAX_BATCH_COLUMNS) end++;
    const batch = order.slice(start, end);
    start = end;
    const width = paddedWidth(crops[batch[batch.length - 1]]);
    const input = new ort.Tensor(
      'float32',
      stage('recognize.pre', () =>
        toBatchTensor(
          batch.map((i) => crops[i]),
          width,
        ),
      ),
      [batch.length, 3, CROP_HEIGHT, width],
    );
    let output: ort.InferenceSession.OnnxValueMapType | undefined;
    try {
      output = await stage('recognize.run', () => session.run({ [session.inputNames[0]]: input }));
      const probs = output[session.outputNames[0]];
      const [, frames, classes] = probs.dims as number[];
      const data = probs.data as Float32Array;
      stage('recognize.decode', () =>
        batch.forEach((cropIndex, b) => {
          const slice = data.subarray(b * frames * classes, (b + 1) * frames * classes);
          // Frame positions → crop pixels: each output frame covers width/frames input columns.
          const decoded = decodeCtc(slice, frames, classes, charset, width / frames);
          results[cropIndex] = { ...decoded, crop: crops[cropIndex] };
        }),
      );
    } finally {
      input.dispose();
      if (output) for (const value of Object.values(output)) value.dispose();
    }
  }
  return results;
}

function paddedWidth(crop: Crop): number {
  return Math.max(MIN_BATCH_WIDTH, crop.width);
}

/** Normalise to [-1, 1] like PaddleOCR; padding stays 0 (mid-grey), as there. */
function toBatchTensor(crops: Crop[], width: number): Float32Array {
  const plane = CROP_HEIGHT * width;
  const out = new Float32Array(crops.length * 3 * plane);
  crops.forEach((crop, b) => {
    for (let c = 0; c < 3; c++) {
      const base = (b * 3 + c) * plane;
      for (let y = 0; y < CROP_HEIGHT; y++) {
        for (let x = 0; x < crop.width; x++) out[base + y * width + x] = crop.data[y * crop.width + x] / 127.5 - 1;
      }
    }
  });
  return out;
}
