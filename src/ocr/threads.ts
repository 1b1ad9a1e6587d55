import os from 'node:os';

// Threads per OCR inference in this thread (DOCMARK_OCR_THREADS), set by whoever owns the thread
// before its first OCR. Kept apart from models.ts so that setting it does not load onnxruntime.
// ONNX Runtime would otherwise take every core and starve the other conversion workers.
let wanted = 2;

export function setOcrThreads(threads: number): void {
  wanted = threads;
}

export function ocrThreads(): number {
  return Math.max(1, Math.min(wanted, os.availableParallelism()));
}
