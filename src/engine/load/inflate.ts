import zlib from 'node:zlib';

/**
 * pdfjs 5.6 inflates every Flate stream (page contents, fonts, images) by writing it to a
 * global `DecompressionStream` and reading the result back. In Node that is a web stream on
 * top of zlib's thread pool: per stream, a round trip during which the engine's thread idles,
 * plus the stream machinery — 15–25 % of a born-digital conversion. The streams are small and
 * already in memory, so native zlib inflates them synchronously in microseconds.
 *
 * `SyncDecompressionStream` is the part of the DecompressionStream interface pdfjs uses
 * (`writable.getWriter()` → ready/write/close, then `for await` over `readable`), not a
 * general web stream: it is installed only in threads that run the engine. It is also more
 * forgiving than the native one: a truncated stream (a PDF cut short, a bad Length) gives
 * what it holds instead of an error, as poppler and MuPDF read it. Corrupt data throws from
 * the readable, and pdfjs falls back to its own JavaScript inflate.
 */

type Decoder = (data: Buffer) => Buffer;

/**
 * Larger outputs are refused here (pdfjs then inflates in JavaScript, where the worker's heap
 * limit applies): a decompression bomb must not be expanded into memory outside the V8 heap.
 */
export const MAX_INFLATED_BYTES = 256 * 1024 * 1024;

// Z_SYNC_FLUSH at the end: a truncated stream returns its decoded part instead of throwing.
const lenient = { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: MAX_INFLATED_BYTES };
const DECODERS: Record<string, Decoder> = {
  deflate: (data) => zlib.inflateSync(data, lenient),
  'deflate-raw': (data) => zlib.inflateRawSync(data, lenient),
  gzip: (data) => zlib.gunzipSync(data, lenient),
  // PDF 2.0's BrotliDecode filter; Node's own DecompressionStream has no brotli.
  brotli: (data) => zlib.brotliDecompressSync(data, { maxOutputLength: MAX_INFLATED_BYTES }),
};

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
        const out = decode(Buffer.from(input.buffer, input.byteOffset, input.byteLength));
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

/** Make pdfjs in this thread inflate through native zlib, synchronously. */
export function installSyncInflate(): void {
  (globalThis as { DecompressionStream?: unknown }).DecompressionStream = SyncDecompressionStream;
}
