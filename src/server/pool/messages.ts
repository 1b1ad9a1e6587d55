import type { ErrorCode } from '../../errors.js';
import type { ConvertOptions, ConvertResult } from '../../engine/types.js';

// What the pool and its worker threads say to each other. Errors cross the thread boundary as
// plain data: structured cloning drops the DocmarkError class.

export type ToWorker =
  /** `bytes` arrives transferred: the worker owns it. */
  | { type: 'convert'; id: number; bytes: Uint8Array; options: ConvertOptions }
  /** Finish up (release OCR sessions) and say 'retired'; the pool then ends the thread. */
  | { type: 'retire' };

/** What a worker thread is started with (its workerData). */
export interface WorkerSettings {
  ocrThreads: number;
  /** Shared with the pool: see control.ts. */
  control: SharedArrayBuffer;
}

export interface WireError {
  code: ErrorCode;
  message: string;
  /** For unexpected errors only: logged by the pool, never sent to clients. */
  stack?: string;
}

export type FromWorker =
  | { type: 'ready' }
  /** A page of task `id` is being read with OCR: its time limit grows by the OCR allowance. */
  | { type: 'ocr-page'; id: number }
  /** Task `id` has read `done` of its `total` pages. */
  | { type: 'page'; id: number; done: number; total: number }
  /** heapUsed: the worker's V8 heap after the task, for /health and the leak benchmark. */
  | { type: 'result'; id: number; result: ConvertResult; heapUsed: number }
  | { type: 'error'; id: number; error: WireError; heapUsed: number }
  | { type: 'log'; line: Record<string, unknown> }
  | { type: 'retired' };
