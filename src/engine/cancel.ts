import { DocmarkError } from '../errors.js';

// Cooperative cancellation of the conversion running in this thread. Whoever owns the thread
// (the server's conversion worker) installs a CancelSource; the engine calls checkpoint() where
// stopping is safe (between pages, between OCR stages) and wraps calls into native addons that
// must not be interrupted in uninterruptible(). Without a source (the CLI, tests of the engine)
// both cost nothing and never throw.

export interface CancelSource {
  /** The running conversion was cancelled (timed out, or its client left). */
  cancelled(): boolean;
  /** About to call native code; false when the thread is being ended and must not start any. */
  enterNative(): boolean;
  leaveNative(): void;
}

let source: CancelSource | undefined;

export function setCancelSource(next: CancelSource | undefined): void {
  source = next;
}

export function cancelledError(): DocmarkError {
  return new DocmarkError('cancelled', 'The conversion was cancelled.');
}

export function isCancelled(): boolean {
  return source?.cancelled() ?? false;
}

/** Throws the cancellation error when the running conversion was cancelled. */
export function checkpoint(): void {
  if (source?.cancelled()) throw cancelledError();
}

/**
 * Run `fn`, which calls into a native addon that aborts the whole process when its thread is
 * ended in the middle of a call (onnxruntime-node): the thread's owner does not end the thread
 * while it runs, and a cancelled conversion stops at its end instead.
 */
export async function uninterruptible<T>(fn: () => Promise<T>): Promise<T> {
  if (!source) return fn();
  if (!source.enterNative()) throw cancelledError();
  const entered = source;
  try {
    return await fn();
  } finally {
    entered.leaveNative();
  }
}
