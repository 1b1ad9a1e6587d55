import { unionBoxes } from '../extract/lines.js';
import type { BBox, Rect } from '../types.js';
import { pageRules, type Rule, spansAcross } from './rules.js';
import { buildGrid, columnStartsOf, fitsColumns } from './table-grid.js';
import type { FoundTable, TableLine } from './tables.js';

/*
 * Layout step: tables marked out by their rules. Rules of one table run the same width, one under
 * the other, and the text between two of them sits close to both (cell padding) with no
 * paragraph spacing inside; text that keeps its distance (a paragraph between two tables, a
 * heading's underline above a table) parts them. A stack of two or more such rules is a table
 * (booktabs' top, middle and bottom rules; a grid's row borders). A table cut by a page break goes
 * on past its first or last rule with rows in its columns, up to the page's end or from its top.
 * A single rule with text close above and below in one size (a header underlined, as word
 * processors set tables) is a table when its text stands in two or more columns. Vertical rules
 * inside the table part its columns.
 */

/** Rules shorter than this (in body sizes) underline a word or a number, they do not frame a table. */
const MIN_FRAME_RULE = 4;
/** Rules of one table start and end within this of each other (in body sizes). */
const SAME_EXTENT = 0.6;
/** Text this close to a rule (in body sizes) is inside the table it frames (cell padding is less, paragraph spacing more). */
const HUG = 0.8;
/** Rules with no text between them are one table's only when they end this close (pt: a rule's width). */
const EMPTY_ROW_EXTENT = 2;
/** Rules this close (in body sizes) with nothing between them are one double rule. */
const DOUBLE_RULE = 0.5;
/** An empty row between two rules is at most this high (in body sizes). */
const EMPTY_ROW = 2.5;
/** Lines of one strip of a table follow each other this closely at most (in body sizes): rows, not paragraphs. */
const ROW_GAP = 0.6;
/** Lines of one header cell are set this close at most (in body sizes); a heading over the table keeps more space. */
const WRAPPED_HEADER_GAP = 0.12;
/** Font sizes of a table's rows differ by less than this share (a heading above a rule is larger). */
const SAME_SIZE = 0.15;
/** A table cut by a page break runs to the page's end (or from its top): what lies beyond, if anything, is at least this far (in body sizes: a page number, a running head). */
const PAGE_EDGE_GAP = 1.5;

interface Chain {
  rules: Rule[];
  from: number;
  to: number;
}

/** Tables framed by rules, keyed by the index of their first line. */
export function ruledTables(lines: TableLine[], body: number, rects: readonly Rect[], carried?: number[]): Map<number, FoundTable> {
  const found = new Map<number, FoundTable>();
  if (rects.length === 0 || lines.length === 0) return found;
  const { horizontal, vertical } = pageRules(rects);
  const frames = horizontal.filter((r) => r.to - r.from >= body * MIN_FRAME_RULE);
  if (frames.length === 0) return found;
  const lefts = [...new Set(lines.map((l) => l.left))].sort((a, b) => a - b);
  // The text column a rule stands in: its lines are the ones that can be the table's.
  const columnOf = (rule: Rule): number => lefts.filter((x) => x <= rule.from + body).pop() ?? lefts[0];
  const byColumn = new Map<number, number[]>();
  for (const [i, l] of lines.entries()) byColumn.set(l.left, [...(byColumn.get(l.left) ?? []), i]);
  const ownLines = (rule: Rule): number[] => byColumn.get(columnOf(rule)) ?? [];
  const boxes = new Map([...byColumn].map(([left, own]) => [left, own.map((i) => lines[i].line.bbox)]));
  const chains = chainRules(frames, vertical, (rule) => boxes.get(columnOf(rule)) ?? [], body);
  const taken = new Set<number>();
  for (const chain of chains) {
    const region = regionOf(chain, lines, ownLines(chain.rules[0]), body, carried);
    if (!region || region.indexes.some((i) => taken.has(i))) continue;
    const { indexes, top, bottom } = region;
    const inside = (y: number) => y > top + 0.5 && y < bottom - 0.5;
    const interior = chain.rules.filter((r) => inside(r.at)).map((r) => r.at);
    const verticals = vertical
      .filter((v) => v.at > chain.from + 2 && v.at < chain.to - 2 && Math.min(v.to, bottom) - Math.max(v.from, top) > (bottom - top) * 0.5)
      .map((v) => v.at);
    const tableLines = indexes.map((i) => lines[i].line);
    const grid = buildGrid({
      lines: tableLines,
      body,
      verticals,
      separators: interior,
      headerRule: region.headerRule,
      partials: horizontal.filter(
        (r) => r.to - r.from < chain.to - chain.from - body && inside(r.at) && r.from >= chain.from - 2 && r.to <= chain.to + 2,
      ),
      ruledRows: interior.length >= 2,
    });
    if (!grid) continue;
    // One column needs a frame no heading's or page's rule makes: three rules, or a box.
    const boxed = verticals.length > 0 || vertical.some((v) => Math.abs(v.at - chain.from) < 3) || chain.rules.length >= 3;
    if (grid.columns < 2 && !boxed) continue;
    if (grid.rows.length < 2 && chain.rules.length < 3) continue;
    for (const i of indexes) taken.add(i);
    found.set(indexes[0], {
      block: {
        type: 'table',
        bbox: unionBoxes(tableLines.map((l) => l.bbox)),
        rows: grid.rows,
        ...(grid.headerRows > 1 ? { headerRows: grid.headerRows } : {}),
        ...(grid.spans.length ? { spans: grid.spans } : {}),
        lines: tableLines,
      },
      end: indexes[indexes.length - 1] + 1,
    });
  }
  return found;
}

