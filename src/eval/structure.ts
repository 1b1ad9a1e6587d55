import { shortSimilarity } from './distance.js';
import type { Block, ListItem } from './markdown.js';
import { bagOverlap, f1, pairGreedily, trigramBag, type Bag } from './matching.js';
import { matchKey, plainText } from './text.js';

// The structure metrics: were the headings, tables, list items and code blocks of the truth
// found as such in the output? Each is an F1 over one-to-one pairs of truth and output blocks.

type Heading = Extract<Block, { type: 'heading' }>;
type Table = Extract<Block, { type: 'table' }>;
type Code = Extract<Block, { type: 'code' }>;

/** Counts behind an F1, kept so several documents can be pooled. */
export interface Tally {
  truth: number;
  output: number;
  found: number;
}

/** Headings are the same when their texts are this similar (a typo or a dropped number). */
const HEADING_SIMILARITY = 0.8;
/** Beyond a quarter of the longer text (plus two characters) apart in length, never the same heading. */
const HEADING_LENGTH_SLACK = 0.25;

export function headingScores(truth: Heading[], output: Heading[]): { headings: number | null; headingLevels: number | null; tally: Tally } {
  const t = truth.map((h) => matchKey(h.text));
  const o = output.map((h) => matchKey(h.text));
  const pairs = pairGreedily(
    t.length,
    o.length,
    (i, j) => {
      if (t[i] === o[j]) return 1;
      if (Math.abs(t[i].length - o[j].length) > HEADING_LENGTH_SLACK * Math.max(t[i].length, o[j].length) + 2) return 0;
      return shortSimilarity(t[i], o[j]);
    },
    HEADING_SIMILARITY,
  );
  const levelsRight = pairs.filter((p) => truth[p.truth].level === output[p.output].level).length;
  return {
    headings: f1(pairs.length, t.length, o.length),
    headingLevels: f1(levelsRight, t.length, o.length),
    tally: { truth: t.length, output: o.length, found: pairs.length },
  };
}

/** Tables are the same table when this much of their cell contents agree. */
const TABLE_OVERLAP = 0.3;

function cellBag(table: Table): Bag {
  const bag: Bag = new Map();
  for (const row of table.rows) {
    for (const cell of row) {
      const key = matchKey(cell).replace(/\s+/g, '');
      if (key) bag.set(key, (bag.get(key) ?? 0) + 1);
    }
  }
  return bag;
}

/**
 * `tables`: F1 of tables found. `cells`: per truth table, the overlap of its cells with the
 * table it was paired with (0 when none), averaged; an output with tables where the truth has
 * none scores 0.
 */
export function tableScores(truth: Table[], output: Table[]): { tables: number | null; cells: number | null; tally: Tally } {
  const t = truth.map(cellBag);
  const o = output.map(cellBag);
  const pairs = pairGreedily(t.length, o.length, (i, j) => bagOverlap(t[i], o[j]), TABLE_OVERLAP);
  const cellScore = new Array<number>(t.length).fill(0);
  for (const p of pairs) cellScore[p.truth] = p.score;
  const cells = t.length ? cellScore.reduce((a, b) => a + b, 0) / t.length : o.length ? 0 : null;
  return { tables: f1(pairs.length, t.length, o.length), cells, tally: { truth: t.length, output: o.length, found: pairs.length } };
}

/** List items whose texts differ a little (a hyphen, a joined word) are still the same item. */
const ITEM_OVERLAP = 0.8;
/** Above this many candidate pairs the fuzzy pass is skipped: it is quadratic. */
const MAX_FUZZY_ITEM_PAIRS = 4_000_000;

/** Items pair by identical text first (in order), then the rest by trigram overlap. */
export function listScores(truth: ListItem[], output: ListItem[]): { lists: number | null; tally: Tally } {
  const t = truth.map((item) => matchKey(item.text));
  const o = output.map((item) => matchKey(item.text));
  const unpairedOutputs = new Map<string, number[]>();
  o.forEach((key, j) => {
    const list = unpairedOutputs.get(key);
    if (list) list.push(j);
    else unpairedOutputs.set(key, [j]);
  });
  const truthPaired = new Uint8Array(t.length);
  const outputPaired = new Uint8Array(o.length);
  let found = 0;
  t.forEach((key, i) => {
    const j = unpairedOutputs.get(key)?.shift();
    if (j === undefined) return;
    truthPaired[i] = outputPaired[j] = 1;
    found++;
  });
  const restT = t.flatMap((_, i) => (truthPaired[i] ? [] : [i]));
  const restO = o.flatMap((_, j) => (outputPaired[j] ? [] : [j]));
  if (restT.length && restO.length && restT.length * restO.length <= MAX_FUZZY_ITEM_PAIRS) {
    const gt = restT.map((i) => trigramBag(t[i]));
    const go = restO.map((j) => trigramBag(o[j]));
    found += pairGreedily(restT.length, restO.length, (a, b) => bagOverlap(gt[a], go[b]), ITEM_OVERLAP).length;
  }
  return { lists: f1(found, t.length, o.length), tally: { truth: t.length, output: o.length, found } };
}

/** Code blocks are the same block when half their trigrams agree (wrapped lines, lost indentation). */
const CODE_OVERLAP = 0.5;

export function codeScores(truth: Code[], output: Code[]): { code: number | null; tally: Tally } {
  const t = truth.map((c) => trigramBag(plainText(c.text)));
  const o = output.map((c) => trigramBag(plainText(c.text)));
  const pairs = pairGreedily(t.length, o.length, (i, j) => bagOverlap(t[i], o[j]), CODE_OVERLAP);
  return { code: f1(pairs.length, t.length, o.length), tally: { truth: t.length, output: o.length, found: pairs.length } };
}
