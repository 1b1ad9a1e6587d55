// The upload of `POST /jobs`, streamed to the job store as it arrives: unlike /convert, whose PDF
// goes to a worker in memory, a job's PDF goes to disk, so the request holds one chunk at a time
// whatever the file's size. Raw body or multipart (`file` part plus option fields, in any order).
import Busboy from 'busboy';
import type { Context } from 'koa';
import { DocmarkError } from '../errors.js';
import { assertPdfBytes } from '../engine/load/pdf.js';
import type { RawOptions } from '../engine/options.js';

export interface StreamedUpload {
  /** The file's bytes, checked to start like a PDF; ends with an error if the client aborts. */
  file: AsyncIterable<Uint8Array>;
  /** Form fields and the file name, known once the whole body is read. */
  rest(): Promise<{ filename: string | null; fields: RawOptions }>;
  /** Stop parsing (the upload was refused half-way); what is left of the body is discarded. */
  stop(): void;
}

/** Longest option value accepted in a form field (as /convert). */
const FIELD_MAX_BYTES = 16 * 1024;
/** The PDF signature must be within this many leading bytes (as the engine requires). */
const SIGNATURE_WINDOW = 1024;

const aborted = (): DocmarkError => new DocmarkError('cancelled', 'The client aborted the upload.');

export function streamUpload(ctx: Context, maxBytes: number): StreamedUpload {
  const isMultipart = (ctx.get('content-type') || '').toLowerCase().startsWith('multipart/form-data');
  if (isMultipart) return streamMultipart(ctx, maxBytes);
  return { file: checkedPdf(rawBody(ctx)), rest: async () => ({ filename: null, fields: {} }), stop: () => undefined };
}

async function* rawBody(ctx: Context): AsyncIterable<Uint8Array> {
  const req = ctx.req;
  try {
    for await (const chunk of req) yield chunk as Buffer;
  } catch {
    throw aborted();
  }
  if (!req.complete) throw aborted();
}

/** Passes the bytes through once the first ones are seen to be a PDF's (415 otherwise, 400 if empty). */
async function* checkedPdf(source: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const head: Uint8Array[] = [];
  let headBytes = 0;
  let checked = false;
  for await (const chunk of source) {
    if (checked) {
      yield chunk;
      continue;
    }
    head.push(chunk);
    headBytes += chunk.byteLength;
    if (headBytes < SIGNATURE_WINDOW) continue;
    assertPdfBytes(Buffer.concat(head));
    checked = true;
    yield* head.splice(0);
  }
  if (!checked) {
    assertPdfBytes(Buffer.concat(head));
    yield* head;
  }
}

function streamMultipart(ctx: Context, maxBytes: number): StreamedUpload {
  const req = ctx.req;
  let bb: Busboy.Busboy;
  try {
    bb = Busboy({ headers: req.headers, limits: { fileSize: maxBytes + 1, files: 1, fields: 32, fieldSize: FIELD_MAX_BYTES, parts: 40 } });
  } catch (err) {
    throw new DocmarkError('invalid_option', `Malformed multipart request: ${(err as Error).message}`);
  }
  const fields: RawOptions = Object.create(null);
  let filename: string | null = null;
  let failure: DocmarkError | undefined;
  const fail = (err: DocmarkError): void => {
    failure ??= err;
  };
  // The file part arrives (a stream), or the body ends without one.
  const filePart = new Promise<NodeJS.ReadableStream | undefined>((resolve) => {
    bb.on('file', (name, stream, info) => {
      if (name !== 'file' || filename !== null) {
        stream.resume();
        return;
      }
      filename = info.filename ?? '';
      resolve(stream);
    });
    bb.on('close', () => resolve(undefined));
    bb.on('error', () => resolve(undefined));
  });
  const closed = new Promise<void>((resolve) => {
    bb.on('field', (name, value) => {
      fields[name] = value;
    });
    bb.on('error', (err: Error) => {
      fail(new DocmarkError('invalid_option', `Malformed multipart request: ${err.message}`));
      resolve();
    });
    bb.on('close', () => resolve());
    const onAbort = (): void => {
      if (req.complete) return;
      fail(aborted());
      resolve();
    };
    req.on('close', onAbort);
    req.on('error', onAbort);
  });
  req.pipe(bb);

  async function* file(): AsyncIterable<Uint8Array> {
    const stream = await filePart;
    if (failure) throw failure;
    if (!stream) throw new DocmarkError('no_file', 'No file in the form: send the PDF in the multipart field "file".');
    try {
      for await (const chunk of stream) {
        if (failure) throw failure;
        yield chunk as Buffer;
      }
    } catch (err) {
      throw failure ?? (err instanceof DocmarkError ? err : aborted());
    }
    // busboy truncates at fileSize; the store's own limit then refuses the extra byte.
    if (failure) throw failure;
  }

  return {
    file: checkedPdf(file()),
    async rest() {
      await closed;
      if (failure) throw failure;
      return { filename: filename || null, fields };
    },
    stop() {
      req.unpipe(bb);
    },
  };
}