/** Frame rules stacked into tables, top to bottom. `boxesOf`: the text lines of the column a rule stands in. */
function chainRules(frames: Rule[], verticals: Rule[], boxesOf: (rule: Rule) => BBox[], body: number): Chain[] {
  const chains: Chain[] = [];
  for (const rule of [...frames].sort((a, b) => a.at - b.at)) {
    const tol = body * SAME_EXTENT + 2;
    const chain = chains.find(
      (c) => Math.abs(c.from - rule.from) <= tol && Math.abs(c.to - rule.to) <= tol && framesStrip(c.rules, rule, boxesOf(rule), verticals, body),
    );
    if (chain) {
      chain.rules.push(rule);
      chain.from = Math.min(chain.from, rule.from);
      chain.to = Math.max(chain.to, rule.to);
    } else {
      chains.push({ rules: [rule], from: rule.from, to: rule.to });
    }
  }
  return chains;
}

/**
 * Does a rule close a strip of the table framed by `rules` so far? The text between the last of
 * them and this one sits close to both, stays within their width and has no paragraph's spacing
 * inside it. With no text between them they are a double rule, an empty row whose borders run
 * down both sides, or an empty row of a table already framed (or of one starting with an empty
 * header: no text close over its first rule, which would make that rule a heading's underline).
 */
function framesStrip(rules: Rule[], below: Rule, boxes: BBox[], verticals: Rule[], body: number): boolean {
  const above = rules[rules.length - 1];
  const across = (b: BBox) => b.x1 > above.from && b.x0 < above.to && !crossesInto(b, above, body);
  const between = boxes.filter((b) => (b.y0 + b.y1) / 2 > above.at && (b.y0 + b.y1) / 2 < below.at && across(b)).sort((a, b) => a.y0 - b.y0);
  if (between.length === 0) {
    const gap = below.at - above.at;
    const side = (x: number) => verticals.some((v) => Math.abs(v.at - x) < 3 && v.from <= above.at + 1 && v.to >= below.at - 1);
    const underline = boxes.some((b) => b.y1 <= above.at + 1 && above.at - b.y1 <= body * HUG && across(b));
    // (A frame drawn under a table, a figure's box, is a little narrower or wider: not its row.)
    const sameExtent = Math.abs(above.from - below.from) <= EMPTY_ROW_EXTENT && Math.abs(above.to - below.to) <= EMPTY_ROW_EXTENT;
    if (!sameExtent) return false;
    return gap <= body * DOUBLE_RULE || (side(above.from) && side(above.to)) || (gap <= body * EMPTY_ROW && (rules.length > 1 || !underline));
  }
  if (between[0].y0 - above.at > body * HUG) return false;
  let bottom = between[0].y1;
  for (const b of between) {
    if (b.y0 - bottom > body * ROW_GAP || b.x1 > above.to + body || b.x0 < above.from - body) return false;
    bottom = Math.max(bottom, b.y1);
  }
  return below.at - bottom <= body * HUG;
}

