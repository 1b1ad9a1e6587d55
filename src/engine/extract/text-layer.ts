import type { PDFPageProxy } from 'pdfjs-dist/types/src/display/api.js';
import type { TextItem, TextStyle } from 'pdfjs-dist/types/src/display/api.js';
import type { BBox, Page, TextRun } from '../types.js';
import { modelWidth } from './fonts.js';
import { groupLines } from './lines.js';
import type { LinkAnnotation } from './links.js';

// Extract step, text layer: one pdfjs page → runs (with geometry, font and link) → lines.
// pdfjs merges text drawn in several fonts into one item when it follows on (the item names the
// first font), so a list bullet drawn from a symbol font can carry the words after it: those are
// split off. Ligature characters are spelled out, text not set left to right is dropped (margin
// stamps, rotated labels), and a run that a link covers only in part is split at the link's edges.

type Matrix = [number, number, number, number, number, number];

interface LinkArea {
  bbox: BBox;
  url: string;
}

/** Text whose baseline is turned further than this from horizontal (as tan of the angle) is not read. */
const MAX_SLANT = 0.1;
/** A link area must cover this share of a run's height to be on its line. */
const LINK_LINE_OVERLAP = 0.5;

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
    const bullet = SPLIT_BULLET.exec(run.text);
    if (!bullet) addRun(runs, run, links);
    else for (const part of splitBullet(run, bullet)) addRun(runs, part, links);
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

function addRun(runs: TextRun[], run: TextRun, links: LinkArea[]): void {
  if (links.length > 0) runs.push(...withLinks(run, links));
  else runs.push(run);
}

