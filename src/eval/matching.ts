// Pairing what the truth has with what the output has (headings, tables, items, code blocks):
// one-to-one, best-scoring pairs first, and counting the pairs as an F1.

/** A multiset of strings: trigrams of a text, cells of a table. */
export type Bag = Map<string, number>;

export function trigramBag(text: string): Bag {
  const bag: Bag = new Map();
  const padded = ` ${text} `;
  for (let i = 0; i + 3 <= padded.length; i++) {
    const gram = padded.slice(i, i + 3);
    bag.set(gram, (bag.get(gram) ?? 0) + 1);
  }
  return bag;
}

function bagSize(bag: Bag): number {
  let size = 0;
  for (const count of bag.values()) size += count;
  return size;
}

/** Dice coefficient of two multisets: 2·|a ∩ b| / (|a| + |b|); two empty bags agree. */
export function bagOverlap(a: Bag, b: Bag): number {
  const total = bagSize(a) + bagSize(b);
  if (!total) return 1;
  const [small, large] = a.size < b.size ? [a, b] : [b, a];
  let shared = 0;
  for (const [key, count] of small) shared += Math.min(count, large.get(key) ?? 0);
  return (2 * shared) / total;
}

export interface Pair {
  truth: number;
  output: number;
  score: number;
}

/**
 * One-to-one pairs of truth item and output item whose score reaches `threshold`, taken greedily
 * from the best score down. Between equal scores the pair whose items sit at the same relative
 * place in their documents wins (a repeated heading pairs with its own copy), then document order.
 */
export function pairGreedily(truthCount: number, outputCount: number, score: (truth: number, output: number) => number, threshold: number): Pair[] {
  const candidates: Array<Pair & { offset: number }> = [];
  for (let t = 0; t < truthCount; t++) {
    for (let o = 0; o < outputCount; o++) {
      const s = score(t, o);
      if (s >= threshold)
        candidates.push({ truth: t, output: o, score: s, offset: Math.abs(t / Math.max(1, truthCount) - o / Math.max(1, outputCount)) });
    }
  }
  candidates.sort((x, y) => y.score - x.score || x.offset - y.offset);
  const truthTaken = new Uint8Array(truthCount);
  const outputTaken = new Uint8Array(outputCount);
  const pairs: Pair[] = [];
  for (const { truth, output, score: s } of candidates) {
    if (truthTaken[truth] || outputTaken[output]) continue;
    truthTaken[truth] = outputTaken[output] = 1;
    pairs.push({ truth, output, score: s });
  }
  return pairs;
}

/** F1 of `found` true pairs; null when neither side has any item (nothing to judge). */
export function f1(found: number, truthCount: number, outputCount: number): number | null {
  return truthCount + outputCount === 0 ? null : (2 * found) / (truthCount + outputCount);
}