/**
 * A line that starts inside a table's width, well right of its left edge, and runs on past its
 * right end (or starts well left of it and ends inside it) is text of the next column that the
 * table overlaps (a table too wide for its column), not a row of it.
 */
function crossesInto(b: BBox, rule: Rule, body: number): boolean {
  return (b.x0 > rule.from + body * 2 && b.x1 > rule.to + body) || (b.x0 < rule.from - body * 2 && b.x1 < rule.to - body * 2);
}

interface Region {
  indexes: number[];
  top: number;
  bottom: number;
  /** The rule under the header, when the table shows its header. */
  headerRule?: number;
}

/**
 * The lines a chain of rules frames: between its first and last rule, plus the rows a page break
 * cut off from them (above the first rule only when the page before ended with a table), plus (for a lone rule) the header above it and the rows below. Lines of
 * another text column the table overlaps are drawn apart from the table's own: only the run of
 * lines drawn one after the other that holds the table's own (`own`: those of its column) is kept.
 */
function regionOf(chain: Chain, lines: TableLine[], own: number[], body: number, carried: number[] | undefined): Region | undefined {
  const first = chain.rules[0];
  const last = chain.rules[chain.rules.length - 1];
  const inside = new Set<number>();
  for (let i = 0; i < lines.length; i++) {
    const b = lines[i].line.bbox;
    const mid = (b.y0 + b.y1) / 2;
    if (mid > first.at && mid < last.at && b.x1 > chain.from - 1 && b.x0 < chain.to + 1) inside.add(i);
  }
  let below = linesBelow(lines, own, last, chain, body);
  let above: number[] = [];
  let headerRule: number | undefined;
  let top = first.at;
  if (chain.rules.length === 1) {
    above = headerAbove(lines, own, first, chain, body);
    if (above.length === 0 || below.length === 0) return undefined;
    const size = (i: number) => lines[i].line.fontSize;
    if (Math.abs(size(above[0]) - size(below[0])) > size(below[0]) * SAME_SIZE) return undefined;
    // A header's rule runs under all of it; a rule under one figure (a statement's subtotal) does not.
    if (above.some((i) => !spansAcross(first, lines[i].line.bbox, body))) return undefined;
    top = Math.min(...above.map((i) => lines[i].line.bbox.y0)) - 1;
    headerRule = first.at;
  } else {
    const owned = new Set(own);
    const framed = [...inside].filter((i) => owned.has(i)).map((i) => lines[i].line);
    below = cutOff(below, framed, lines, own, body, 'below');
    // Rows above the first rule only go on a table the page before ended with (`carried`: its columns).
    if (carried) above = cutOff(linesAbove(lines, own, first, chain, body), framed, lines, own, body, 'above');
    // A part that starts at a page's top is the rest of a table whose header was on the page before.
    if (above.length) top = Math.min(...above.map((i) => lines[i].line.bbox.y0)) - 1;
    else if (chain.rules.length >= 3 || below.length) headerRule = chain.rules[1].at;
  }
  for (const i of [...above, ...below]) inside.add(i);
  const indexes = longestRunWith(
    [...inside].sort((a, b) => a - b),
    new Set(own),
  );
  if (indexes.length === 0) return undefined;
  const bottom = below.length ? Math.max(...below.map((i) => lines[i].line.bbox.y1)) + 1 : last.at;
  return { indexes, top, bottom, headerRule };
}

/**
 * The lines beyond a chain's first or last rule that are rows of the table a page break cut:
 * rows in the table's columns and sizes, reaching the page's end (or top) with nothing close
 * beyond them. Anything else (a paragraph after the table) leaves the table closed.
 */
function cutOff(
  candidates: number[],
  framed: TableLine['line'][],
  lines: TableLine[],
  own: number[],
  body: number,
  side: 'above' | 'below',
): number[] {
  if (candidates.length === 0 || framed.length === 0) return [];
  const starts = columnStartsOf(framed, body);
  if (starts.length < 2) return [];
  const sizes = framed.map((l) => l.fontSize);
  const rowLike = (i: number) =>
    fitsColumns(lines[i].line, starts, body) && sizes.some((size) => Math.abs(lines[i].line.fontSize - size) <= size * SAME_SIZE);
  if (!candidates.every(rowLike)) return [];
  const boxes = candidates.map((i) => lines[i].line.bbox);
  const taken = new Set(candidates);
  const edge = side === 'below' ? Math.max(...boxes.map((b) => b.y1)) : Math.min(...boxes.map((b) => b.y0));
  const beyond = own
    .filter((i) => !taken.has(i))
    .map((i) => lines[i].line.bbox)
    .filter((b) => (side === 'below' ? b.y0 > edge : b.y1 < edge));
  const distance = Math.min(...beyond.map((b) => (side === 'below' ? b.y0 - edge : edge - b.y1)));
  return beyond.length === 0 || distance > body * PAGE_EDGE_GAP ? candidates : [];
}

