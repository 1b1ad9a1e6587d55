import type { Line } from '../types.js';

// Layout step, words hyphenated at a line's end. LaTeX and word processors set with hyphenation
// ("suffi-" / "cient"), browsers do not, but any producer breaks a compound after its own hyphen
// ("wrap-" / "around"). Which one a break is comes from the document's own words: a word seen
// whole elsewhere is re-joined, one seen with its hyphen keeps it; for a word seen neither way,
// what the document's other breaks showed decides.

export interface Lexicon {
  /** Words seen in the document, lower case; hyphenated compounds as written. */
  words: Set<string>;
  /** The document's breaks mostly re-join (it hyphenates); undefined when no break told. */
  hyphenates?: boolean;
}

const WORD = /\p{L}[\p{L}\p{N}'’-]*\p{L}|\p{L}/gu;

export function buildLexicon(lines: Iterable<Line>): Lexicon {
  const words = new Set<string>();
  const breaks: Array<[string, string]> = [];
  let prevEnd: string | undefined;
  for (const line of lines) {
    const tokens = line.text.match(WORD) ?? [];
    const endsHyphen = /\p{L}-$/u.test(line.text);
    if (prevEnd && tokens[0]) breaks.push([prevEnd, tokens[0].toLowerCase()]);
    const last = endsHyphen ? tokens.length - 1 : tokens.length;
    for (let k = prevEnd ? 1 : 0; k < last; k++) words.add(tokens[k].toLowerCase());
    prevEnd = endsHyphen ? tokens[tokens.length - 1]?.toLowerCase().replace(/-$/, '') : undefined;
  }
  let join = 0;
  let keep = 0;
  for (const [left, right] of breaks) {
    const stem = right.match(/^[\p{L}']+/u)?.[0] ?? right;
    if (words.has(left + stem)) join++;
    else if (words.has(`${left}-${stem}`)) keep++;
  }
  return { words, hyphenates: join + keep === 0 ? undefined : join >= keep };
}

/**
 * Does "left-" at a line's end join "right" on the next line without its hyphen? (Otherwise the
 * hyphen stays and the words join with it.)
 */
export function dropsHyphen(left: string, right: string, lexicon: Lexicon | undefined): boolean {
  if (!lexicon) return true;
  const l = (left.match(/[\p{L}']+$/u)?.[0] ?? left).toLowerCase();
  const r = (right.match(/^[\p{L}']+/u)?.[0] ?? right).toLowerCase();
  const whole = lexicon.words.has(l + r);
  const hyphenated = lexicon.words.has(`${l}-${r}`);
  if (whole !== hyphenated) return whole;
  return lexicon.hyphenates ?? true;
}
