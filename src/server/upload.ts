import Busboy from 'busboy';
import type { Context } from 'koa';
import { DocmarkError } from '../errors.js';
import type { RawOptions } from '../engine/options.js';

// The uploaded PDF, read into memory (no temporary files) with a hard size limit: either a
// multipart form with a `file` field or the raw body. The route checks the headers before the
// request takes a place in the pool and reads the body only after, so a refused upload is never
// read. The bytes go into one buffer that grows in place as they arrive (a resizable ArrayBuffer:
// memory is committed as it is written, never copied to grow) and is then moved to the worker
// thread as it is: one copy of the file in this process, however it was sent.

export interface Upload {
  bytes: Uint8Array;
  filename?: string;
  /** Option values sent as form fields. */
  fields: RawOptions;
}

/** Room for multipart boundaries, part headers and option fields on top of the file itself. */
export const MULTIPART_OVERHEAD = 64 * 1024;
/** Longest option value accepted in a form field (a page list of thousands of pages fits). */
const FIELD_MAX_BYTES = 16 * 1024;
/** The upload buffer grows by at least this much at a time (fewer, larger commits). */
const GROW_STEP = 1024 * 1024;

/** Refusals decided by the headers alone, before the request takes a place or anything is read. */
export function checkUploadHeaders(ctx: Context, maxBytes: number): void {
  const declared = declaredLength(ctx);
  const overhead = isMultipart(ctx) ? MULTIPART_OVERHEAD : 0;
  if (declared !== undefined && declared > maxBytes + overhead) throw tooLarge(maxBytes);
  if (!isMultipart(ctx) && (!ctx.req.readable || (declared === 0 && !ctx.get('transfer-encoding')))) throw noFile();
}

/** Read the body (the request holds a place in the pool by now). */
export async function readUpload(ctx: Context, maxBytes: number): Promise<Upload> {
  if (isMultipart(ctx)) return readMultipart(ctx, maxBytes);
  const declared = declaredLength(ctx);
  const bytes = await readRaw(ctx, new ByteSink(declared ?? maxBytes), maxBytes);
  if (bytes.length === 0) throw noFile();
  return { bytes, fields: {} };
}

const isMultipart = (ctx: Context): boolean => (ctx.get('content-type') || '').toLowerCase().startsWith('multipart/form-data');

function declaredLength(ctx: Context): number | undefined {
  const raw = ctx.get('content-length');
  if (!/^\d{1,15}$/.test(raw)) return undefined;
  return Number(raw);
}

/**
 * `Expect: 100-continue` clients wait for an invitation before sending the body (serve.ts does
 * not send it up front): the route sends it once the request is admitted.
 */
export function inviteBody(ctx: Context): void {
  if (/100-continue/i.test(ctx.get('expect')) && !ctx.res.headersSent) ctx.res.writeContinue();
}

function tooLarge(maxBytes: number): DocmarkError {
  return new DocmarkError('payload_too_large', `The upload is larger than the limit of ${Math.round(maxBytes / 1024 / 1024)} MB.`);
}

const noFile = (): DocmarkError =>
  new DocmarkError('no_file', 'No PDF was sent: post it as multipart field "file" or as the raw body (Content-Type: application/pdf).');

const aborted = (): DocmarkError => new DocmarkError('cancelled', 'The client aborted the upload.');

// Resizable ArrayBuffers (ES2024) are in Node 20; the project's TypeScript lib predates them.
interface ResizableArrayBuffer extends ArrayBuffer {
  readonly maxByteLength: number;
  resize(byteLength: number): void;
}
const ResizableArrayBuffer = ArrayBuffer as unknown as new (byteLength: number, options: { maxByteLength: number }) => ResizableArrayBuffer;

/** Bytes appended into one resizable ArrayBuffer that never grows past `capacity`. */
class ByteSink {
  private readonly buffer: ResizableArrayBuffer;
  length = 0;

  constructor(capacity: number) {
    this.buffer = new ResizableArrayBuffer(0, { maxByteLength: capacity });
  }

  /** False when the chunk does not fit. */
  write(chunk: Uint8Array): boolean {
    const end = this.length + chunk.length;
    if (end > this.buffer.maxByteLength) return false;
    if (end > this.buffer.byteLength) this.buffer.resize(Math.min(this.buffer.maxByteLength, Math.max(end, this.buffer.byteLength + GROW_STEP)));
    new Uint8Array(this.buffer, this.length, chunk.length).set(chunk);
    this.length = end;
    return true;
  }

