import { createCanvas } from '@napi-rs/canvas';
import { DocmarkError } from '../../errors.js';
import type { PDFPageProxy } from 'pdfjs-dist/types/src/display/api.js';
import { ocrImage, rgbaToGray, type OcrLine } from '../../ocr/index.js';
import { uninterruptible } from '../cancel.js';
import type { Line, Page, TextRun } from '../types.js';

/**
 * Extract step, OCR: render a pdfjs page to pixels, read it with the OCR models, and return
 * the same Page a text layer gives (lines of runs in PDF points), so the layout steps
 * after this one treat scans and born-digital pages alike.
 */

/** 200 dpi: enough for 8 pt text, and what the models read best at for body text. */
const RENDER_DPI = 200;
/** Never rasterise more than this many pixels (an A4 page at 200 dpi is 3.9 M). */
const MAX_PIXELS = 6_000_000;
const MAX_SIDE = 4096;
/** OCR box height (after unclip) → font size: body text of the scanned corpus (10.5 pt) gives ~11.7 pt boxes. */
const BOX_HEIGHT_TO_FONT_SIZE = 0.9;

export async function extractOcrPage(page: PDFPageProxy, index: number): Promise<Page> {
  const base = page.getViewport({ scale: 1 });
  const scale = renderScale(base.width, base.height);
  const viewport = page.getViewport({ scale });
  const width = Math.max(1, Math.floor(viewport.width));
  const height = Math.max(1, Math.floor(viewport.height));
  const canvas = createCanvas(width, height);
  const context = canvas.getContext('2d');
  context.fillStyle = '#ffffff';
  context.fillRect(0, 0, width, height);
  // pdfjs is typed against the DOM canvas; @napi-rs/canvas implements the same 2D API.
  type RenderParams = Parameters<PDFPageProxy['render']>[0];
  await page.render({
    canvasContext: context as unknown as RenderParams['canvasContext'],
    canvas: canvas as unknown as RenderParams['canvas'],
    viewport,
  }).promise;
  const gray = rgbaToGray(context.getImageData(0, 0, width, height).data, width, height);
  // Drop the canvas's pixels now rather than when the GC gets to it.
  canvas.width = 1;
  canvas.height = 1;
  let ocrLines: OcrLine[];
  try {
    ocrLines = await uninterruptible(() => ocrImage(gray));
  } catch (err) {
    // Not the PDF's fault: don't let it be reported as a damaged page.
    throw new DocmarkError('internal_error', `OCR failed on page ${index + 1}: ${(err as Error)?.message ?? err}`);
  }
  return {
    index,
    width: base.width,
    height: base.height,
    lines: toLines(ocrLines, 1 / scale),
    rects: [],
    images: [],
    source: 'ocr',
  };
}

/** Pixels per point: 200 dpi, less when the page is huge (a 200-inch page must not become 40000 px). */
export function renderScale(widthPt: number, heightPt: number): number {
  const wanted = RENDER_DPI / 72;
  const byPixels = Math.sqrt(MAX_PIXELS / Math.max(1, widthPt * heightPt));
  const bySide = MAX_SIDE / Math.max(1, widthPt, heightPt);
  return Math.min(wanted, byPixels, bySide);
}

/** Below this mean character probability a box is noise (specks, rules, pictures)... */
const MIN_CONFIDENCE = 0.5;
/** ...except a lone bracket or semicolon in code, which the recogniser is never sure of. */
const LONE_PUNCTUATION = /^[{}()[\];,]+$/;
const MIN_PUNCTUATION_CONFIDENCE = 0.1;
/** What list bullets (drawn shapes, not text, in a text layer) are read as. */
const BULLET_TEXT = /^[·•∙●○◦▪■□o。.*>»\-–—]$/;
/** A bullet read as part of its item's box: a bullet sign, or a lone o / . / 0 before a word. */
const LEADING_BULLET = /^(?:[·•∙●○◦▪■□]\s*|[o.]\s+(?=\S)|0\s+(?=[A-Za-z]))/;

interface OcrRun {
  run: TextRun;
  confidence: number;
}