function toRun(item: TextItem, style: TextStyle | undefined, vt: Matrix): TextRun | undefined {
  // Spaces carry no glyphs worth keeping (and some span whole gaps): words are spaced by geometry.
  if (!/\S/.test(item.str)) return undefined;
  // The item's matrix in viewport space (vt × item.transform), only the parts used here.
  const t = item.transform as Matrix;
  const size = hypot(vt[0] * t[2] + vt[2] * t[3], vt[1] * t[2] + vt[3] * t[3]);
  if (!(size > 0)) return undefined;
  const dx = vt[0] * t[0] + vt[2] * t[1];
  const dy = vt[1] * t[0] + vt[3] * t[1];
  if (!(dx > 0) || Math.abs(dy) > dx * MAX_SLANT) return undefined;
  const x0 = vt[0] * t[4] + vt[2] * t[5] + vt[4];
  const baseline = vt[1] * t[4] + vt[3] * t[5] + vt[5];
  const ascent = style?.ascent && style.ascent > 0 ? style.ascent : 0.8;
  const descent = style?.descent && style.descent < 0 ? -style.descent : 0.2;
  return {
    text: spellLigatures(item.str),
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

/**
 * Math.hypot of two numbers, without its call when one is zero (text that is not turned): V8's
 * hypot(0, x) is |x| exactly, and its call allocates.
 */
function hypot(a: number, b: number): number {
  if (a === 0) return Math.abs(b);
  if (b === 0) return Math.abs(a);
  return Math.hypot(a, b);
}

const LIGATURES: Record<string, string> = { ﬀ: 'ff', ﬁ: 'fi', ﬂ: 'fl', ﬃ: 'ffi', ﬄ: 'ffl', ﬅ: 'st', ﬆ: 'st' };
const LIGATURE = /[\ufb00-\ufb06]/;
const LIGATURES_ALL = /[\ufb00-\ufb06]/g;

/** Ligature glyphs as the letters they stand for (pdfjs spells most out; fonts without a Unicode map do not). */
export function spellLigatures(text: string): string {
  return LIGATURE.test(text) ? text.replace(LIGATURES_ALL, (c) => LIGATURES[c] ?? c) : text;
}

/** Bullets that pdfjs may merge with the words drawn after them in another font. */
const SPLIT_BULLET = /^(\s*[•◦▪▫■□●○‣⁃∙⦁➢►▶❖\uf0b7\uf0a7\uf076\uf0d8\uf0fc\uf0a8\uf06e\uf0a1])(\s+)(?=\S)/;

/**
 * A bullet and the words pdfjs merged into its item: the words' font is unknown (the item names
 * the bullet's), so they are taken as plain text (fontName '').
 */
function splitBullet(run: TextRun, m: RegExpExecArray): TextRun[] {
  const [x0, x1] = [run.bbox.x0, run.bbox.x1];
  const cut = m[1].length + m[2].length;
  const at = x0 + (x1 - x0) * (modelWidth(run.text.slice(0, cut)) / Math.max(modelWidth(run.text), 1e-6));
  const bulletEnd = x0 + (x1 - x0) * (modelWidth(m[1]) / Math.max(modelWidth(run.text), 1e-6));
  return [
    { ...run, text: m[1].trim(), bbox: { ...run.bbox, x1: bulletEnd } },
    { ...run, text: run.text.slice(cut), bbox: { ...run.bbox, x0: at }, fontName: '', monospace: false },
  ];
}

/**
 * The run with its link: a run mostly under one link area takes its target; a run a link covers
 * only in part (links in the middle of a line of running text) is cut at the area's edges, at
 * the nearest word boundaries, and each part takes the link over it.
 */
function withLinks(run: TextRun, links: LinkArea[]): TextRun[] {
  const over = links.filter((l) => onLine(run.bbox, l.bbox));
  if (over.length === 0) return [run];
  const whole = over.find((l) => overlapsMostly(run.bbox, l.bbox));
  if (whole) {
    run.link = whole.url;
    return [run];
  }
  // Character positions across the run, from the generic letter widths scaled to its width.
  const text = run.text;
  const total = modelWidth(text);
  if (total <= 0 || text.length < 2) return [run];
  const xs: number[] = [run.bbox.x0];
  let acc = 0;
  for (let i = 0; i < text.length; i++) {
    acc += modelWidth(text[i]);
    xs.push(run.bbox.x0 + ((run.bbox.x1 - run.bbox.x0) * acc) / total);
  }
  // Each area's edges move to the nearest word boundary (areas are drawn a little loose and the
  // positions above are estimates).
  const boundaries: number[] = [0, text.length];
  for (let k = 1; k < text.length; k++) if (text[k - 1] === ' ' || text[k] === ' ') boundaries.push(k);
  const snap = (x: number) => boundaries.reduce((best, k) => (Math.abs(xs[k] - x) < Math.abs(xs[best] - x) ? k : best), 0);
  const cuts = over
    .map((l) => ({ from: snap(l.bbox.x0), to: snap(l.bbox.x1), url: l.url }))
    .filter((c) => c.to > c.from)
    .sort((a, b) => a.from - b.from);
  const parts: TextRun[] = [];
  const push = (from: number, to: number, link: string | undefined) => {
    while (from < to && text[from] === ' ') from++;
    while (to > from && text[to - 1] === ' ') to--;
    if (to > from) parts.push({ ...run, text: text.slice(from, to), bbox: { ...run.bbox, x0: xs[from], x1: xs[to] }, link });
  };
  let at = 0;
  for (const c of cuts) {
    if (c.from < at) continue;
    push(at, c.from, undefined);
    push(c.from, c.to, c.url);
    at = c.to;
  }
  push(at, text.length, undefined);
  return parts.length ? parts : [run];
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

/** Does the area cover the run's line (most of its height) and some of its width? */
function onLine(run: BBox, area: BBox): boolean {
  const h = Math.min(run.y1, area.y1) - Math.max(run.y0, area.y0);
  const w = Math.min(run.x1, area.x1) - Math.max(run.x0, area.x0);
  return w > 0 && h >= LINK_LINE_OVERLAP * (run.y1 - run.y0);
}

function overlapsMostly(run: BBox, area: BBox): boolean {
  const w = Math.min(run.x1, area.x1) - Math.max(run.x0, area.x0);
  const h = Math.min(run.y1, area.y1) - Math.max(run.y0, area.y0);
  if (w <= 0 || h <= 0) return false;
  return w * h >= 0.5 * (run.x1 - run.x0) * (run.y1 - run.y0);
}
