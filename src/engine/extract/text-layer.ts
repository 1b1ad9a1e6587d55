import type { PDFPageProxy } from 'pdfjs-dist/types/src/display/api.js';
import type { TextItem, TextStyle } from 'pdfjs-dist/types/src/display/api.js';
import type { BBox, Page, TextRun } from '../types.js';
import { groupLines } from './lines.js';
import type { LinkAnnotation } from './links.js';

/**
 * Extract step, text layer: one pdfjs page → runs (with geometry, font and link) → lines.
 */

type Matrix = [number, number, number, number, number, number];

interface LinkArea {
  bbox: BBox;
  url: string;
}

/** `links`: the page's link annotations (see links.ts), read while the text is. */
export async function extractTextPage(
  page: PDFPageProxy,
  index: number,
  pageLinks: Promise<readonly LinkAnnotation[]> = Promise.resolve([]),
): Promise<Page> {
  const viewport = page.getViewport({ scale: 1 });
  const vt = viewport.transform as Matrix;
  const [content, annotations] = await Promise.all([page.getTextContent(), pageLinks]);
  const links = linkAreas(annotations, vt);
  const runs: TextRun[] = [];
  for (const item of content.items) {
    if (!('str' in item)) continue; // marked-content markers
    const run = toRun(item, content.styles[item.fontName], vt);
    if (!run) continue;
    if (links.length > 0) {
      const link = links.find((l) => overlapsMostly(run.bbox, l.bbox));
      if (link) run.link = link.url;
    }
    runs.push(run);
  }
  return {
    index,
    width: viewport.width,
    height: viewport.height,
    lines: groupLines(runs),
    rects: [],
    images: [],
    source: 'text',
  };
}

function toRun(item: TextItem, style: TextStyle | undefined, vt: Matrix): TextRun | undefined {
  // Spaces carry no glyphs worth keeping (and some span whole gaps): words are spaced by geometry.
  if (!/\S/.test(item.str)) return undefined;
  // The item's matrix in viewport space (vt × item.transform), only the parts used here.
  const t = item.transform as Matrix;
  const size = Math.hypot(vt[0] * t[2] + vt[2] * t[3], vt[1] * t[2] + vt[3] * t[3]);
  if (!(size > 0)) return undefined;
  const x0 = vt[0] * t[4] + vt[2] * t[5] + vt[4];
  const baseline = vt[1] * t[4] + vt[3] * t[5] + vt[5];
  const ascent = style?.ascent && style.ascent > 0 ? style.ascent : 0.8;
  const descent = style?.descent && style.descent < 0 ? -style.descent : 0.2;
  return {
    text: item.str,
    bbox: { x0, y0: baseline - size * ascent, x1: x0 + item.width, y1: baseline + size * descent },
    fontSize: size,
    fontName: item.fontName,
    bold: false,
    italic: false,
    monospace: style?.fontFamily === 'monospace',
    // Present on every run, so all runs share one shape (a property added later to some
    // runs gives them another, and the layout steps' optimised code deoptimises on it).
    link: undefined,
  };
}

/** Link rectangles in viewport space, where the runs are. */
function linkAreas(links: readonly LinkAnnotation[], vt: Matrix): LinkArea[] {
  return links.map(({ url, rect: [x0, y0, x1, y1] }) => {
    const p0 = apply(vt, x0, y0);
    const p1 = apply(vt, x1, y1);
    return { url, bbox: { x0: Math.min(p0[0], p1[0]), y0: Math.min(p0[1], p1[1]), x1: Math.max(p0[0], p1[0]), y1: Math.max(p0[1], p1[1]) } };
  });
}

function apply(m: Matrix, x: number, y: number): [number, number] {
  return [m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]];
}

function overlapsMostly(run: BBox, area: BBox): boolean {
  const w = Math.min(run.x1, area.x1) - Math.max(run.x0, area.x0);
  const h = Math.min(run.y1, area.y1) - Math.max(run.y0, area.y0);
  if (w <= 0 || h <= 0) return false;
  return w * h >= 0.5 * (run.x1 - run.x0) * (run.y1 - run.y0);
}
