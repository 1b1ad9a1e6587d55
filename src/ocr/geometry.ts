// Geometry for text boxes: convex hull, minimum-area rectangle, unclip, straightening.
// A text box is a rectangle, possibly slightly rotated (scans are never perfectly straight).

export interface Point {
  x: number;
  y: number;
}

/**
 * A rotated rectangle: `origin` is its top-left corner, `u` the unit vector along the text
 * (pointing right, within 45° of horizontal), `v` the unit vector down across the text.
 */
export interface RotatedRect {
  origin: Point;
  u: Point;
  v: Point;
  width: number;
  height: number;
}

/** Andrew's monotone chain; returns the hull counter-clockwise (in y-down coordinates, clockwise on screen). */
export function convexHull(points: Point[]): Point[] {
  const pts = [...points].sort((a, b) => a.x - b.x || a.y - b.y);
  if (pts.length < 3) return pts;
  const cross = (o: Point, a: Point, b: Point) => (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
  const lower: Point[] = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = pts.length - 1; i >= 0; i--) {
    const p = pts[i];
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

/** Minimum-area enclosing rectangle by rotating calipers over the hull's edges. */
export function minAreaRect(points: Point[]): RotatedRect {
  const hull = convexHull(points);
  let best: RotatedRect | undefined;
  let bestArea = Infinity;
  const n = hull.length;
  const edges = n < 2 ? [{ x: 1, y: 0 }] : hull.map((p, i) => ({ x: hull[(i + 1) % n].x - p.x, y: hull[(i + 1) % n].y - p.y }));
  for (const e of edges) {
    const len = Math.hypot(e.x, e.y);
    if (len === 0) continue;
    let u = { x: e.x / len, y: e.y / len };
    // Turn the edge direction to the one nearest to "right": text reads left to right.
    for (let k = 0; k < 4 && !(u.x >= Math.abs(u.y)); k++) u = { x: -u.y, y: u.x };
    const v = { x: -u.y, y: u.x };
    let minU = Infinity,
      maxU = -Infinity,
      minV = Infinity,
      maxV = -Infinity;
    for (const p of hull) {
      const pu = p.x * u.x + p.y * u.y;
      const pv = p.x * v.x + p.y * v.y;
      if (pu < minU) minU = pu;
      if (pu > maxU) maxU = pu;
      if (pv < minV) minV = pv;
      if (pv > maxV) maxV = pv;
    }
    const area = (maxU - minU) * (maxV - minV);
    if (area < bestArea) {
      bestArea = area;
      best = {
        origin: { x: u.x * minU + v.x * minV, y: u.y * minU + v.y * minV },
        u,
        v,
        width: maxU - minU,
        height: maxV - minV,
      };
    }
  }
  return best ?? { origin: points[0] ?? { x: 0, y: 0 }, u: { x: 1, y: 0 }, v: { x: 0, y: 1 }, width: 0, height: 0 };
}

/**
 * DB "unclip": the model predicts a shrunk text kernel; grow it back by
 * distance = area × ratio / perimeter on every side (what a polygon offset does to a rectangle).
 */
export function unclip(rect: RotatedRect, ratio: number): RotatedRect {
  const { width: w, height: h } = rect;
  const d = (w * h * ratio) / (2 * (w + h) || 1);
  return {
    origin: { x: rect.origin.x - d * (rect.u.x + rect.v.x), y: rect.origin.y - d * (rect.u.y + rect.v.y) },
    u: rect.u,
    v: rect.v,
    width: w + 2 * d,
    height: h + 2 * d,
  };
}

/** Scale a rectangle's coordinates (detection map → page image). */
export function scaleRect(rect: RotatedRect, sx: number, sy: number): RotatedRect {
  // Only near-uniform scales are used; keep u/v unit vectors by rescaling along them.
  const ux = rect.u.x * sx,
    uy = rect.u.y * sy;
  const vx = rect.v.x * sx,
    vy = rect.v.y * sy;
  const lu = Math.hypot(ux, uy),
    lv = Math.hypot(vx, vy);
  return {
    origin: { x: rect.origin.x * sx, y: rect.origin.y * sy },
    u: { x: ux / lu, y: uy / lu },
    v: { x: vx / lv, y: vy / lv },
    width: rect.width * lu,
    height: rect.height * lv,
  };
}

export interface Bounds {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * Bounds of a rectangle on the page turned by -angle about `centre`: where it would sit had
 * the page been scanned straight (angle: the page's skew; 0 gives its plain bounds).
 */
export function levelledBounds(rect: RotatedRect, angle: number, centre: Point): Bounds {
  const cos = Math.cos(-angle);
  const sin = Math.sin(-angle);
  const bounds = { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
  for (const [a, b] of [
    [0, 0],
    [rect.width, 0],
    [0, rect.height],
    [rect.width, rect.height],
  ]) {
    const dx = rect.origin.x + a * rect.u.x + b * rect.v.x - centre.x;
    const dy = rect.origin.y + a * rect.u.y + b * rect.v.y - centre.y;
    const x = centre.x + dx * cos - dy * sin;
    const y = centre.y + dx * sin + dy * cos;
    bounds.x0 = Math.min(bounds.x0, x);
    bounds.y0 = Math.min(bounds.y0, y);
    bounds.x1 = Math.max(bounds.x1, x);
    bounds.y1 = Math.max(bounds.y1, y);
  }
  return bounds;
}
