import type { TransferListItem } from 'node:worker_threads';

/**
 * The message port between pdfjs's API and its worker when both run in this thread.
 *
 * pdfjs in Node has no worker thread: its "fake worker" joins the two sides with a port that
 * passes every message through `structuredClone`, which serialises to bytes and back. The
 * copy is needed — the worker empties and refills its arrays after sending them (text chunks,
 * operator lists) — but the serialiser is not: for the plain data pdfjs sends it costs about
 * 7 % of a born-digital conversion. This port copies plain arrays and objects directly and
 * leaves anything else (class instances, Maps, errors) to `structuredClone`, so the receiver
 * still gets a snapshot; binary data is copied. A message that transfers buffers (a document's
 * bytes, image and path data for rendering) goes through `structuredClone` whole, so the buffers
 * move and the sender's copies are emptied exactly as with pdfjs's own port: text, the hot path,
 * transfers nothing.
 *
 * It implements what pdfjs's MessageHandler uses of a port: postMessage, add/removeEventListener
 * (with an abort signal) and terminate.
 */

type Listener = (this: InThreadPort, event: { data: unknown }) => void;

// Deeper than anything pdfjs sends; past it (or on a cycle) structuredClone takes over.
const MAX_DEPTH = 64;

export class InThreadPort {
  #listeners = new Map<Listener, (() => void) | null>();
  #delivered: Promise<void> = Promise.resolve();

  postMessage(message: unknown, transfer?: readonly unknown[]): void {
    const event = { data: transfer?.length ? structuredClone(message, { transfer: transfer as TransferListItem[] }) : snapshot(message) };
    // Delivered on a microtask, in order, as pdfjs's own loopback port does (a throwing
    // listener is an unhandled rejection there too, not an uncaught exception).
    void this.#delivered.then(() => {
      for (const listener of this.#listeners.keys()) listener.call(this, event);
    });
  }

  addEventListener(_type: 'message', listener: Listener, options?: { signal?: AbortSignal }): void {
    const signal = options?.signal;
    if (signal?.aborted) return;
    let unsubscribe: (() => void) | null = null;
    if (signal) {
      const onAbort = () => this.removeEventListener('message', listener);
      signal.addEventListener('abort', onAbort, { once: true });
      unsubscribe = () => signal.removeEventListener('abort', onAbort);
    }
    this.#listeners.set(listener, unsubscribe);
  }

  removeEventListener(_type: 'message', listener: Listener): void {
    this.#listeners.get(listener)?.();
    this.#listeners.delete(listener);
  }

  terminate(): void {
    for (const unsubscribe of this.#listeners.values()) unsubscribe?.();
    this.#listeners.clear();
  }
}

/** A copy of `value` as structuredClone would make it (with no transfer), for the data pdfjs sends. */
export function snapshot(value: unknown, depth = 0): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (depth > MAX_DEPTH) return structuredClone(value);
  // Primitives are copied inline: text items are mostly strings and numbers.
  if (Array.isArray(value)) {
    const copy = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      copy[i] = typeof item !== 'object' || item === null ? item : snapshot(item, depth + 1);
    }
    return copy;
  }
  if (ArrayBuffer.isView(value)) return value instanceof DataView ? structuredClone(value) : (value as Uint8Array).slice();
  if (value instanceof ArrayBuffer) return value.slice(0);
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return structuredClone(value);
  const copy: Record<string, unknown> = proto === null ? Object.create(null) : {};
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const item = (value as Record<string, unknown>)[keys[i]];
    copy[keys[i]] = typeof item !== 'object' || item === null ? item : snapshot(item, depth + 1);
  }
  return copy;
}
