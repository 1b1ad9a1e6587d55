// Grey-level images for OCR: one byte per pixel, 0 = black, 255 = white. Documents are
// read in grey (colour adds nothing to the models here and costs 3× the memory).

export interface GrayImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** RGBA (canvas pixels) → grey, with the usual luma weights; transparent counts as white paper. */
export function rgbaToGray(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): GrayImage {
  const data = new Uint8Array(width * height);
  for (let i = 0, j = 0; i < data.length; i++, j += 4) {
    const a = rgba[j + 3] / 255;
    const luma = 0.299 * rgba[j] + 0.587 * rgba[j + 1] + 0.114 * rgba[j + 2];
    data[i] = Math.round(luma * a + 255 * (1 - a));
  }
  return { width, height, data };
}

/** Bilinear sample at a real-valued position (pixel centres at +0.5); outside is white. */
export function sampleBilinear(img: GrayImage, x: number, y: number): number {
  const fx = x - 0.5;
  const fy = y - 0.5;
  const x0 = Math.floor(fx);
  const y0 = Math.floor(fy);
  const dx = fx - x0;
  const dy = fy - y0;
  const p00 = pixel(img, x0, y0);
  const p10 = pixel(img, x0 + 1, y0);
  const p01 = pixel(img, x0, y0 + 1);
  const p11 = pixel(img, x0 + 1, y0 + 1);
  return (p00 * (1 - dx) + p10 * dx) * (1 - dy) + (p01 * (1 - dx) + p11 * dx) * dy;
}

function pixel(img: GrayImage, x: number, y: number): number {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return 255;
  return img.data[y * img.width + x];
}

/**
 * Resize with area averaging when shrinking (no aliasing of thin strokes) and
 * bilinear sampling when growing.
 */
export function resizeGray(img: GrayImage, width: number, height: number): GrayImage {
  const out = new Uint8Array(width * height);
  const sx = img.width / width;
  const sy = img.height / height;
  if (sx <= 1 && sy <= 1) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) out[y * width + x] = Math.round(sampleBilinear(img, (x + 0.5) * sx, (y + 0.5) * sy));
    }
    return { width, height, data: out };
  }
  // Box filter over the source area each output pixel covers.
  for (let y = 0; y < height; y++) {
    const ys = Math.floor(y * sy);
    const ye = Math.max(ys + 1, Math.min(img.height, Math.floor((y + 1) * sy)));
    for (let x = 0; x < width; x++) {
      const xs = Math.floor(x * sx);
      const xe = Math.max(xs + 1, Math.min(img.width, Math.floor((x + 1) * sx)));
      let sum = 0;
      for (let yy = ys; yy < ye; yy++) {
        const row = yy * img.width;
        for (let xx = xs; xx < xe; xx++) sum += img.data[row + xx];
      }
      out[y * width + x] = Math.round(sum / ((ye - ys) * (xe - xs)));
    }
  }
  return { width, height, data: out };
}
