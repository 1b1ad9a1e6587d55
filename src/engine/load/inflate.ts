// How pdfjs decompresses streams in the engine's threads, and how much it may.
//
// Speed: pdfjs 5.6 inflates every Flate stream (page contents, fonts, images) by writing it to
// a global `DecompressionStream` and reading the result back. In Node that is a web stream on
// top of zlib's thread pool: per stream, a round trip during which the engine's thread idles,
// plus the stream machinery. The streams are small and already in memory, so native zlib
// inflates them synchronously instead. `SyncDecompressionStream` is the part of the
// DecompressionStream interface pdfjs uses (`writable.getWriter()` → ready/write/close, then
// `for await` over `readable`), not a general web stream: it is installed only in threads that
// run the engine. It is also more forgiving than the native one: a truncated stream (a PDF cut
// short, a bad Length) gives what it holds instead of an error, as poppler and MuPDF read it.
// Corrupt data throws from the readable, and pdfjs falls back to its own JavaScript inflate.
//
// Budget: decompressed bytes live in ArrayBuffers, outside the V8 heap, where a worker's heap
// limit does not reach; a few kilobytes of Flate can claim gigabytes. So every byte a document
// decompresses is charged to its budget: the native inflate here is given only what is left,
// and pdfjs's own decoders (the JavaScript Flate fallback, LZW, run-length, ASCII85, and the
// Flate streams pdfjs reads synchronously: fonts, object streams) are charged where they all
// grow their buffers, DecodeStream's `ensureBuffer`. Over the budget, decoding stops with a
// `decompression_limit` error, which the engine reports for the page (or the document).
import zlib from 'node:zlib';
import { DocmarkError } from '../../errors.js';

type Decoder = (data: Buffer, maxOutputLength: number) => Buffer;

/** The budget of a document opened without one of its own. */
export const DEFAULT_INFLATE_BUDGET_BYTES = 512 * 1024 * 1024;

// Z_SYNC_FLUSH at the end: a truncated stream returns its decoded part instead of throwing.
const lenient = (maxOutputLength: number) => ({ finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength });
const DECODERS: Record<string, Decoder> = {
  deflate: (data, max) => zlib.inflateSync(data, lenient(max)),
  'deflate-raw': (data, max) => zlib.inflateRawSync(data, lenient(max)),
  gzip: (data, max) => zlib.gunzipSync(data, lenient(max)),
  // PDF 2.0's BrotliDecode filter; Node's own DecompressionStream has no brotli.
  brotli: (data, max) => zlib.brotliDecompressSync(data, { maxOutputLength: max }),
};

/**
 * What one document may decompress: for opening it, and then for each page (pages are
 * converted one at a time, and what a page decoded is released with it). Once exceeded it
 * stays exceeded until the next page begins, so pdfjs cannot retry its way past it.
 */
export class InflateBudget {
  readonly limitBytes: number;
  #used = 0;
  #exceeded = false;

  constructor(limitBytes: number) {
    if (!(Number.isSafeInteger(limitBytes) && limitBytes > 0))
      throw new RangeError(`an inflate budget must be a positive integer, got ${limitBytes}`);
    this.limitBytes = limitBytes;
  }

  get remaining(): number {
    return this.#exceeded ? 0 : this.limitBytes - this.#used;
  }

  get exceeded(): boolean {
    return this.#exceeded;
  }

  /** Count `bytes` about to be allocated; throws (and stays exceeded) when they do not fit. */
  charge(bytes: number): void {
    if (this.#exceeded || bytes > this.limitBytes - this.#used) {
      this.#exceeded = true;
      throw this.error();
    }
    this.#used += bytes;
  }

  /** A new page: its own allowance. */
  beginPage(): void {
    this.#used = 0;
    this.#exceeded = false;
  }

  error(): DocmarkError {
    return new DocmarkError(
      'decompression_limit',
      `The PDF decompresses to more than ${Math.round(this.limitBytes / 1024 / 1024)} MB (the limit for opening a document and for each page): a decompression bomb, or a page too large to convert here.`,
    );
  }
}

// The documents open in this thread. A conversion worker has one at a time; where several are
// open at once (a caller converting in parallel in one thread), decoding is charged to each,
// as the decoders cannot tell whose stream they read.
const open = new Set<InflateBudget>();

/** Charge `bytes` to every open document's budget. */
function charge(bytes: number): void {
  for (const budget of open) budget.charge(bytes);
}

/** The most the next stream may inflate to: what the tightest open budget has left. */
function allowance(): number {
  let least = DEFAULT_INFLATE_BUDGET_BYTES;
  for (const budget of open) least = Math.min(least, budget.remaining);
  return least;
}

