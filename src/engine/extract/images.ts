import { createCanvas } from '@napi-rs/canvas';
import type { PDFPageProxy } from 'pdfjs-dist/types/src/display/api.js';
import { pdfjs } from '../load/pdf.js';
import type { BBox, PageImage } from '../types.js';

// Extract step, images (only with extract_images): the raster images a page paints, as PNG, with
// where they sit on the page. Reads the page's operator list (which makes pdfjs decode the
// images), follows the transformation matrix to each paint, and encodes the pixels.

type Matrix = [number, number, number, number, number, number];

/** Smaller than this (points) is a bullet, rule or tracking pixel, not an image worth keeping. */
const MIN_SIDE = 8;
/** Never encode more pixels than this per image. */
const MAX_PIXELS = 25_000_000;

interface ImageData {
  width: number;
  height: number;
  kind?: number;
  data?: Uint8Array | Uint8ClampedArray;
}

export async function extractPageImages(page: PDFPageProxy, index: number): Promise<PageImage[]> {
  const { OPS, Util } = await pdfjs();
  const viewport = page.getViewport({ scale: 1 });
  const ops = await page.getOperatorList();
  const images: PageImage[] = [];
  const stack: Matrix[] = [];
  let ctm: Matrix = [1, 0, 0, 1, 0, 0];
  for (let i = 0; i < ops.fnArray.length; i++) {
    const fn = ops.fnArray[i];
    const args = ops.argsArray[i] as unknown[];
    if (fn === OPS.save) stack.push(ctm);
    else if (fn === OPS.restore) ctm = stack.pop() ?? ctm;
    else if (fn === OPS.transform) ctm = Util.transform(ctm, args as number[]) as Matrix;
    else if (fn === OPS.paintImageXObject || fn === OPS.paintInlineImageXObject) {
      const data = fn === OPS.paintImageXObject ? await lookup(page, args[0] as string) : (args[0] as ImageData);
      const bbox = unitSquareBox(Util.transform(viewport.transform, ctm) as Matrix);
      if (!data || bbox.x1 - bbox.x0 < MIN_SIDE || bbox.y1 - bbox.y0 < MIN_SIDE) continue;
      const png = encodePng(data);
      if (png) images.push({ id: `page${index + 1}-image${images.length + 1}.png`, bbox, png });
    }
  }
  return images;
}

/** How long to wait for pdfjs to hand over a decoded image before skipping it. */
const DECODE_WAIT_MS = 10_000;

/** pdfjs delivers decoded images after the operator list, asynchronously: wait for each one. */
function lookup(page: PDFPageProxy, id: string): Promise<ImageData | undefined> {
  const objs = (id.startsWith('g_') ? page.commonObjs : page.objs) as unknown as {
    get(id: string, callback: (data: unknown) => void): void;
  };
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), DECODE_WAIT_MS); // broken image data: skip it
    objs.get(id, (data) => {
      clearTimeout(timer);
      resolve(data as ImageData);
    });
  });
}

/** Images are drawn into the unit square: its corners under the matrix give the box. */
function unitSquareBox(m: Matrix): BBox {
  const xs = [m[4], m[0] + m[4], m[2] + m[4], m[0] + m[2] + m[4]];
  const ys = [m[5], m[1] + m[5], m[3] + m[5], m[1] + m[3] + m[5]];
  return { x0: Math.min(...xs), y0: Math.min(...ys), x1: Math.max(...xs), y1: Math.max(...ys) };
}

/** pdfjs image data (1-bit grey, RGB or RGBA rows) → PNG bytes. */
export function encodePng(image: ImageData): Uint8Array | undefined {
  const { width, height, kind, data } = image;
  if (!data || !(width > 0) || !(height > 0) || width * height > MAX_PIXELS) return undefined;
  const rgba = new Uint8ClampedArray(width * height * 4);
  if (kind === 3) {
    rgba.set(data.subarray(0, rgba.length));
  } else if (kind === 2) {
    for (let p = 0, s = 0; p < rgba.length; p += 4, s += 3) {
      rgba[p] = data[s];
      rgba[p + 1] = data[s + 1];
      rgba[p + 2] = data[s + 2];
      rgba[p + 3] = 255;
    }
  } else if (kind === 1) {
    const rowBytes = (width + 7) >> 3;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const bit = (data[y * rowBytes + (x >> 3)] >> (7 - (x & 7))) & 1;
        const p = (y * width + x) * 4;
        rgba[p] = rgba[p + 1] = rgba[p + 2] = bit ? 255 : 0;
        rgba[p + 3] = 255;
      }
    }
  } else {
    return undefined;
  }
  const canvas = createCanvas(width, height);
  const context = canvas.getContext('2d');
  const pixels = context.createImageData(width, height);
  pixels.data.set(rgba);
  context.putImageData(pixels, 0, 0);
  return new Uint8Array(canvas.toBuffer('image/png'));
}
