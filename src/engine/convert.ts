import { DocmarkError } from '../errors.js';
import { checkpoint } from './cancel.js';
import { layoutBlocks } from './layout/blocks.js';
import { needsOcr } from './extract/needs-ocr.js';
import { type LinkAnnotation, readLinks } from './extract/links.js';
import { extractTextPage } from './extract/text-layer.js';
import { loadPdf, mapLoadError } from './load/pdf.js';
import { checkPageRange } from './options.js';
import { structureDocument } from './structure/index.js';
import { renderHtml } from './render/html.js';
import { renderJson } from './render/json.js';
import { renderMarkdown } from './render/markdown.js';
import type { ConvertOptions, ConvertResult, Document, ExtractedImage, Page } from './types.js';
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
  const loaded = await loadPdf(bytes, {
    password: options.password,
    maxPages: options.maxPages,
    maxInflateBytes: options.maxInflateBytes,
    handOver: hooks.handOver,
  });
  try {
    const indexes = checkPageRange(options.pageRange, loaded.pageCount);
    // All the pages' links in one request, answered while the first pages are read.
    const links = readLinks(loaded.pdf, indexes);
    // One page at a time: pdfjs's worker shares this thread, so overlapping requests gain
    // nothing, and pages in flight cost memory.
    const pages: Page[] = [];
    hooks.onPage?.(0, indexes.length);
    for (const index of indexes) {
      checkpoint();
      loaded.inflateBudget.beginPage();
      const page = await extractPage(loaded.pdf, index, pageLinks(links, index), options, hooks);
      // pdfjs carries on past a stream it could not decode: a page over the budget is lost whole.
      pages.push(loaded.inflateBudget.exceeded ? unreadablePage(index, loaded.inflateBudget.error()) : page);
      hooks.onPage?.(pages.length, indexes.length);
    }
    checkpoint();
    // One damaged page costs that page, not the document; a document with no readable page fails.
    const failed = pages.filter((p) => p.failure);
    if (failed.length === pages.length) throw new DocmarkError(failed[0].failure!.code, failed[0].failure!.message);
    const doc: Document = {
      info: { pageCount: loaded.pageCount, title: loaded.title, author: loaded.author },
      pages,
      blocks: layoutBlocks(pages),
    };
    const processed = structureDocument(doc);
    const images = options.extractImages ? extractedImages(pages) : undefined;
    return {
      output: render(processed, options),
      ...(images ? { images } : {}),
      metadata: {
        pages: pages.length,
        page_count: loaded.pageCount,
        duration_ms: Math.round(performance.now() - started),
        ocr_pages: pages.filter((p) => p.source === 'ocr').map((p) => p.index),
        low_confidence_pages: pages.filter((p) => p.lowConfidence).map((p) => p.index),
        failed_pages: failed.map((p) => ({ page: p.index, ...p.failure! })),
        ...(loaded.title ? { title: loaded.title } : {}),
        ...(loaded.author ? { author: loaded.author } : {}),
      },
    };
  } finally {
    await loaded.close();
  }
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
): Promise<Page> {
  let page: Awaited<ReturnType<PdfDocument['getPage']>>;
  try {
    page = await pdf.getPage(index + 1);
  } catch (err) {
    return unreadablePage(index, pageError(err, index));
  }
  try {
    const textPage = await extractTextPage(page, index, links);
    if (extractImages) textPage.images = await (await import('./extract/images.js')).extractPageImages(page, index);
    // Scans and garbage text layers are read with OCR instead (every page when forced).
    if (!forceOcr && !(await needsOcr(page, textPage))) return textPage;
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
