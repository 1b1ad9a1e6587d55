import type { Block } from './markdown.js';
import { matchKey } from './text.js';

// Reading order: each paragraph-sized block of the truth is located in the output's text by its
// word 4-grams, and the share of located blocks that come in the truth's order (the longest
// increasing run of their positions) is the score. Blocks the output lost do not count here:
// the text metric sees them.

/** Words per shingle: long enough to be specific, short enough to survive a misread word. */
const SHINGLE = 4;
/** Blocks shorter than this (labels, short items) are too common to locate reliably. */
const MIN_WORDS = 6;
/** A shingle seen more often than this in the output is boilerplate; later sightings are ignored. */
const MAX_SIGHTINGS = 64;
/** Starts this close together are one placement (a word inserted or dropped shifts it). */
const VOTE_WINDOW = 3;
/** A block is located when at least half its shingles agree on where it starts. */
const MIN_AGREEMENT = 0.5;

export interface OrderScore {
  order: number | null;
  /** Blocks located / blocks long enough to locate. */
  located: number;
  considered: number;
}

export function orderScore(truth: Block[], outputText: string): OrderScore {
  const units: string[][] = [];
  for (const b of truth) {
    // Table rows are judged by the table metrics.
    if (b.type === 'table') continue;
    const words = wordsOf(b.text);
    if (words.length >= MIN_WORDS) units.push(words);
  }
  const output = wordsOf(outputText);
  const sightings = new Map<string, number[]>();
  for (let k = 0; k + SHINGLE <= output.length; k++) {
    const shingle = output.slice(k, k + SHINGLE).join(' ');
    const at = sightings.get(shingle);
    if (!at) sightings.set(shingle, [k]);
    else if (at.length < MAX_SIGHTINGS) at.push(k);
  }

  const positions: number[] = [];
  let previous = -1;
  for (const words of units) {
    const shingles = words.length - SHINGLE + 1;
    const votes = new Map<number, number>();
    for (let k = 0; k < shingles; k++) {
      for (const at of sightings.get(words.slice(k, k + SHINGLE).join(' ')) ?? []) votes.set(at - k, (votes.get(at - k) ?? 0) + 1);
    }
    let best: number | undefined;
    let bestVotes = 0;
    for (const start of votes.keys()) {
      let total = 0;
      for (let d = -VOTE_WINDOW; d <= VOTE_WINDOW; d++) total += votes.get(start + d) ?? 0;
      if (total > bestVotes || (total === bestVotes && best !== undefined && preferredStart(start, best, previous))) {
        best = start;
        bestVotes = total;
      }
    }
    if (best !== undefined && bestVotes >= MIN_AGREEMENT * shingles) {
      positions.push(best);
      previous = best;
    }
  }
  return {
    order: positions.length ? longestIncreasingRun(positions) / positions.length : null,
    located: positions.length,
    considered: units.length,
  };
}

function wordsOf(text: string): string[] {
  return matchKey(text).split(' ').filter(Boolean);
}

/**
 * Between equally supported starts (text that occurs twice), the first one after the previous
 * block's; failing that, the last one before it.
 */
function preferredStart(candidate: number, current: number, previous: number): boolean {
  const candidateAfter = candidate > previous;
  if (candidateAfter !== current > previous) return candidateAfter;
  return candidateAfter ? candidate < current : candidate > current;
}

/** Length of the longest strictly increasing subsequence (patience sorting). */
function longestIncreasingRun(values: number[]): number {
  const tails: number[] = [];
  for (const v of values) {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (tails[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    tails[lo] = v;
  }
  return tails.length;
}