/** OCR boxes → runs in points → lines: boxes side by side at the same height form one line. */
function toLines(ocr: OcrLine[], pointsPerPixel: number): Line[] {
  const items: OcrRun[] = ocr.map((l) => ({
    run: {
      text: l.text,
      bbox: {
        x0: l.bbox.x0 * pointsPerPixel,
        y0: l.bbox.y0 * pointsPerPixel,
        x1: l.bbox.x1 * pointsPerPixel,
        y1: l.bbox.y1 * pointsPerPixel,
      },
      fontSize: l.rect.height * pointsPerPixel * BOX_HEIGHT_TO_FONT_SIZE,
      fontName: 'ocr',
      bold: false,
      italic: false,
      monospace: false,
      link: undefined,
    },
    confidence: l.confidence,
  }));
  const rows: OcrRun[][] = [];
  for (const item of [...items].sort((a, b) => a.run.bbox.y0 - b.run.bbox.y0)) {
    const row = rows.find((r) => sameLine(r[r.length - 1].run, item.run));
    if (row) row.push(item);
    else rows.push([item]);
  }
  const kept: TextRun[][] = [];
  for (const row of rows) {
    row.sort((a, b) => a.run.bbox.x0 - b.run.bbox.x0);
    // Text layers have no bullets (they are drawn): drop them so lists look the same.
    const runs = row
      .filter((r, i) => !(i + 1 < row.length && isBullet(r, row[i + 1])))
      .filter((r) => r.confidence >= (LONE_PUNCTUATION.test(r.run.text) ? MIN_PUNCTUATION_CONFIDENCE : MIN_CONFIDENCE))
      .map((r) => r.run);
    for (const run of runs) run.text = run.text.replace(LEADING_BULLET, '');
    const texts = runs.filter((r) => r.text !== '');
    if (texts.length) kept.push(texts);
  }
  snapFontSizes(kept.flat());
  return readingOrder(kept.map(makeLine));
}

/**
 * Top to bottom, and left to right within a visual row: cells of a table row have slightly
 * different tops, so sorting by top alone would shuffle them.
 */
function readingOrder(lines: Line[]): Line[] {
  const centre = (l: Line) => (l.bbox.y0 + l.bbox.y1) / 2;
  const sorted = [...lines].sort((a, b) => centre(a) - centre(b));
  const out: Line[] = [];
  let band: Line[] = [];
  for (const line of sorted) {
    if (band.length && centre(line) - centre(band[0]) > Math.min(band[0].fontSize, line.fontSize) * 0.5) {
      out.push(...band.sort((a, b) => a.bbox.x0 - b.bbox.x0));
      band = [];
    }
    band.push(line);
  }
  out.push(...band.sort((a, b) => a.bbox.x0 - b.bbox.x0));
  return out;
}

/** A small box, a single mark, just left of the text it introduces. */
function isBullet(mark: OcrRun, next: OcrRun): boolean {
  const m = mark.run.bbox;
  const n = next.run.bbox;
  const lineHeight = n.y1 - n.y0;
  const small = m.y1 - m.y0 < lineHeight * 0.85 && m.x1 - m.x0 < lineHeight;
  const close = n.x0 - m.x1 < lineHeight * 3;
  const text = mark.run.text.trim();
  return small && close && (BULLET_TEXT.test(text) || (text.length <= 1 && mark.confidence < MIN_CONFIDENCE));
}

function sameLine(a: TextRun, b: TextRun): boolean {
  const centreA = (a.bbox.y0 + a.bbox.y1) / 2;
  const centreB = (b.bbox.y0 + b.bbox.y1) / 2;
  const size = Math.max(a.fontSize, b.fontSize);
  if (Math.abs(centreA - centreB) > size * 0.4) return false;
  // Far apart horizontally: another column.
  const gap = Math.max(a.bbox.x0, b.bbox.x0) - Math.min(a.bbox.x1, b.bbox.x1);
  return gap < size * 3;
}

function makeLine(runs: TextRun[]): Line {
  const bbox = runs.reduce(
    (u, r) => ({
      x0: Math.min(u.x0, r.bbox.x0),
      y0: Math.min(u.y0, r.bbox.y0),
      x1: Math.max(u.x1, r.bbox.x1),
      y1: Math.max(u.y1, r.bbox.y1),
    }),
    runs[0].bbox,
  );
  return { runs, text: runs.map((r) => r.text).join(' '), bbox, fontSize: Math.max(...runs.map((r) => r.fontSize)) };
}

/**
 * Box heights vary with the letters in a line (ascenders, descenders), text-layer font sizes
 * do not: put sizes within ~12 % of each other in one group and give them the group's median,
 * so the layout steps see one body size and a few heading sizes.
 */
function snapFontSizes(runs: TextRun[]): void {
  const sorted = [...runs].sort((a, b) => a.fontSize - b.fontSize);
  let group: TextRun[] = [];
  const close = () => {
    const median = group[Math.floor(group.length / 2)].fontSize;
    for (const r of group) r.fontSize = Math.round(median * 10) / 10;
    group = [];
  };
  for (const run of sorted) {
    if (group.length && run.fontSize > group[0].fontSize * 1.12) close();
    group.push(run);
  }
  if (group.length) close();
}
