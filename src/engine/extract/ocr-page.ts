import { createCanvas } from '@napi-rs/canvas';
import { DocmarkError } from '../../errors.js';
import type { PDFPageProxy } from 'pdfjs-dist/types/src/display/api.js';
import { ocrImage, rgbaToGray, type OcrPage } from '../../ocr/index.js';
import { stage } from '../../ocr/stages.js';
import { uninterruptible } from '../cancel.js';
import type { Line, Page, TextRun } from '../types.js';

// Extract step, OCR: render a pdfjs page to pixels, read it with the OCR models, and return
// the same Page a text layer gives (lines of runs in PDF points, straightened when the scan is
// turned), so the layout steps after this one treat scans and born-digital pages alike.

/** 200 dpi: enough for 8 pt text, and what the models read best at for body text. */
const RENDER_DPI = 200;
/** Never rasterise more than this many pixels (an A4 page at 200 dpi is 3.9 M). */
const MAX_PIXELS = 6_000_000;
const MAX_SIDE = 4096;
/** OCR box height (after unclip) → font size: the detector's box is a little taller than the type size (unclip margin). */
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
  const rgba = await stage('render', async () => {
    await page.render({
      canvasContext: context as unknown as RenderParams['canvasContext'],
      canvas: canvas as unknown as RenderParams['canvas'],
      viewport,
    }).promise;
    return context.getImageData(0, 0, width, height).data;
  });
  const gray = stage('gray', () => rgbaToGray(rgba, width, height));
  // Drop the canvas's pixels now rather than when the GC gets to it.
  canvas.width = 1;
  canvas.height = 1;
  let ocr: OcrPage;
  try {
    ocr = await uninterruptible(() => ocrImage(gray));
  } catch (err) {
    // Not the PDF's fault: don't let it be reported as a damaged page.
    throw new DocmarkError('internal_error', `OCR failed on page ${index + 1}: ${(err as Error)?.message ?? err}`);
  }
  const lines = toLines(ocr, 1 / scale);
  return {
    index,
    width: base.width,
    height: base.height,
    lines,
    rects: [],
    images: [],
    source: 'ocr',
    ...(isLowConfidence(ocr) ? { lowConfidence: true } : {}),
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

/**
 * OCR boxes → runs in points → lines: boxes side by side at the same height form one line.
 * Boxes come straightened (a turned scan's boxes turned back about the page's centre), so
 * lines are level and their left edges (which say indentation) line up as on paper.
 */
function toLines(ocr: OcrPage, pointsPerPixel: number): Line[] {
  const items: OcrRun[] = ocr.lines.map((l) => {
    const box = l.bounds;
    return {
      run: {
        text: l.text,
        bbox: {
          x0: box.x0 * pointsPerPixel,
          y0: box.y0 * pointsPerPixel,
          x1: box.x1 * pointsPerPixel,
          y1: box.y1 * pointsPerPixel,
        },
        fontSize: l.rect.height * pointsPerPixel * BOX_HEIGHT_TO_FONT_SIZE,
        // One name per face: the layout compares line pitches within a face.
        fontName: l.monospace ? 'ocr-monospace' : 'ocr',
        bold: false,
        italic: false,
        monospace: l.monospace,
        link: undefined,
      },
      confidence: l.confidence,
    };
  });
  for (const stray of marginStrip(items.map((i) => i.run.bbox)))
    items.splice(
      items.findIndex((i) => i.run.bbox === stray),
      1,
    );
  // Two columns are found before lines are formed: a row of the left column must not take in
  // the right column's line at the same height.
  const gutter = findGutter(items.map((i) => i.run.bbox));
  const side = (run: TextRun) => (gutter === undefined ? 0 : Math.sign(run.bbox.x0 + run.bbox.x1 - 2 * gutter));
  const rows: OcrRun[][] = [];
  for (const item of [...items].sort((a, b) => a.run.bbox.y0 - b.run.bbox.y0)) {
    const row = rows.find((r) => sameLine(r[r.length - 1].run, item.run) && side(r[r.length - 1].run) === side(item.run));
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
  for (const run of kept.flat()) levelHeight(run);
  return readingOrder(kept.map(lineOfWords), gutter);
}

/**
 * The order a text layer would draw the lines in: column by column where the page has two
 * columns, and within a column (or a page of one) top to bottom and left to right within a
 * visual row (cells of a table row have slightly different tops).
 */
function readingOrder(lines: Line[], gutter: number | undefined): Line[] {
  if (gutter === undefined) return rowsInOrder(lines);
  // Lines that cross the gutter (titles, full-width figures' captions) cut the page into bands;
  // each band is read left column first.
  const out: Line[] = [];
  let band: Line[] = [];
  const flush = () => {
    out.push(...rowsInOrder(band.filter((l) => l.bbox.x1 <= gutter)), ...rowsInOrder(band.filter((l) => l.bbox.x1 > gutter)));
    band = [];
  };
  for (const line of rowsInOrder(lines)) {
    if (line.bbox.x0 < gutter && line.bbox.x1 > gutter) {
      flush();
      out.push(line);
    } else band.push(line);
  }
  flush();
  return out;
}

/** A box this many line heights wide is a line of text, which the margin's marks are not. */
const TEXT_LINE_WIDTH = 5;
/** A mark in the margin is narrower than this many line heights… */
const MARGIN_MARK_WIDTH = 1.5;
/** …and there are at least this many, one over another: the pieces of text set up the margin. */
const MIN_MARGIN_MARKS = 3;

/**
 * Boxes in a strip of the margin beside the text: narrow, several one over another, clear of the
 * text block. Text set up the margin (a preprint server's stamp, a rotated label) is found by the
 * detector as such pieces and read as nonsense; a text layer leaves turned text out too.
 */
function marginStrip(boxes: Box[]): Box[] {
  if (boxes.length < 6) return [];
  const lineHeight = quantileOf(
    boxes.map((b) => b.y1 - b.y0),
    0.5,
  );
  const narrow = (b: Box) => b.x1 - b.x0 < lineHeight * MARGIN_MARK_WIDTH;
  // The text block: where its lines (boxes many line heights wide) start and end.
  const lines = boxes.filter((b) => b.x1 - b.x0 >= lineHeight * TEXT_LINE_WIDTH);
  if (lines.length === 0) return [];
  const left = Math.min(...lines.map((b) => b.x0));
  const right = Math.max(...lines.map((b) => b.x1));
  const strips = [
    boxes.filter((b) => b.x1 < left - lineHeight * 0.5 && narrow(b)),
    boxes.filter((b) => b.x0 > right + lineHeight * 0.5 && narrow(b)),
  ];
  return strips.filter((strip) => strip.length >= MIN_MARGIN_MARKS).flat();
}

/** Share of the lines that must sit wholly on each side of a gutter... */
const MIN_COLUMN_SHARE = 0.2;
/** ...being text lines, not table cells: its wider lines (this quantile) at least this share of the text's width... */
const WIDE_LINE_QUANTILE = 0.75;
const MIN_COLUMN_LINE_WIDTH = 0.3;
/** The text's extent leaves out this share of the boxes at each side. */
const EXTENT_QUANTILE = 0.02;
/** ...while at most this share of the lines crosses it. */
const MAX_CROSSING_SHARE = 0.1;

/** The x of the blank strip between two columns of text, if the page has two. */
function findGutter(boxes: Box[]): number | undefined {
  if (boxes.length < 6) return undefined;
  // The text's extent without its outliers (a margin stamp read as a few boxes, a page number).
  const left = quantileOf(
    boxes.map((b) => b.x0),
    EXTENT_QUANTILE,
  );
  const right = quantileOf(
    boxes.map((b) => b.x1),
    1 - EXTENT_QUANTILE,
  );
  const width = right - left;
  let best: { x: number; crossing: number } | undefined;
  for (let x = left + width * 0.3; x <= left + width * 0.7; x += width / 100) {
    const crossing = boxes.filter((b) => b.x0 < x && b.x1 > x).length;
    if (!best || crossing < best.crossing) best = { x, crossing };
  }
  if (!best || best.crossing > boxes.length * MAX_CROSSING_SHARE) return undefined;
  const x = best.x;
  const sides = [boxes.filter((b) => b.x1 <= x), boxes.filter((b) => b.x0 >= x)];
  // (Its wider lines: a table's cells or a list's short items beside the text take the median down.)
  const isColumn = (side: Box[]) =>
    side.length >= boxes.length * MIN_COLUMN_SHARE &&
    quantileOf(
      side.map((b) => b.x1 - b.x0),
      WIDE_LINE_QUANTILE,
    ) >=
      width * MIN_COLUMN_LINE_WIDTH;
  return sides.every(isColumn) ? x : undefined;
}

function quantileOf(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) * q)] ?? 0;
}

