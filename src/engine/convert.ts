import { DocmarkError } from '../errors.js';
import { buildBlocks } from './build/blocks.js';
import { buildTextPage } from './build/text-layer.js';
import { loadPdf, mapLoadError } from './load.js';
import { checkPageRange } from './options.js';
import { processDocument } from './process/index.js';
import { renderHtml } from './render/html.js';
import { renderJson } from './render/json.js';
import { renderMarkdown } from './render/markdown.js';
import type { ConvertOptions, ConvertResult, Document, Page } from './types.js';
import { DEFAULT_OPTIONS } from './types.js';

/**
 * The whole pipeline for one PDF: load → build → process → render.
 * Everything pdfjs allocates for the document is released before this returns,
 * whether it succeeds or throws.
 */
export async function convertPdf(bytes: Uint8Array, opts: Partial<ConvertOptions> = {}): Promise<ConvertResult> {
  const options: ConvertOptions = { ...DEFAULT_OPTIONS, ...opts };
  const started = performance.now();
  const loaded = await loadPdf(bytes, { password: options.password, maxPages: options.maxPages });
  try {
    const indexes = checkPageRange(options.pageRange, loaded.pageCount);
    const pages: Page[] = [];
    for (const index of indexes) pages.push(await buildPage(loaded.pdf, index));
    const doc: Document = {
      info: { pageCount: loaded.pageCount, title: loaded.title, author: loaded.author },
      pages,
      blocks: buildBlocks(pages),
    };
    const processed = processDocument(doc);
    return {
      output: render(processed, options),
      metadata: {
        pages: pages.length,
        page_count: loaded.pageCount,
        duration_ms: Math.round(performance.now() - started),
        ocr_pages: pages.filter((p) => p.source === 'ocr').map((p) => p.index),
        ...(loaded.title ? { title: loaded.title } : {}),
        ...(loaded.author ? { author: loaded.author } : {}),
      },
    };
  } finally {
    await loaded.pdf.destroy().catch(() => undefined);
  }
}

type PdfDocument = Awaited<ReturnType<typeof loadPdf>>['pdf'];

async function buildPage(pdf: PdfDocument, index: number): Promise<Page> {
  let page;
  try {
    page = await pdf.getPage(index + 1);
  } catch (err) {
    throw pageError(err, index);
  }
  try {
    return await buildTextPage(page, index);
  } catch (err) {
    throw pageError(err, index);
  } finally {
    page.cleanup();
  }
}

function pageError(err: unknown, index: number): DocmarkError {
  if (err instanceof DocmarkError) return err;
  const mapped = mapLoadError(err);
  return new DocmarkError(mapped.code === 'unreadable_pdf' ? 'damaged_pdf' : mapped.code, `Page ${index} could not be read: ${(err as Error)?.message ?? err}`);
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
