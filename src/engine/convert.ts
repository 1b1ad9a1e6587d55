import { DocmarkError } from '../errors.js';
import { checkpoint } from './cancel.js';
import { layoutBlocks } from './layout/blocks.js';
import { mayHoldTable, readDrawings } from './extract/drawings.js';
import { FontNames } from './extract/font-names.js';
import { needsOcr } from './extract/needs-ocr.js';
import { type LinkAnnotation, readLinks } from './extract/links.js';
import { extractTextPage } from './extract/text-layer.js';
import { loadPdf, mapLoadError } from './load/pdf.js';
import { checkPageRange } from './options.js';
import { structureDocument } from './structure/index.js';
import { renderHtml } from './render/html.js';
import { renderJson } from './render/json.js';
import { renderMarkdown } from './render/markdown.js';
import type { ConvertOptions, ConvertResult, Document, DocumentInfo, ExtractedImage, Page } from './types.js';
import { DEFAULT_OPTIONS } from './types.js';

export interface ConvertHooks {
  /** A page is about to be read with OCR (0-based index): the server gives it more time. */
  onOcrPage?: (index: number) => void;
  /** The caller hands `bytes` over (they are emptied): the file is not copied once more. */
  handOver?: boolean;
  /** Progress: `done` of the `total` pages to convert are read (first called with done = 0). */
  onPage?: (done: number, total: number) => void;
}

/**
 * The whole pipeline for one PDF, one stage per folder:
 *   load (pdfjs) → extract (text runs, fonts, links, images; OCR where there is no text layer)
 *   → layout (lines into blocks: columns, tables, page furniture) → structure (headings, lists,
 *   joins) → render (Markdown, JSON, HTML).
 * Everything pdfjs allocates for the document is released before this returns,
 * whether it succeeds, fails or is cancelled (see cancel.ts: it stops between pages).
 */
export async function convertPdf(bytes: Uint8Array, opts: Partial<ConvertOptions> = {}, hooks: ConvertHooks = {}): Promise<ConvertResult> {
  const options: ConvertOptions = { ...DEFAULT_OPTIONS, ...opts };
  const started = performance.now();
  const doc = await openDocument(bytes, options, hooks);
  let pages: Page[];
  try {
    pages = await doc.extract(doc.selected);
  } finally {
    await doc.close();
  }
  return assembleDocument(pages, doc.info, options, started);
}

/**
 * The two halves of the pipeline, for a document whose pages are read by several workers:
 * extractPages reads some of the selected pages (each worker its own share, in any order) and
 * assembleDocument runs the document-level steps once over all of them. Pages and info are plain
 * data: they cross a thread boundary as they are. The result is the same as convertPdf's.
 */
export async function extractPages(
  bytes: Uint8Array,
  opts: Partial<ConvertOptions>,
  indexes: readonly number[],
  hooks: ConvertHooks = {},
): Promise<ExtractedPages> {
  const doc = await openDocument(bytes, { ...DEFAULT_OPTIONS, ...opts }, hooks);
  try {
    return { info: doc.info, selected: doc.selected, pages: await doc.extract(indexes) };
  } finally {
    await doc.close();
  }
}

export interface ExtractedPages {
  info: DocumentInfo;
  /** Every page the options select, in document order (the pages of all shares together). */
  selected: number[];
  pages: Page[];
}

/** An open PDF whose pages are read on request; the caller must close() it. */
export interface OpenDocument {
  info: DocumentInfo;
  /** The pages the options select (0-based, document order). */
  selected: number[];
  /**
   * Read these pages (a subset of `selected`), in document order. Fonts are named as a reader of
   * every selected page would name them (see font-names.ts), so shares read by different readers
   * fit together; pages before the last one asked for are read again for their fonts only.
   */
  extract(indexes: readonly number[]): Promise<Page[]>;
  /** A copy of the file, for other readers (the caller's bytes may have been handed over). */
  copyBytes(): Promise<Uint8Array>;
  close(): Promise<void>;
}

