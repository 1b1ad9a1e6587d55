import { CROP_HEIGHT, type Crop } from './recognize.js';

// Where the ink is in a crop: which columns hold glyphs, and the rows the text spans. Word gaps
// are measured on it (text.ts), and the line's true left and right edges come from it: the
// detector's boxes have margins that grow with their height, so their edges jitter from line
// to line while the text's own edges line up.

export interface InkProfile {
  /** 1 for columns with ink in the middle band of rows. */
  columns: Uint8Array;
  /** First and last column with ink (crop pixels); -1 when the crop is blank. */
  left: number;
  right: number;
  /** Rows from the highest to the lowest ink (ascender to descender), at least 30 % of the crop. */
  textHeight: number;
  /**
   * Middle of the rows where most of the ink is (between the x-height and the baseline), in
   * crop rows: unlike the box's middle it does not move with ascenders and descenders.
   */
  coreMiddle: number;
}

/**
 * A column is ink when this many pixels of its middle band are darker than halfway from
 * paper to ink: one, since a thin stroke (the bar of an H) is one dark pixel per column.
 */
const MIN_INK_PIXELS = 1;
/** The crop has margins around the glyphs: its outer rows may show a neighbouring line's descenders or noise. */
const BAND_MARGIN = 0.1;

export function inkProfile(crop: Crop): InkProfile {
  const columns = new Uint8Array(crop.width);
  const columnInk = new Uint8Array(crop.width);
  const rowInk = new Int32Array(CROP_HEIGHT);
  const dark = inkThreshold(crop);
  const top = Math.floor(CROP_HEIGHT * BAND_MARGIN);
  const bottom = Math.ceil(CROP_HEIGHT * (1 - BAND_MARGIN));
  for (let y = 0; y < CROP_HEIGHT; y++) {
    const row = y * crop.width;
    const inBand = y >= top && y < bottom;
    for (let x = 0; x < crop.width; x++) {
      if (crop.data[row + x] < dark) {
        rowInk[y]++;
        if (inBand && columnInk[x] < 255) columnInk[x]++;
      }
    }
  }
  let left = -1;
  let right = -1;
  for (let x = 0; x < crop.width; x++) {
    if (columnInk[x] >= MIN_INK_PIXELS) {
      columns[x] = 1;
      if (left < 0) left = x;
      right = x;
    }
  }
  const minRowInk = Math.max(2, crop.width * 0.01);
  let first = -1;
  let last = -1;
  for (let y = 0; y < CROP_HEIGHT; y++) {
    if (rowInk[y] >= minRowInk) {
      if (first < 0) first = y;
      last = y;
    }
  }
  const textHeight = first < 0 ? CROP_HEIGHT : Math.max(CROP_HEIGHT * 0.3, last - first + 1);
  return { columns, left, right, textHeight, coreMiddle: coreMiddle(rowInk) };
}

/** Rows with at least this share of the inkiest row's ink are the text's core (x-height band). */
const CORE_ROW_SHARE = 0.4;

function coreMiddle(rowInk: Int32Array): number {
  let peak = 0;
  for (const count of rowInk) peak = Math.max(peak, count);
  if (peak === 0) return CROP_HEIGHT / 2;
  let top = -1;
  let bottom = -1;
  for (let y = 0; y < rowInk.length; y++) {
    if (rowInk[y] >= peak * CORE_ROW_SHARE) {
      if (top < 0) top = y;
      bottom = y;
    }
  }
  return (top + bottom + 1) / 2;
}

/** Halfway between paper and ink (scans are grey, noisy and of any contrast). */
function inkThreshold(crop: Crop): number {
  const histogram = new Uint32Array(256);
  for (const value of crop.data) histogram[value]++;
  const percentile = (p: number) => {
    let seen = 0;
    const target = crop.data.length * p;
    for (let v = 0; v < 256; v++) if ((seen += histogram[v]) >= target) return v;
    return 255;
  };
  const ink = percentile(0.03);
  const paper = percentile(0.6);
  return paper - ink < 40 ? ink - 1 : (ink + paper) / 2;
}
