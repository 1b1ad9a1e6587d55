import type { PDFDocumentProxy } from 'pdfjs-dist/types/src/display/api.js';
import { isCleanText, safeLinkTarget } from '../link-policy.js';
import { pdfjs } from '../load/pdf.js';

// Extract step, links: the document's link annotations, read in one request to pdfjs's worker
// for all pages (only annotations of type Link are parsed, and no text is extracted under
// them, which pdfjs's per-page 'display' read does). Rectangles stay in PDF space; the text
// layer maps them onto its runs. Only targets the link policy allows are kept (see
// link-policy.ts): pdfjs leaves the ones it distrusts in `unsafeUrl`, and those are checked
// like any other.

export interface LinkAnnotation {
  /** An allowed target, spelled safely for every output (safeLinkTarget). */
  url: string;
  /** [x0, y0, x1, y1] in PDF user space. */
  rect: number[];
}

interface LinkData {
  pageIndex?: number;
  annotationFlags?: number;
  url?: string;
  unsafeUrl?: string;
  rect?: number[];
}

// PDF annotation flags (PDF 32000-1, 12.5.3).
const HIDDEN = 2;
const PRINT = 4;
const NO_VIEW = 32;

/** Links by 0-based page index, for the pages listed (others are not parsed). Never rejects. */
export async function readLinks(pdf: PDFDocumentProxy, pages: number[]): Promise<Map<number, LinkAnnotation[]>> {
  const byPage = new Map<number, LinkAnnotation[]>();
  const wanted = new Set(pages);
  const skip = new Set<number>();
  for (let i = 0; i < pdf.numPages; i++) if (!wanted.has(i)) skip.add(i);
  let found: LinkData[];
  try {
    const { AnnotationType } = await pdfjs();
    found = ((await pdf.getAnnotationsByType(new Set([AnnotationType.LINK]), skip)) ?? []) as LinkData[];
  } catch {
    // Links are an extra: a document whose annotations cannot be read still converts (and this
    // promise, which pages wait on, never rejects).
    found = [];
  }
  for (const a of found) {
    // pdfjs's `url` is its normalised form of the PDF's own `unsafeUrl`, which is checked first.
    const url = a.unsafeUrl === undefined || isCleanText(a.unsafeUrl) ? safeLinkTarget(a.url ?? a.unsafeUrl) : undefined;
    if (!url || !Array.isArray(a.rect) || a.rect.length !== 4 || a.pageIndex === undefined || !shown(a.annotationFlags ?? 0)) continue;
    const list = byPage.get(a.pageIndex) ?? [];
    list.push({ url, rect: a.rect });
    byPage.set(a.pageIndex, list);
  }
  return byPage;
}

/** On screen or on paper: not hidden, and either viewable or printable. */
function shown(flags: number): boolean {
  return (flags & HIDDEN) === 0 && ((flags & NO_VIEW) === 0 || (flags & PRINT) !== 0);
}