export async function openDocument(bytes: Uint8Array, options: ConvertOptions, hooks: ConvertHooks = {}): Promise<OpenDocument> {
  const loaded = await loadPdf(bytes, {
    password: options.password,
    maxPages: options.maxPages,
    maxInflateBytes: options.maxInflateBytes,
    handOver: hooks.handOver,
  });
  let selected: number[];
  try {
    selected = checkPageRange(options.pageRange, loaded.pageCount);
  } catch (err) {
    await loaded.close();
    throw err;
  }
  const fonts = new FontNames();
  // How far the fonts have been named: a page before it is never read for its fonts again.
  let named = 0;
  const extract = async (indexes: readonly number[]): Promise<Page[]> => {
    const wanted = new Set(indexes);
    const last = indexes.length > 0 ? indexes[indexes.length - 1] : -1;
    const inOrder = indexes.every((index, i) => i === 0 || index > indexes[i - 1]);
    if (!inOrder || (indexes.length > 0 && indexes[0] < (selected[named] ?? Number.POSITIVE_INFINITY))) {
      throw new Error('pages must be selected ones, not read before, asked for in document order');
    }
    // All the pages' links in one request, answered while the first pages are read.
    const links = readLinks(loaded.pdf, [...wanted]);
    // One page at a time: pdfjs's worker shares this thread, so overlapping requests gain
    // nothing, and pages in flight cost memory.
    const pages: Page[] = [];
    hooks.onPage?.(0, indexes.length);
    for (let i = named; i < selected.length && selected[i] <= last; i++, named++) {
      const index = selected[i];
      checkpoint();
      loaded.inflateBudget.beginPage();
      if (!wanted.has(index)) {
        await nameFonts(loaded.pdf, index, fonts);
        continue;
      }
      const page = await extractPage(loaded.pdf, index, pageLinks(links, index), options, hooks, fonts);
      // pdfjs carries on past a stream it could not decode: a page over the budget is lost whole.
      pages.push(loaded.inflateBudget.exceeded ? unreadablePage(index, loaded.inflateBudget.error()) : page);
      hooks.onPage?.(pages.length, indexes.length);
    }
    if (pages.length !== indexes.length) throw new Error('pages must be selected ones, not read before, asked for in document order');
    return pages;
  };
  return {
    info: { pageCount: loaded.pageCount, title: loaded.title, author: loaded.author },
    selected,
    extract,
    copyBytes: () => loaded.pdf.getData(),
    close: () => loaded.close(),
  };
}

/**
 * The document-level steps, once over all the pages read (by one reader or several): layout
 * across pages (running heads and feet, font styles, columns, tables that go on), structure
 * (joins across breaks, heading levels, lists) and rendering. `pages` in document order.
 */
export function assembleDocument(
  pages: Page[],
  info: DocumentInfo,
  opts: Partial<ConvertOptions> = {},
  startedAt = performance.now(),
): ConvertResult {
  const options: ConvertOptions = { ...DEFAULT_OPTIONS, ...opts };
  checkpoint();
  // One damaged page costs that page, not the document; a document with no readable page fails.
  const failed = pages.filter((p) => p.failure);
  if (failed.length === pages.length) throw new DocmarkError(failed[0].failure!.code, failed[0].failure!.message);
  const doc: Document = { info, pages, blocks: layoutBlocks(pages) };
  const processed = structureDocument(doc);
  const images = options.extractImages ? extractedImages(pages) : undefined;
  return {
    output: render(processed, options),
    ...(images ? { images } : {}),
    metadata: {
      pages: pages.length,
      page_count: info.pageCount,
      duration_ms: Math.round(performance.now() - startedAt),
      ocr_pages: pages.filter((p) => p.source === 'ocr').map((p) => p.index),
      low_confidence_pages: pages.filter((p) => p.lowConfidence).map((p) => p.index),
      failed_pages: failed.map((p) => ({ page: p.index, ...p.failure! })),
      ...(info.title ? { title: info.title } : {}),
      ...(info.author ? { author: info.author } : {}),
    },
  };
}