  /** The bytes, as a view over the whole (trimmed) buffer, so the pool can move it to a worker. */
  bytes(): Uint8Array {
    this.buffer.resize(this.length);
    return new Uint8Array(this.buffer, 0, this.length);
  }
}

function readRaw(ctx: Context, sink: ByteSink, maxBytes: number): Promise<Uint8Array> {
  const req = ctx.req;
  return new Promise((resolve, reject) => {
    const finish = (err?: DocmarkError): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('close', onAbort);
      if (!err) {
        resolve(sink.bytes());
        return;
      }
      req.pause();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      if (!sink.write(chunk)) finish(tooLarge(maxBytes));
    };
    const onEnd = (): void => finish();
    const onAbort = (): void => {
      if (!req.complete) finish(aborted());
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    req.on('close', onAbort);
  });
}

function readMultipart(ctx: Context, maxBytes: number): Promise<Upload> {
  const req = ctx.req;
  return new Promise((resolve, reject) => {
    let bb: Busboy.Busboy;
    try {
      bb = Busboy({
        headers: req.headers,
        limits: { fileSize: maxBytes, files: 1, fields: 32, fieldSize: FIELD_MAX_BYTES, parts: 40 },
      });
    } catch (err) {
      reject(new DocmarkError('invalid_option', `Malformed multipart request: ${(err as Error).message}`));
      return;
    }
    const declared = declaredLength(ctx);
    const fields: RawOptions = Object.create(null);
    let sink: ByteSink | undefined;
    let filename: string | undefined;
    let settled = false;
    let fileDone: Promise<void> = Promise.resolve();
    const onAbort = (): void => {
      if (!req.complete) fail(aborted());
    };
    const fail = (err: DocmarkError): void => {
      if (settled) return;
      settled = true;
      req.off('close', onAbort);
      req.off('error', onAbort);
      req.unpipe(bb);
      req.pause();
      sink = undefined;
      reject(err);
    };
    bb.on('field', (name, value) => {
      fields[name] = value;
    });
    bb.on('file', (name, stream, info) => {
      if (name !== 'file' || sink) {
        stream.resume();
        return;
      }
      const file = new ByteSink(Math.min(maxBytes, declared ?? maxBytes));
      sink = file;
      filename = info.filename;
      fileDone = new Promise<void>((done) => {
        stream.on('data', (chunk: Buffer) => {
          if (!settled && !file.write(chunk)) fail(tooLarge(maxBytes));
        });
        stream.on('limit', () => {
          fail(tooLarge(maxBytes));
          done();
        });
        stream.on('end', () => done());
        stream.on('error', () => done());
      });
    });
    bb.on('error', (err: Error) => fail(new DocmarkError('invalid_option', `Malformed multipart request: ${err.message}`)));
    bb.on('close', () => {
      void fileDone.then(() => {
        if (settled) return;
        settled = true;
        req.off('close', onAbort);
        req.off('error', onAbort);
        if (!sink) {
          reject(new DocmarkError('no_file', 'No file in the form: send the PDF in the multipart field "file".'));
          return;
        }
        resolve({ bytes: sink.bytes(), filename, fields });
      });
    });
    req.on('close', onAbort);
    req.on('error', onAbort);
    req.pipe(bb);
  });
}

/**
 * After an answer given before the body was read whole (a refusal, an upload over the limit),
 * the client may still be sending. Closing the socket with unread data would make the kernel
 * reset the connection, and a client still busy writing could lose the answer; so the answer is
 * followed by a half-close and what still arrives is discarded, never kept, until the client
 * closes or the linger time is up (as nginx's lingering close does).
 */
const LINGER_MS = 10_000;

export function discardUnreadBody(ctx: Context): void {
  const req = ctx.req;
  if (req.complete) return;
  req.pause();
  // A `Connection: close` answer (ours, or one the client asked for) makes Node destroy the socket
  // as soon as the answer is written: the half-close below ends the connection instead.
  ctx.remove('Connection');
  ctx.res.shouldKeepAlive = true;
  ctx.res.once('finish', () => {
    const socket = req.socket;
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    socket.end();
    req.resume();
  });
}
