import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PDFDocumentProxy } from 'pdfjs-dist/types/src/display/api.js';
import { DocmarkError } from '../../errors.js';
import { InThreadPort } from './in-thread-port.js';
import { installCMapBound } from './cmap-bound.js';
import { type InflateBudget, installSyncInflate, openInflateBudget } from './inflate.js';
import { installFastLexer } from './lexer.js';
import { installTextContent } from './text-content.js';
import { installTextStateClone } from './text-state.js';
import { bindWorkerDocument, installWorkerHooks } from './worker-objects.js';

/**
 * Load step: bytes → an open pdfjs document. Knows every way a file can fail to open
 * and turns each into a client error with a code.
 */

type Pdfjs = typeof import('pdfjs-dist/legacy/build/pdf.mjs');
// pdfjs types its port as a DOM Worker; it uses only the part InThreadPort has.
type PdfjsPort = NonNullable<ConstructorParameters<Pdfjs['PDFWorker']>[0]>['port'];
interface PdfjsWorkerModule {
  WorkerMessageHandler: { initializeFromPort(port: InThreadPort): void };
}

const require = createRequire(import.meta.url);
const pdfjsRoot = path.dirname(require.resolve('pdfjs-dist/package.json'));
// pdfjs reads these with fs in Node; the trailing slash is required.
const CMAP_URL = path.join(pdfjsRoot, 'cmaps') + path.sep;
const STANDARD_FONTS_URL = path.join(pdfjsRoot, 'standard_fonts') + path.sep;

let pdfjsPromise: Promise<{ lib: Pdfjs; worker: PdfjsWorkerModule }> | undefined;

/** pdfjs is an ES module with a heavy first import: load it once, lazily. */
export async function pdfjs(): Promise<Pdfjs> {
  return (await importOnce()).lib;
}

function importOnce() {
  pdfjsPromise ??= importPdfjs();
  return pdfjsPromise;
}

/**
 * Built-ins the legacy build's core-js polyfills replace with JavaScript versions, for features
 * pdfjs does not use (an edge case of push at lengths near 2^32; JSON.rawJSON). Each is several
 * times slower than V8's own, for every caller in the thread: push was a third of a conversion's
 * time, JSON.stringify 8× slower (the JSON output, the CLI's files).
 */
const RESTORED: Array<[object, string]> = [
  [Array.prototype, 'push'],
  [JSON, 'stringify'],
  [JSON, 'parse'],
];

/**
 * Load pdfjs and its worker module (which pdfjs would otherwise import on the first document)
 * up front, then put back the built-ins its polyfills replaced. Streams are inflated
 * synchronously by native zlib (see inflate.ts); each document's worker side is found for the
 * engine (see worker-objects.ts); the character maps a PDF supplies are bounded (see cmap-bound.ts);
 * text states are copied without slowing the state copied (see text-state.ts), operators and
 * hex strings are read without building strings a byte at a time (see lexer.ts), and a page's text
 * is laid out without a matrix per glyph (see text-content.ts).
 */
async function importPdfjs(): Promise<{ lib: Pdfjs; worker: PdfjsWorkerModule }> {
  const natives = RESTORED.map(([owner, key]) => [owner, key, Object.getOwnPropertyDescriptor(owner, key)!] as const);
  const lib = (await import(pathToFileURL(path.join(pdfjsRoot, 'legacy/build/pdf.mjs')).href)) as Pdfjs;
  const workerFile = path.join(pdfjsRoot, 'legacy/build/pdf.worker.mjs');
  const worker = (await import(pathToFileURL(workerFile).href)) as PdfjsWorkerModule;
  for (const [owner, key, descriptor] of natives) {
    if ((owner as Record<string, unknown>)[key] !== descriptor.value) Object.defineProperty(owner, key, descriptor);
  }
  installSyncInflate();
  installWorkerHooks();
  installCMapBound();
  installTextStateClone();
  installFastLexer();
  installTextContent(workerFile, lib.OPS);
  return { lib, worker };
}

/**
 * pdfjs's worker for one document, in this thread, joined by an InThreadPort (see there:
 * it copies messages several times faster than pdfjs's own same-thread port).
 */
function openWorker(lib: Pdfjs, worker: PdfjsWorkerModule) {
  const port = new InThreadPort();
  worker.WorkerMessageHandler.initializeFromPort(port);
  return new lib.PDFWorker({ port: port as unknown as PdfjsPort, verbosity: 0 });
}

/** RGBA, the most a decoded image takes per pixel. */
const BYTES_PER_PIXEL = 4;

/** Bytes a PDF header may be preceded by (readers accept junk before `%PDF-`). */
const SIGNATURE_WINDOW = 1024;
const SIGNATURE = Buffer.from('%PDF-');

export function hasPdfSignature(bytes: Uint8Array): boolean {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, SIGNATURE_WINDOW));
  return head.indexOf(SIGNATURE) !== -1;
}

