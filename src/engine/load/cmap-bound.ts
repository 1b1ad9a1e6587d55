// A bound on the codes a character map read from a PDF may map.
//
// A font's ToUnicode map (and an embedded CID map) states its ranges as `<low> <high> <dst>`, and
// pdfjs stores one entry per code of a range, allowing any single range up to 2^24 codes. One
// damaged byte in a map's compressed stream is enough to make such a range (the inflater's
// garbage joins two numbers into one): millions of strings and an array as long, hundreds of MB of
// heap and seconds of CPU for a page of twelve words, enough to take a worker past its memory
// limit. No font has more than 65,535 glyphs, so no honest map needs more than a few times 65,536
// codes (a whole two-byte range plus ranges that override parts of it); past MAX_MAPPED_CODES the
// map's further ranges are dropped, as pdfjs drops a range over its own limit (it warns and goes
// on with the map's next operator). The maps pdfjs builds in (the CJK CMaps it ships) are bigger and
// trusted: they are not charged.
//
// pdfjs exports none of its classes: CMap is found by the property its constructor sets first
// (`numCodespaceRanges`), as worker-objects.ts finds a document's worker side.
import { catchFirst } from './worker-objects.js';

/** Codes a map read from a PDF may map through ranges: four whole two-byte code spaces. */
export const MAX_MAPPED_CODES = 4 * 0x10000;

const CMAP_MARK = 'numCodespaceRanges';
const RANGE_METHODS = ['mapBfRange', 'mapCidRange'] as const;

interface CMapInstance {
  builtInCMap: boolean;
}
type RangeMethod = (this: CMapInstance, low: number, high: number, dst: unknown) => unknown;

/** Codes each map has mapped through ranges so far. */
const mapped = new WeakMap<CMapInstance, number>();

let installed = false;

/** Charge every range a PDF's character maps state from now on (idempotent). */
export function installCMapBound(): void {
  if (installed) return;
  installed = true;
  catchFirst(CMAP_MARK, boundRanges);
}

function boundRanges(instance: object): boolean {
  // The first map built may be of a subclass (IdentityCMap overrides the range methods to refuse
  // them): the methods to wrap are those of the top-most prototype that has them.
  let base: Record<string, unknown> | undefined;
  for (let proto = Object.getPrototypeOf(instance); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    if (Object.hasOwn(proto, 'mapBfRange')) base = proto;
  }
  if (!base || RANGE_METHODS.some((name) => typeof base[name] !== 'function')) return false;
  for (const name of RANGE_METHODS) {
    const original = base[name] as RangeMethod;
    base[name] = function (this: CMapInstance, low: number, high: number, dst: unknown) {
      if (!this.builtInCMap) {
        const total = (mapped.get(this) ?? 0) + Math.max(0, high - low + 1);
        if (total > MAX_MAPPED_CODES) throw new Error(`${name}: the map's ranges cover more codes than any font has (over ${MAX_MAPPED_CODES})`);
        mapped.set(this, total);
      }
      return original.call(this, low, high, dst);
    } satisfies RangeMethod;
  }
  return true;
}
