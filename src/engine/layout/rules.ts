import type { BBox, Rect } from '../types.js';

/*
 * Layout step: ruling lines from the page's drawings (Page.rects). A rule is a thin rect, filled
 * or stroked; producers draw one rule as several pieces (a border per cell, a segment per
 * column), so pieces on one line that touch are joined.
 */

export interface Rule {
  /** Where the rule sits across its length (y of a horizontal rule, x of a vertical one). */
  at: number;
  /** Its extent along its length. */
  from: number;
  to: number;
}

export interface Rules {
  horizontal: Rule[];
  vertical: Rule[];
}

/** Thicker than this (points) is a box or a bar, not a rule (booktabs' heavy rule is 0.8 pt). */
const MAX_RULE_THICKNESS = 2.5;
/** Shorter than this is a tick, a bullet or a dot, not a rule. */
const MIN_RULE_LENGTH = 3;
/** Pieces of one rule: on the same line within this, and no further apart than this end to end. */
const SAME_LINE = 1;
const JOIN_GAP = 2;

export function pageRules(rects: readonly Rect[]): Rules {
  const horizontal: Rule[] = [];
  const vertical: Rule[] = [];
  for (const { bbox } of rects) {
    const w = bbox.x1 - bbox.x0;
    const h = bbox.y1 - bbox.y0;
    if (h <= MAX_RULE_THICKNESS && w >= MIN_RULE_LENGTH && w > h) horizontal.push({ at: (bbox.y0 + bbox.y1) / 2, from: bbox.x0, to: bbox.x1 });
    else if (w <= MAX_RULE_THICKNESS && h >= MIN_RULE_LENGTH && h > w) vertical.push({ at: (bbox.x0 + bbox.x1) / 2, from: bbox.y0, to: bbox.y1 });
  }
  return { horizontal: joinPieces(horizontal), vertical: joinPieces(vertical) };
}

/** Pieces on one line that touch or overlap, joined; sorted by position, then extent. */
function joinPieces(pieces: Rule[]): Rule[] {
  pieces.sort((a, b) => a.at - b.at || a.from - b.from);
  const out: Rule[] = [];
  for (const piece of pieces) {
    // Pieces of the same line sit together once sorted: look back over the nearby ones.
    let joined = false;
    for (let k = out.length - 1; k >= 0 && piece.at - out[k].at <= SAME_LINE; k--) {
      const rule = out[k];
      if (piece.from <= rule.to + JOIN_GAP && piece.to >= rule.from - JOIN_GAP) {
        rule.from = Math.min(rule.from, piece.from);
        rule.to = Math.max(rule.to, piece.to);
        joined = true;
        break;
      }
    }
    if (!joined) out.push({ ...piece });
  }
  return out.sort((a, b) => a.at - b.at || a.from - b.from);
}

/** Does a horizontal rule run across the box (from its left to its right edge, within `slack`)? */
export function spansAcross(rule: Rule, box: Pick<BBox, 'x0' | 'x1'>, slack: number): boolean {
  return rule.from <= box.x0 + slack && rule.to >= box.x1 - slack;
}