/** Check what a client sent before any PDF work: empty, or not a PDF at all. */
export function assertPdfBytes(bytes: Uint8Array): void {
  if (bytes.byteLength === 0) throw new DocmarkError('empty_file', 'The uploaded file is empty.');
  if (!hasPdfSignature(bytes)) {
    throw new DocmarkError('not_a_pdf', 'The file is not a PDF: no %PDF- signature in its first 1024 bytes.');
  }
}

export interface LoadOptions {
  password?: string;
  maxPages?: number;
  /** The caller hands the bytes over: pdfjs takes them without a copy (they are emptied). */
  handOver?: boolean;
  /** Most the document may decompress to open it, and then per page (see inflate.ts). */
  maxInflateBytes?: number;
}

export interface LoadedPdf {
  pdf: PDFDocumentProxy;
  /** Release the document and its worker; never throws. */
  close(): Promise<void>;
  /** What the document may still decompress; the engine starts a page's allowance with beginPage(). */
  inflateBudget: InflateBudget;
  pageCount: number;
  title?: string;
  author?: string;
}

/**
 * Open a PDF. The caller owns the result and must `close()` it (convert() does, in a
 * finally block): pdfjs keeps the whole file and its parsed objects until then.
 */
export async function loadPdf(bytes: Uint8Array, options: LoadOptions = {}): Promise<LoadedPdf> {
  assertPdfBytes(bytes);
  const { lib, worker: workerModule } = await importOnce();
  const budget = openInflateBudget(options.maxInflateBytes);
  const worker = openWorker(lib, workerModule);
  // pdfjs transfers (detaches) the buffer it is given: hand it a copy so callers keep theirs.
  const data = options.handOver ? bytes : new Uint8Array(bytes);
  const task = lib.getDocument({
    data,
    worker,
    password: options.password,
    isEvalSupported: false, // CVE-2024-4367: never compile font code from the PDF
    disableFontFace: true,
    useSystemFonts: false,
    cMapUrl: CMAP_URL,
    cMapPacked: true,
    standardFontDataUrl: STANDARD_FONTS_URL,
    verbosity: 0,
    stopAtErrors: false,
    // An image whose pixels (RGBA) would not fit in the budget is not decoded at all: image
    // codecs allocate by the size the image declares, before any byte is decompressed.
    maxImageSize: Math.floor(budget.limitBytes / BYTES_PER_PIXEL),
  });
  let pdf: PDFDocumentProxy;
  try {
    pdf = await task.promise;
  } catch (err) {
    bindWorkerDocument(task);
    await task.destroy().catch(() => undefined);
    worker.destroy();
    budget.close();
    // pdfjs reports a stream it could not decode in its own words: the budget knows why.
    throw budget.exceeded ? budget.error() : mapLoadError(err, options.password);
  }
  bindWorkerDocument(task);
  // A worker given to getDocument outlives the document unless its owner ends it.
  const close = async () => {
    await pdf.destroy().catch(() => undefined);
    worker.destroy();
    budget.close();
  };
  try {
    const pageCount = pdf.numPages;
    if (!Number.isInteger(pageCount) || pageCount < 1) {
      throw new DocmarkError('damaged_pdf', 'The PDF has no readable pages.');
    }
    if (options.maxPages !== undefined && pageCount > options.maxPages) {
      throw new DocmarkError('too_many_pages', `The PDF has ${pageCount} pages; this server converts at most ${options.maxPages}.`);
    }
    const meta = await pdf.getMetadata().catch(() => undefined);
    if (budget.exceeded) throw budget.error();
    const info = (meta?.info ?? {}) as { Title?: unknown; Author?: unknown };
    return {
      pdf,
      close,
      inflateBudget: budget,
      pageCount,
      title: typeof info.Title === 'string' && info.Title.trim() ? info.Title.trim() : undefined,
      author: typeof info.Author === 'string' && info.Author.trim() ? info.Author.trim() : undefined,
    };
  } catch (err) {
    await close();
    throw err instanceof DocmarkError ? err : mapLoadError(err, options.password);
  }
}

export function mapLoadError(err: unknown, password?: string): DocmarkError {
  if (err instanceof DocmarkError) return err;
  const e = err as { name?: string; message?: string; code?: number };
  const detail = e?.message ? ` (${e.message})` : '';
  switch (e?.name) {
    case 'PasswordException':
      // pdfjs: code 1 = password needed, 2 = incorrect password.
      if (password !== undefined && e.code === 2) {
        return new DocmarkError('incorrect_password', 'The password given for this encrypted PDF is incorrect.');
      }
      return new DocmarkError('encrypted_pdf', 'The PDF is encrypted and needs a password; send it in the "password" option.');
    case 'InvalidPDFException':
      return new DocmarkError('damaged_pdf', `The PDF is damaged or truncated and could not be read${detail}.`);
    case 'MissingPDFException':
    case 'UnexpectedResponseException':
    case 'FormatError':
      return new DocmarkError('damaged_pdf', `The PDF is damaged and could not be read${detail}.`);
    default:
      return new DocmarkError('unreadable_pdf', `The PDF could not be read${detail}.`);
  }
}
