import type { ErrorCode } from '../../errors.js';
import type { ConvertOptions, ConvertResult, Page } from '../../engine/types.js';

// What the pool and its worker threads say to each other. Errors cross the thread boundary as
// plain data: structured cloning drops the DocmarkError class.

export type ToWorker =
  /** `bytes` arrives transferred: the worker owns it. */
  | { type: 'convert'; id: number; bytes: Uint8Array; options: ConvertOptions }
  /** Finish up (release OCR sessions) and say 'retired'; the pool then ends the thread. */
  | { type: 'retire' }
  // A big document shared by several workers (see split.ts): the worker converting it asks with
  // 'split'; the pool answers with the shares other workers read ('split-plan'), and those
  // workers' pages come back in 'share-pages', or 'share-back' when the share is left to it.
  | { type: 'split-plan'; id: number; shares: number[][] }
  | { type: 'share-pages'; id: number; share: number; pages: Page[] }
  | { type: 'share-back'; id: number; share: number }
  /** Read these pages of a document another worker converts; `bytes` is this worker's own copy. */
  | { type: 'extract'; id: number; bytes: Uint8Array; options: ConvertOptions; indexes: number[] };

/** What a worker thread is started with (its workerData). */
export interface WorkerSettings {
  ocrThreads: number;
  /** Shared with the pool: see control.ts. */
  control: SharedArrayBuffer;
  /** A conversion of more pages than this asks the pool to share it (0: never). */
  splitPages: number;
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
  /** Task `id` has these pages selected, more than splitPages: may other workers read some? */
  | { type: 'split'; id: number; selected: number[] }
  /** The file, for the workers the plan gave shares to. */
  | { type: 'split-bytes'; id: number; bytes: Uint8Array }
  /** The pages of share task `id` ('extract'). */
  | { type: 'pages'; id: number; pages: Page[]; heapUsed: number }
  | { type: 'log'; line: Record<string, unknown> }
  | { type: 'retired' };