/** Open a document's budget; `close()` it when the document is closed. */
export function openInflateBudget(limitBytes = DEFAULT_INFLATE_BUDGET_BYTES): InflateBudget & { close(): void } {
  const budget = Object.assign(new InflateBudget(limitBytes), { close: () => void open.delete(budget) });
  open.add(budget);
  return budget;
}

export class SyncDecompressionStream {
  readonly writable: { getWriter(): SyncWriter };
  readonly readable: AsyncIterable<Uint8Array>;

  constructor(format: string) {
    const decode = DECODERS[format];
    if (!decode) throw new TypeError(`Unsupported compression format: '${format}'`);
    const chunks: Uint8Array[] = [];
    const done = Promise.resolve();
    const writer: SyncWriter = {
      ready: done,
      write(chunk) {
        chunks.push(chunk);
        return done;
      },
      close: () => done,
    };
    this.writable = { getWriter: () => writer };
    this.readable = {
      async *[Symbol.asyncIterator]() {
        const input = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        const max = allowance();
        let out: Buffer;
        try {
          // zlib stops at `max` bytes instead of allocating what the stream asks for.
          out = decode(Buffer.from(input.buffer, input.byteOffset, input.byteLength), Math.max(1, max));
        } catch (err) {
          // Over the allowance: the budget is exceeded, so pdfjs's JavaScript fallback, which
          // runs next, stops at its first buffer.
          if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') charge(max + 1);
          throw err;
        }
        charge(out.byteLength);
        // pdfjs may transfer what it gets to another thread: hand it a buffer of its own,
        // never a view into Node's shared Buffer pool.
        yield out.byteOffset === 0 && out.byteLength === out.buffer.byteLength ? new Uint8Array(out.buffer) : new Uint8Array(out);
      },
    };
  }
}

interface SyncWriter {
  ready: Promise<void>;
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** Make pdfjs in this thread inflate through native zlib, synchronously, within the budgets. */
export function installSyncInflate(): void {
  (globalThis as { DecompressionStream?: unknown }).DecompressionStream = SyncDecompressionStream;
  budgetDecodeStreams();
}

/** What pdfjs's DecodeStream has that the budget needs (see budgetDecodeStreams). */
interface DecodeStreamPrototype {
  ensureBuffer(this: DecodeStreamInstance, requested: number): Uint8Array;
  asyncGetBytesFromDecompressionStream: unknown;
}
interface DecodeStreamInstance {
  buffer: Uint8Array;
  minBufferLength: number;
}

// pdfjs's constructor of every decoder (DecodeStream) sets this property on the new stream first.
const DECODE_STREAM_MARK = '_rawMinBufferLength';
let budgeted = false;

/** Whether pdfjs's decoders in this thread are charged to the budgets (true after the first stream is read). */
export function decodersBudgeted(): boolean {
  return budgeted;
}

/**
 * Charge every buffer pdfjs's decoders grow to the open budgets. pdfjs exports none of its
 * stream classes, so DecodeStream is found through its first instance: a setter on
 * Object.prototype for the property its constructor sets first catches that instance, puts the
 * property back as an ordinary one, wraps `ensureBuffer` on the prototype it inherits, and
 * removes itself. Until pdfjs builds its first decoder nothing needs charging.
 */
function budgetDecodeStreams(): void {
  if (budgeted || Object.hasOwn(Object.prototype, DECODE_STREAM_MARK)) return;
  Object.defineProperty(Object.prototype, DECODE_STREAM_MARK, {
    configurable: true,
    enumerable: false,
    set(this: object, value: unknown) {
      Object.defineProperty(this, DECODE_STREAM_MARK, { value, writable: true, enumerable: true, configurable: true });
      let proto = Object.getPrototypeOf(this) as object | null;
      while (proto && !Object.hasOwn(proto, 'asyncGetBytesFromDecompressionStream')) proto = Object.getPrototypeOf(proto);
      if (!proto) return;
      delete (Object.prototype as Record<string, unknown>)[DECODE_STREAM_MARK];
      wrapEnsureBuffer(proto as DecodeStreamPrototype);
      budgeted = true;
    },
  });
}

function wrapEnsureBuffer(proto: DecodeStreamPrototype): void {
  const ensureBuffer = proto.ensureBuffer;
  proto.ensureBuffer = function (this: DecodeStreamInstance, requested: number): Uint8Array {
    const have = this.buffer.byteLength;
    if (requested > have) {
      // The size pdfjs is about to allocate: minBufferLength doubled until it fits.
      let size = Math.max(1, this.minBufferLength);
      while (size < requested) size *= 2;
      charge(size - have);
    }
    return ensureBuffer.call(this, requested);
  };
}