/** The longest run of consecutive indexes holding at least one of `own`. */
function longestRunWith(sorted: number[], own: Set<number>): number[] {
  let best: number[] = [];
  let run: number[] = [];
  const close = () => {
    if (run.length > best.length && run.some((i) => own.has(i))) best = run;
  };
  for (const i of sorted) {
    if (run.length && i !== run[run.length - 1] + 1) {
      close();
      run = [];
    }
    run.push(i);
  }
  close();
  return best;
}

/** Lines under a rule that carry a table on: the first close under it, each next one close under the one before, within the rule's width. */
function linesBelow(lines: TableLine[], own: number[], rule: Rule, chain: Chain, body: number): number[] {
  const order = own
    .filter((i) => {
      const b = lines[i].line.bbox;
      return b.y0 > rule.at - 1 && b.x0 >= chain.from - body && b.x0 < chain.to;
    })
    .sort((a, b) => lines[a].line.bbox.y0 - lines[b].line.bbox.y0);
  const out: number[] = [];
  let bottom = rule.at;
  let limit = body * HUG;
  for (const i of order) {
    const b = lines[i].line.bbox;
    if (crossesInto(b, rule, body)) continue;
    if (b.y0 - bottom > limit) break;
    if (b.x1 > chain.to + body) break; // wider than the table: the text after it
    out.push(i);
    bottom = Math.max(bottom, b.y1);
    limit = body * ROW_GAP;
  }
  return out;
}

/** Lines over a rule that lead into it the same way (the rows of a table whose top a page break cut off). */
function linesAbove(lines: TableLine[], own: number[], rule: Rule, chain: Chain, body: number): number[] {
  const order = own
    .filter((i) => {
      const b = lines[i].line.bbox;
      return b.y1 < rule.at + 1 && b.x0 >= chain.from - body && b.x0 < chain.to;
    })
    .sort((a, b) => lines[b].line.bbox.y1 - lines[a].line.bbox.y1);
  const out: number[] = [];
  let top = rule.at;
  let limit = body * HUG;
  for (const i of order) {
    const b = lines[i].line.bbox;
    if (crossesInto(b, rule, body)) continue;
    if (top - b.y1 > limit) break;
    if (b.x1 > chain.to + body) break;
    out.push(i);
    top = Math.min(top, b.y0);
    limit = body * ROW_GAP;
  }
  return out;
}

/**
 * The header over a lone rule: the lines close above it, on one baseline, and the lines of
 * header cells that wrap above those (set as tightly as lines of one cell, in the same size and
 * style).
 */
function headerAbove(lines: TableLine[], own: number[], rule: Rule, chain: Chain, body: number): number[] {
  const order = own
    .filter((i) => {
      const b = lines[i].line.bbox;
      return b.y1 < rule.at + 1 && b.x1 > chain.from && b.x0 < chain.to;
    })
    .sort((a, b) => lines[b].line.bbox.y1 - lines[a].line.bbox.y1);
  if (order.length === 0) return [];
  const closest = lines[order[0]].line;
  if (rule.at - closest.bbox.y1 > body * HUG) return [];
  const header: number[] = [];
  let baseline = closest.bbox.y1;
  let top = Infinity;
  for (const i of order) {
    const line = lines[i].line;
    const onBaseline = Math.abs(line.bbox.y1 - baseline) < body * 0.3;
    if (!onBaseline) {
      const style = (l: typeof line) => `${Math.round(l.fontSize)}/${l.runs[0].bold}/${l.runs[0].italic}`;
      if (top - line.bbox.y1 > body * WRAPPED_HEADER_GAP || style(line) !== style(closest)) break;
      baseline = line.bbox.y1;
    }
    header.push(i);
    top = Math.min(top, line.bbox.y0);
  }
  return header;
}
