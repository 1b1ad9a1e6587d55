import Busboy from 'busboy';
import type { Context } from 'koa';
import { DocmarkError } from '../errors.js';
import type { RawOptions } from '../engine/options.js';

/**
 * Read the uploaded PDF into memory (no temporary files) with a hard size limit:
 * either a multipart form with a `file` field or the raw body. Reading stops as soon
 * as the limit is crossed; the connection is then closed rather than drained.
 */
export interface Upload {
  bytes: Buffer;
  filename?: string;
  /** Option values sent as form fields. */
  fields: RawOptions;
}

export async function readUpload(ctx: Context, maxBytes: number): Promise<Upload> {
  const type = (ctx.get('content-type') || '').toLowerCase();
  const declared = Number(ctx.get('content-length'));
  // A declared length over the limit is refused before reading anything.
  const overhead = type.startsWith('multipart/') ? 64 * 1024 : 0;
  if (Number.isFinite(declared) && declared > maxBytes + overhead) {
    stopReading(ctx);
    throw tooLarge(maxBytes);
  }
  if (type.startsWith('multipart/form-data')) return readMultipart(ctx, maxBytes);
  if (!ctx.req.readable || (declared === 0 && !ctx.get('transfer-encoding'))) {
    throw new DocmarkError('no_file', 'No PDF was sent: post it as multipart field "file" or as the raw body (Content-Type: application/pdf).');
  }
  const bytes = await readRaw(ctx, maxBytes);
  if (bytes.length === 0) {
    throw new DocmarkError('no_file', 'No PDF was sent: post it as multipart field "file" or as the raw body (Content-Type: application/pdf).');
  }
  return { bytes, fields: {} };
}

function tooLarge(maxBytes: number): DocmarkError {
  return new DocmarkError('payload_too_large', `The upload is larger than the limit of ${Math.round(maxBytes / 1024 / 1024)} MB.`);
}

function readRaw(ctx: Context, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const req = ctx.req;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        chunks.length = 0;
        stopReading(ctx);
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    const onAborted = (): void => onError(new Error('request aborted'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

function readMultipart(ctx: Context, maxBytes: number): Promise<Upload> {
  return new Promise((resolve, reject) => {
    let bb: Busboy.Busboy;
    try {
      bb = Busboy({
        headers: ctx.req.headers,
        limits: { fileSize: maxBytes, files: 1, fields: 32, fieldSize: 64 * 1024, parts: 40 },
      });
    } catch (err) {
      reject(new DocmarkError('invalid_option', `Malformed multipart request: ${(err as Error).message}`));
      return;
    }
    const fields: RawOptions = Object.create(null);
    let file: Buffer | undefined;
    let filename: string | undefined;
    let fileSeen = false;
    let settled = false;
    let pending: Promise<void> = Promise.resolve();
    const fail = (err: DocmarkError): void => {
      if (settled) return;
      settled = true;
      ctx.req.unpipe(bb);
      stopReading(ctx);
      reject(err);
    };
    bb.on('field', (name, value) => {
      fields[name] = value;
    });
    bb.on('file', (name, stream, info) => {
      if (name !== 'file' || fileSeen) {
        stream.resume();
        return;
      }
      fileSeen = true;
      filename = info.filename;
      const chunks: Buffer[] = [];
      let size = 0;
      pending = new Promise<void>((done) => {
        stream.on('data', (chunk: Buffer) => {
          size += chunk.length;
          chunks.push(chunk);
        });
        stream.on('limit', () => {
          chunks.length = 0;
          fail(tooLarge(maxBytes));
          done();
        });
        stream.on('end', () => {
          if (!settled) file = Buffer.concat(chunks, size);
          done();
        });
        stream.on('error', () => done());
      });
    });
    bb.on('error', (err: Error) => fail(new DocmarkError('invalid_option', `Malformed multipart request: ${err.message}`)));
    bb.on('close', () => {
      void pending.then(() => {
        if (settled) return;
        settled = true;
        if (!fileSeen) {
          reject(new DocmarkError('no_file', 'No file in the form: send the PDF in the multipart field "file".'));
          return;
        }
        resolve({ bytes: file ?? Buffer.alloc(0), filename, fields });
      });
    });
    ctx.req.on('aborted', () => fail(new DocmarkError('invalid_option', 'The request was aborted by the client.')));
    ctx.req.pipe(bb);
  });
}

/**
 * Stop buffering an oversized body. Closing the socket at once would make the kernel
 * reset the connection and the client could lose our 413, so after answering we
 * discard what is still arriving for a short linger time, then close (as nginx does).
 */
const LINGER_MS = 2000;

function stopReading(ctx: Context): void {
  ctx.req.pause();
  ctx.res.once('finish', () => {
    const socket = ctx.req.socket;
    ctx.req.resume();
    const timer = setTimeout(() => socket?.destroy(), LINGER_MS);
    timer.unref();
    socket?.once('close', () => clearTimeout(timer));
  });
}
