import { PDFDocument, type PDFFont, type PDFPage, StandardFonts } from 'pdf-lib';
import { wrap } from './pdf.ts';

/**
 * Table PDFs as the common producers set them, for the table tests: each knows its exact text.
 * Coordinates given to the helpers are from the page's top (as the engine reads them); pdf-lib
 * counts from the bottom.
 */

export const PROSE =
  'Every setting below can be given in the environment or on the command line, and the command line wins when both are given. ' +
  'The defaults suit a small server that converts a few documents at a time.';

export interface Fonts {
  regular: PDFFont;
  bold: PDFFont;
  mono: PDFFont;
}

export async function newDocument(): Promise<{ doc: PDFDocument; fonts: Fonts }> {
  const doc = await PDFDocument.create();
  const fonts = {
    regular: await doc.embedFont(StandardFonts.TimesRoman),
    bold: await doc.embedFont(StandardFonts.TimesRomanBold),
    mono: await doc.embedFont(StandardFonts.Courier),
  };
  return { doc, fonts };
}

const HEIGHT = 792;

/** Text at `x` with its baseline `top` points from the page's top. */
export function text(page: PDFPage, s: string, x: number, top: number, font: PDFFont, size = 11): void {
  page.drawText(s, { x, y: HEIGHT - top, size, font });
}

/** Text ending at `right` (right-aligned). */
export function textRight(page: PDFPage, s: string, right: number, top: number, font: PDFFont, size = 11): void {
  text(page, s, right - font.widthOfTextAtSize(s, size), top, font, size);
}

/** A paragraph of prose from `top`, wrapped at the text width; returns where the next line would stand. */
export function prose(page: PDFPage, font: PDFFont, top: number, body = PROSE, size = 11): number {
  let y = top;
  for (const line of wrap(body, font, size, 468)) {
    text(page, line, 72, y, font, size);
    y += size * 1.3;
  }
  return y + size * 0.6;
}

/** A horizontal rule stroked as a line (LaTeX, word processors). */
export function hrule(page: PDFPage, x0: number, x1: number, top: number, thickness = 0.5): void {
  page.drawLine({ start: { x: x0, y: HEIGHT - top }, end: { x: x1, y: HEIGHT - top }, thickness });
}

/** A vertical rule stroked as a line. */
export function vrule(page: PDFPage, x: number, top: number, bottom: number, thickness = 0.5): void {
  page.drawLine({ start: { x, y: HEIGHT - top }, end: { x, y: HEIGHT - bottom }, thickness });
}

/** A grid of cell borders drawn as thin filled boxes, one per cell side (as Chromium draws them). */
export function cellBorders(page: PDFPage, xs: number[], ys: number[], width = 0.75): void {
  for (let r = 0; r + 1 < ys.length; r++)
    for (let c = 0; c + 1 < xs.length; c++) {
      const [left, right, top, bottom] = [xs[c], xs[c + 1], ys[r], ys[r + 1]];
      page.drawRectangle({ x: left, y: HEIGHT - top - width, width: right - left, height: width });
      page.drawRectangle({ x: left, y: HEIGHT - bottom, width: right - left, height: width });
      page.drawRectangle({ x: left, y: HEIGHT - bottom, width, height: bottom - top });
      page.drawRectangle({ x: right - width, y: HEIGHT - bottom, width, height: bottom - top });
    }
}

export { wrap };
