import type { DocmarkError } from '../errors.js';
import type { ConvertOptions, ConvertResult } from '../engine/types.js';

// What the HTTP layer needs from the conversion engine. The worker-thread pool (./pool)
// implements it.

export interface Converter {
  /**
   * Take a place for one conversion (a worker, or a slot in the queue) before its upload is
   * read. Throws 503 `queue_full` (with Retry-After) when there is none, `draining` when closing.
   */
  admit(): Admission;
  /** End the running conversion holding the most memory, its client answered `error` (the host guard). */
  endLargest?(error: DocmarkError): { bytes: number } | undefined;
  /**
   * Take no more conversions: those queued and not started, and any submitted later, fail with
   * `error` (the memory limit: their clients retry on another instance). Returns how many were queued.
   */
  shed?(error: DocmarkError): number;
  /** End every running conversion, its client answered `error`; returns how many ran. */
  endRunning?(error: DocmarkError): number;
  /** Figures for /health and /metrics. */
  stats(): ConverterStats;
  close(): Promise<void>;
}

/** `done` of the `total` pages of a conversion are read (first called with done = 0). */
export type ProgressListener = (done: number, total: number) => void;

export interface Admission {
  /**
   * Convert in the place taken; an aborted `signal` (the client left) cancels the conversion.
   * `onProgress` hears of every page read; `onStart` is called when a worker takes the
   * conversion (it leaves the queue).
   */
  convert(
    bytes: Uint8Array,
    options: ConvertOptions,
    signal?: AbortSignal,
    onProgress?: ProgressListener,
    onStart?: () => void,
  ): Promise<ConvertResult>;
  /** Give the place back unused (the upload failed). Does nothing after convert(). */
  release(): void;
}

export interface ConverterStats {
  kind: string;
  busy: number;
  queued: number;
  [key: string]: unknown;
}