type PdfDocument = Awaited<ReturnType<typeof loadPdf>>['pdf'];

const pageLinks = (links: ReturnType<typeof readLinks>, index: number): Promise<readonly LinkAnnotation[]> =>
  links.then((byPage) => byPage.get(index) ?? []);

async function extractPage(
  pdf: PdfDocument,
  index: number,
  links: Promise<readonly LinkAnnotation[]>,
  { forceOcr, extractImages }: Pick<ConvertOptions, 'forceOcr' | 'extractImages'>,
  hooks: ConvertHooks,
  fonts: FontNames,
): Promise<Page> {
  let page: Awaited<ReturnType<PdfDocument['getPage']>>;
  try {
    page = await pdf.getPage(index + 1);
  } catch (err) {
    return unreadablePage(index, pageError(err, index));
  }
  try {
    const textPage = await extractTextPage(page, index, links);
    fonts.rename(textPage);
    if (extractImages) textPage.images = await (await import('./extract/images.js')).extractPageImages(page, index);
    // Scans and garbage text layers are read with OCR instead (every page when forced).
    if (!forceOcr && !(await needsOcr(page, textPage))) {
      // Rules and boxes cost about what the text does: read only where the text could hold a table.
      if (mayHoldTable(textPage)) textPage.rects = await readDrawings(page);
      return textPage;
    }
    // OCR and image extraction need native addons (canvas, onnxruntime): loaded on first use,
    // so text-only work (and every worker's start) does without them.
    const { extractOcrPage } = await import('./extract/ocr-page.js');
    ocrLoaded = true;
    hooks.onOcrPage?.(index);
    return await extractOcrPage(page, index);
  } catch (err) {
    // A cancelled conversion ends here, whatever error its page ran into.
    checkpoint();
    const { width, height } = page.getViewport({ scale: 1 });
    return { ...unreadablePage(index, pageError(err, index)), width, height };
  } finally {
    page.cleanup();
  }
}

/** A selected page that another reader converts: only its fonts are named here. */
async function nameFonts(pdf: PdfDocument, index: number, fonts: FontNames): Promise<void> {
  let page: Awaited<ReturnType<PdfDocument['getPage']>>;
  try {
    page = await pdf.getPage(index + 1);
  } catch {
    return; // unreadable for its reader too: it names no font there either
  }
  try {
    fonts.rename(await extractTextPage(page, index));
  } catch {
    checkpoint();
  } finally {
    page.cleanup();
  }
}

function unreadablePage(index: number, err: DocmarkError): Page {
  return { index, width: 0, height: 0, lines: [], rects: [], images: [], source: 'text', failure: { code: err.code, message: err.message } };
}

let ocrLoaded = false;

/** Release the OCR sessions (onnxruntime) if this thread ever loaded them: a retiring worker calls this. */
export async function releaseOcr(): Promise<void> {
  if (!ocrLoaded) return;
  const { closeOcr } = await import('../ocr/index.js');
  await closeOcr();
}

/** The pages' images for the result (base64 PNG); the Markdown refers to them by id. */
function extractedImages(pages: Page[]): ExtractedImage[] {
  return pages.flatMap((p) =>
    p.images
      .filter((img) => img.png)
      .map((img) => ({ id: img.id, page: p.index, data: Buffer.from(img.png!).toString('base64'), mime: 'image/png' as const })),
  );
}

/** Why a page could not be read; the message says which page (1-based, as a reader counts). */
function pageError(err: unknown, index: number): DocmarkError {
  if (err instanceof DocmarkError) return err;
  const mapped = mapLoadError(err);
  return new DocmarkError(
    mapped.code === 'unreadable_pdf' ? 'damaged_pdf' : mapped.code,
    `Page ${index + 1} could not be read: ${(err as Error)?.message ?? err}`,
  );
}

export function render(doc: Document, options: ConvertOptions): string {
  switch (options.outputFormat) {
    case 'json':
      return renderJson(doc);
    case 'html':
      return renderHtml(doc);
    default:
      return renderMarkdown(doc, { paginate: options.paginateOutput });
  }
}
