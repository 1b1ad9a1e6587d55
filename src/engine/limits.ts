import { DocmarkError } from '../errors.js';

/**
 * Page-size limits for anything that rasterises a page (OCR, image extraction).
 *
 * Reading a page's text layer costs the same whatever its size, so huge pages are fine
 * for text (test/fixtures/corpus/bad/huge-page.pdf is 14400 × 14400 pt and converts).
 * Rasterising one is not: that page at 150 dpi is 30000 × 30000 px, 3.6 GB of RGBA.
 * Renderers ask `renderScaleFor` for their scale: it keeps the bitmap within
 * MAX_RENDER_PIXELS by lowering the resolution, and refuses the page (422
 * `page_too_large`) when that would drop below MIN_RENDER_DPI, where OCR reads nothing.
 */

/** ≈ 160 MB of RGBA: an A0 poster at 150 dpi (35 Mpx) still fits. */
export const MAX_RENDER_PIXELS = 40_000_000;
/** Below this, text in ordinary font sizes is too small to read. */
export const MIN_RENDER_DPI = 72;
const POINTS_PER_INCH = 72;

/**
 * The scale (pixels per PDF point) at which to render a page of `widthPt × heightPt`
 * at `dpi`, lowered if needed so the bitmap stays within `maxPixels`.
 * Throws `page_too_large` for pages that cannot be rendered legibly within the budget,
 * and for nonsensical dimensions.
 */
export function renderScaleFor(widthPt: number, heightPt: number, dpi: number, maxPixels = MAX_RENDER_PIXELS): number {
  assertPageDimensions(widthPt, heightPt);
  const wanted = dpi / POINTS_PER_INCH;
  const pixels = widthPt * heightPt * wanted * wanted;
  if (pixels <= maxPixels) return wanted;
  const scale = Math.sqrt(maxPixels / (widthPt * heightPt));
  if (scale * POINTS_PER_INCH < MIN_RENDER_DPI) {
    throw new DocmarkError(
      'page_too_large',
      `A page of ${fmt(widthPt)} × ${fmt(heightPt)} pt (${fmt(widthPt / POINTS_PER_INCH)} × ${fmt(heightPt / POINTS_PER_INCH)} in) is too large to render: ` +
        `it would need ${Math.round((widthPt * heightPt * (MIN_RENDER_DPI / POINTS_PER_INCH) ** 2) / 1e6)} Mpx even at ${MIN_RENDER_DPI} dpi (limit ${MAX_RENDER_PIXELS / 1e6} Mpx).`,
    );
  }
  return scale;
}

/** Throws `page_too_large` unless the page can be rendered (see renderScaleFor). */
export function assertRenderable(widthPt: number, heightPt: number, dpi = MIN_RENDER_DPI): void {
  renderScaleFor(widthPt, heightPt, dpi);
}

/** Pixel size of a page rendered at `scale`, as renderers allocate it. */
export function renderSize(widthPt: number, heightPt: number, scale: number): { width: number; height: number } {
  return { width: Math.max(1, Math.ceil(widthPt * scale)), height: Math.max(1, Math.ceil(heightPt * scale)) };
}

function assertPageDimensions(widthPt: number, heightPt: number): void {
  if (!(widthPt > 0 && heightPt > 0 && Number.isFinite(widthPt) && Number.isFinite(heightPt))) {
    throw new DocmarkError('page_too_large', `The page has unusable dimensions (${widthPt} × ${heightPt} pt) and cannot be rendered.`);
  }
}

const fmt = (n: number): string => String(Math.round(n));
