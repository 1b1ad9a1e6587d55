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
 * still gets a snapshot; binary data is copied. Buffers a message transfers (a document's bytes,
 * an operator list's path data and matrices, image data for rendering) move instead: the
 * receiver's views stand on the moved buffers and the sender's are emptied exactly as with
 * pdfjs's own port, while the rest of the message is copied directly like any other. A chunk of
 * a page's text is the one message whose contents are handed over without a copy (see
 * handOverTextChunk): it is most of what pdfjs sends, and the worker never touches it again.
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
    const event = { data: transfer?.length ? moveMessage(message, transfer) : isTextChunk(message) ? handOverTextChunk(message) : snapshot(message) };
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

const objectTag = Object.prototype.toString;

/** pdfjs's MessageHandler: the message that carries one chunk of a stream (its StreamKind.ENQUEUE). */
const STREAM_ENQUEUE = 4;

interface TextChunkMessage {
  stream: number;
  chunk: { items: unknown[]; styles: object; lang?: unknown };
}

/** A chunk of a page's text content (getTextContent's stream: items and their styles). */
function isTextChunk(message: unknown): message is TextChunkMessage {
  const m = message as Partial<TextChunkMessage> | null;
  return m?.stream === STREAM_ENQUEUE && Array.isArray(m.chunk?.items) && typeof m.chunk.styles === 'object';
}

/**
 * A text chunk as the receiver may have it without a copy of its items: after sending a chunk,
 * pdfjs's worker gives its text content new item and style containers instead of emptying the
 * sent ones, and every item and style it puts in them is an object made for that chunk, never
 * changed once sent. Only the message and the chunk, which the worker goes on filling, are copied.
 */
function handOverTextChunk(message: TextChunkMessage): TextChunkMessage {
  return { ...message, chunk: { ...message.chunk } };
}

/**
 * A copy of `value` as structuredClone would make it (with no transfer), for the data pdfjs
 * sends. `copying`: what one message's copy keeps track of (see Copying).
 */
export function snapshot(value: unknown, depth = 0, copying?: Copying): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (depth > MAX_DEPTH) return structuredClone(value);
  // Primitives are copied inline: text items are mostly strings and numbers.
  if (Array.isArray(value)) {
    const copy = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (typeof item !== 'object' || item === null) copy[i] = item;
      else if ((copy[i] = snapshot(item, depth + 1, copying)) instanceof Moved) copying!.wait(copy);
    }
    return copy;
  }
  if (ArrayBuffer.isView(value)) {
    if (copying?.moving?.has(value.buffer)) return copying.moved(value.buffer, value);
    return value instanceof DataView ? structuredClone(value) : (value as Uint8Array).slice();
  }
  if (value instanceof ArrayBuffer) return copying?.moving?.has(value) ? copying.moved(value) : value.slice(0);
  const proto = Object.getPrototypeOf(value);
  let copy: Record<string, unknown>;
  if (proto === Object.prototype) copy = {};
  else if (proto === null) copy = Object.create(null);
  else {
    // An instance of a class (an operator list's glyphs, shared by every place a glyph is drawn)
    // is copied once per message, as structuredClone copies it: its own fields into a plain
    // object. Built-ins (Map, Date, errors) are structuredClone's.
    const known = copying?.instances.get(value);
    if (known) return known;
    if (objectTag.call(value) !== '[object Object]') return structuredClone(value);
    copying ??= new Copying();
    copy = {};
    copying.instances.set(value, copy);
  }
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const item = (value as Record<string, unknown>)[keys[i]];
    if (typeof item !== 'object' || item === null) copy[keys[i]] = item;
    else if ((copy[keys[i]] = snapshot(item, depth + 1, copying)) instanceof Moved) copying!.wait(copy);
  }
  return copy;
}

/**
 * A copy of a message that transfers `transfer`: copied as snapshot copies, except that the
 * transferred buffers move (the sender's are detached) and the receiver's views stand on the
 * moved ones, as structuredClone's transfer does. A transfer of anything but ArrayBuffers goes
 * through structuredClone whole.
 */
export function moveMessage(message: unknown, transfer: readonly unknown[]): unknown {
  if (!transfer.every((item) => item instanceof ArrayBuffer)) return structuredClone(message, { transfer: transfer as TransferListItem[] });
  const buffers = [...new Set(transfer as ArrayBuffer[])];
  const copying = new Copying(buffers);
  const copy = snapshot(message, 0, copying);
  // Views are read before any buffer moves: a moved buffer's old views have no length left.
  const moved = structuredClone(buffers, { transfer: buffers });
  return copying.settle(copy, new Map(buffers.map((buffer, k) => [buffer, moved[k]])));
}

/**
 * What the copy of one message keeps track of: the class instances copied so far (each is copied
 * once, and shared where the original was), and, for a message that transfers buffers, the
 * places in the copy that wait for the moved buffers.
 */
class Copying {
  readonly instances = new Map<object, Record<string, unknown>>();
  readonly moving?: Set<ArrayBufferLike>;
  #waiting: Array<unknown[] | Record<string, unknown>> = [];

  constructor(buffers?: readonly ArrayBuffer[]) {
    if (buffers) this.moving = new Set(buffers);
  }

  moved(buffer: ArrayBufferLike, view?: ArrayBufferView): Moved {
    return new Moved(buffer, view);
  }

  /** A copied array or object that holds a moved buffer (or a view of one): filled in by settle. */
  wait(holder: unknown[] | Record<string, unknown>): void {
    if (this.#waiting[this.#waiting.length - 1] !== holder) this.#waiting.push(holder);
  }

  settle(copy: unknown, to: Map<ArrayBufferLike, ArrayBuffer>): unknown {
    for (const holder of this.#waiting) {
      const into = holder as Record<string, unknown>;
      for (const key in into) {
        const item = into[key];
        if (item instanceof Moved) into[key] = item.on(to);
      }
    }
    return copy instanceof Moved ? copy.on(to) : copy;
  }
}

type ViewConstructor = new (buffer: ArrayBuffer, byteOffset: number, length: number) => ArrayBufferView;

/** A transferred buffer, or a view of one, in a copy: made again on the moved buffer. */
class Moved {
  readonly #buffer: ArrayBufferLike;
  // A view's kind and place, read while its buffer is whole (structuredClone makes a Buffer a Uint8Array too).
  readonly #kind?: ViewConstructor;
  readonly #offset: number;
  readonly #length: number;

  constructor(buffer: ArrayBufferLike, view?: ArrayBufferView) {
    this.#buffer = buffer;
    this.#offset = view?.byteOffset ?? 0;
    this.#length = view instanceof DataView ? view.byteLength : ((view as Uint8Array | undefined)?.length ?? 0);
    if (view) this.#kind = (globalThis as unknown as Record<string, ViewConstructor>)[(view as Uint8Array)[Symbol.toStringTag] ?? 'DataView'];
  }

  on(to: Map<ArrayBufferLike, ArrayBuffer>): ArrayBuffer | ArrayBufferView {
    const buffer = to.get(this.#buffer)!;
    return this.#kind ? new this.#kind(buffer, this.#offset, this.#length) : buffer;
  }
}
