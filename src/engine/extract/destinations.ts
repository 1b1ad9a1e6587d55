import type { PDFDocumentProxy } from 'pdfjs-dist/types/src/display/api.js';
import type { Line, Page } from '../types.js';

// Extract step, links within the document: a link annotation that goes to a place in the
// document rather than to an address. A named destination is the anchor its producer gave the
// place (LaTeX's hyperref names it after the section: "#upgrading"); an explicit one is a page
// and a height, which becomes the anchor of the heading found there once the pages are read.

/** A place on a page, until its heading is known: "#@<page>:<y from the page's bottom>". */
const PLACE = /^#@(\d+):(-?\d+)$/;

/** The link target for a destination: "#name", "#@page:y", or undefined when there is none. */
export async function internalTarget(pdf: PDFDocumentProxy, dest: unknown): Promise<string | undefined> {
  if (typeof dest === 'string') return dest ? `#${dest}` : undefined;
  if (!Array.isArray(dest) || dest.length < 2) return undefined;
  const [ref, kind, ...args] = dest as [unknown, { name?: string } | undefined, ...unknown[]];
  const page = typeof ref === 'number' ? ref : await pageIndexOf(pdf, ref);
  if (page === undefined) return undefined;
  // XYZ left top zoom; FitH / FitBH top; the others show the page from its top.
  const name = kind?.name;
  const top = name === 'XYZ' ? args[1] : name === 'FitH' || name === 'FitBH' ? args[0] : undefined;
  const y = typeof top === 'number' && Number.isFinite(top) ? Math.round(top) : 1e6;
  return `#@${page}:${y}`;
}

type PageRef = Parameters<PDFDocumentProxy['getPageIndex']>[0];
/** Page indexes by reference, per document: a table of contents points at a few pages many times. */
const pageIndexes = new WeakMap<PDFDocumentProxy, Map<string, Promise<number | undefined>>>();

function pageIndexOf(pdf: PDFDocumentProxy, ref: unknown): Promise<number | undefined> {
  const r = ref as { num?: unknown; gen?: unknown } | null;
  if (!r || typeof r.num !== 'number' || typeof r.gen !== 'number') return Promise.resolve(undefined);
  let known = pageIndexes.get(pdf);
  if (!known) pageIndexes.set(pdf, (known = new Map()));
  const key = `${r.num}R${r.gen}`;
  let index = known.get(key);
  if (!index) {
    index = pdf.getPageIndex(ref as PageRef).catch(() => undefined);
    known.set(key, index);
  }
  return index;
}

/**
 * Links to places (see internalTarget) become links to the anchor of the line found there: the
 * first line at or under the place on its page, spelled as the usual Markdown anchor of a
 * heading. A place on a page not converted loses its link.
 */
export function resolvePlaces(pages: Page[]): void {
  const byIndex = new Map(pages.map((p) => [p.index, p]));
  const cache = new Map<string, string | undefined>();
  for (const page of pages)
    for (const line of page.lines)
      for (const run of line.runs) {
        const m = run.link ? PLACE.exec(run.link) : null;
        if (!m) continue;
        if (!cache.has(run.link!)) cache.set(run.link!, anchorAt(byIndex.get(Number(m[1])), Number(m[2])));
        run.link = cache.get(run.link!);
      }
}

function anchorAt(page: Page | undefined, y: number): string | undefined {
  if (!page) return undefined;
  // PDF space measures up from the page's bottom; lines measure down from its top.
  const top = Math.max(0, page.height - y);
  let found: Line | undefined;
  for (const line of page.lines) if (line.bbox.y1 >= top + 1 && (!found || line.bbox.y0 < found.bbox.y0)) found = line;
  const slug = found ? anchorOf(found.text) : '';
  return slug ? `#${slug}` : undefined;
}

/** A heading's anchor as Markdown renderers make it: lower case, punctuation dropped, spaces as hyphens. */
export function anchorOf(text: string): string {
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}