/** Top to bottom, and left to right within a visual row. */
function rowsInOrder(lines: Line[]): Line[] {
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

type Box = { x0: number; y0: number; x1: number; y1: number };

/** A line read with at least this mean probability is text the models know (scribbles read as text score lower)... */
const CONFIDENT_LINE = 0.8;
/** ...and a page where less than this share of the characters are in such lines is mostly guesses... */
const MIN_CONFIDENT_SHARE = 0.5;
/** ...as is one where less than this share of the text regions found were read at all. */
const MIN_READ_SHARE = 0.5;
/** A page with fewer regions than this is judged by its characters alone. */
const MIN_REGIONS_TO_JUDGE = 4;

/**
 * Pages the models cannot read (handwriting, photographs, drawings) are reported instead of
 * passed off as text: most characters read without confidence, or most regions unread.
 */
function isLowConfidence(ocr: OcrPage): boolean {
  let chars = 0;
  let confident = 0;
  for (const line of ocr.lines) {
    const n = line.text.replace(/\s/g, '').length;
    chars += n;
    if (line.confidence >= CONFIDENT_LINE) confident += n;
  }
  if (ocr.regions >= MIN_REGIONS_TO_JUDGE && ocr.lines.length < ocr.regions * MIN_READ_SHARE) return true;
  return chars > 0 && confident < chars * MIN_CONFIDENT_SHARE;
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

function lineOfWords(runs: TextRun[]): Line {
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
 * Box heights vary with the letters in a line (ascenders, descenders) by more than a heading
 * differs from the text after it, text-layer font sizes do not: sizes near the page's body size
 * (the most characters') become the body size; the others are put in groups within ~12 % of
 * each other and given the group's median, so the layout steps see one body size and a few
 * heading sizes.
 */
function snapFontSizes(all: TextRun[]): void {
  // A few characters give the detector little to size its box on (`});` gets a box as high as its
  // glyphs): such runs take the size of the nearest longer run above or below.
  const runs = all.filter((r) => r.text.length > MAX_SHORT_RUN);
  if (runs.length === 0) return;
  const body = bodySize(runs);
  const others: TextRun[] = [];
  for (const run of runs) {
    if (run.fontSize < body * BODY_SIZE_BAND && run.fontSize > body / BODY_SIZE_BAND) run.fontSize = body;
    else others.push(run);
  }
  const sorted = others.sort((a, b) => a.fontSize - b.fontSize);
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
  const middle = (r: TextRun) => (r.bbox.y0 + r.bbox.y1) / 2;
  for (const short of all.filter((r) => r.text.length <= MAX_SHORT_RUN)) {
    let nearest = runs[0];
    for (const run of runs) if (Math.abs(middle(run) - middle(short)) < Math.abs(middle(nearest) - middle(short))) nearest = run;
    short.fontSize = nearest.fontSize;
  }
}

/** Runs of at most this many characters are sized from their neighbours. */
const MAX_SHORT_RUN = 4;

/**
 * A run's box as high as its (snapped) size says, about the box's middle (the text's core): a
 * text layer's lines of one size have boxes of one height, and the layout reads line pitch and
 * paragraph gaps from them.
 */
function levelHeight(run: TextRun): void {
  const middle = (run.bbox.y0 + run.bbox.y1) / 2;
  const half = run.fontSize / BOX_HEIGHT_TO_FONT_SIZE / 2;
  run.bbox = { ...run.bbox, y0: middle - half, y1: middle + half };
}

/** Box heights within this factor of the body size are body text (headings are set at least 1.2 times larger). */
const BODY_SIZE_BAND = 1.18;

/** The size most characters are set in: the character-weighted median. */
function bodySize(runs: TextRun[]): number {
  const sorted = [...runs].sort((a, b) => a.fontSize - b.fontSize);
  const half = sorted.reduce((n, r) => n + r.text.length, 0) / 2;
  let seen = 0;
  for (const run of sorted) if ((seen += run.text.length) >= half) return Math.round(run.fontSize * 10) / 10;
  return sorted[sorted.length - 1].fontSize;
}
