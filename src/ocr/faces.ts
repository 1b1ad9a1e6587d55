import type { Bounds } from './geometry.js';

// A line too short to show its face (`}`, `});`), or mixing code into prose, takes the face of
// the lines around it in its block: code blocks are runs of monospaced lines, paragraphs runs
// of proportional ones.

/** Lines closer than this many line heights (top to top) belong to one block. */
const MAX_BLOCK_LINE_STEP = 1.8;

/**
 * Each line's face (true: monospaced) from what each line shows (`own`, undefined when it cannot
 * tell) and, for those, from the nearest decided line above and below in the same block: both
 * monospaced, or one monospaced and the other side undecided or absent.
 */
export function settleFaces(own: Array<boolean | undefined>, bounds: Bounds[]): boolean[] {
  // Lines top to bottom on the levelled page.
  const order = own.map((_, i) => i).sort((a, b) => bounds[a].y0 - bounds[b].y0);
  const neighbour = (k: number, direction: 1 | -1): boolean | undefined => {
    const line = bounds[order[k]];
    let last = line;
    for (let j = k + direction; j >= 0 && j < order.length; j += direction) {
      const other = bounds[order[j]];
      // Side by side (another column or table cell): not in the same block.
      if (other.x0 > line.x1 || line.x0 > other.x1) continue;
      const [upper, lower] = direction === 1 ? [last, other] : [other, last];
      if (lower.y0 - upper.y0 > (upper.y1 - upper.y0) * MAX_BLOCK_LINE_STEP) return undefined;
      const face = own[order[j]];
      if (face !== undefined) return face;
      last = other;
    }
    return undefined;
  };
  const faces = own.map((face) => face ?? false);
  order.forEach((i, k) => {
    if (own[i] !== undefined) return;
    const above = neighbour(k, -1);
    const below = neighbour(k, 1);
    faces[i] = above === undefined ? below === true : above && below !== false;
  });
  return faces;
}
