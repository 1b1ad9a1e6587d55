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

/** Words as the break test sees them: lower-case letters (a break is only re-joined between those). */
const WORD = /[a-z][a-z'’-]*[a-z]|[a-z]/g;

export function buildLexicon(lines: Iterable<Line>): Lexicon {
  const words = new Set<string>();
  const breaks: Array<[string, string]> = [];
  let prevEnd: string | undefined;
  for (const line of lines) {
    const tokens = line.text.toLowerCase().match(WORD) ?? [];
    const endsHyphen = /[a-z]-$/i.test(line.text);
    if (prevEnd && tokens[0]) breaks.push([prevEnd, tokens[0]]);
    const last = endsHyphen ? tokens.length - 1 : tokens.length;
    for (let k = prevEnd ? 1 : 0; k < last; k++) words.add(tokens[k]);
    prevEnd = endsHyphen ? tokens[tokens.length - 1]?.replace(/-$/, '') : undefined;
  }
  let join = 0;
  let keep = 0;
  for (const [left, right] of breaks) {
    const stem = right.match(/^[a-z']+/)?.[0] ?? right;
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
  const l = (left.toLowerCase().match(/[a-z']+$/)?.[0] ?? left).toLowerCase();
  const r = (right.toLowerCase().match(/^[a-z']+/)?.[0] ?? right).toLowerCase();
  const whole = lexicon.words.has(l + r);
  const hyphenated = lexicon.words.has(`${l}-${r}`);
  if (whole !== hyphenated) return whole;
  return lexicon.hyphenates ?? true;
}
