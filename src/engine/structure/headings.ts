import { textSize } from '../extract/lines.js';
import type { Block, Line, Processor } from '../types.js';
import { textMeasures } from '../layout/measures.js';
import { splitRunIn } from './run-in.js';

// Structure step: headings. A heading is a short block set apart from the body text by its look:
// larger, bold, in a font of its own, or a phrase run into the start of a paragraph; numbered
// ("2.3 Results", "A.1", "IV. METHODS") or spaced like a heading (more space above than below).
//
// Levels: numbered headings take theirs from the depth of their number. The others from their
// size against the body text, read on the ladder of heading sizes that fits the document: the
// default styles of the common producers (browsers' stylesheets, LaTeX's classes, word
// processors) each use a fixed ladder, so a document without a level-1 heading keeps its levels.
// A document that fits none is ranked by size. Below the sizes come, in this order, bold lines,
// lines in a font of their own, run-in phrases, and smaller bold lines.

/** Heading sizes (over the body size) of the producers' default styles, level 1 first. */
const HTML_LADDERS: readonly (readonly number[])[] = [
  [2, 1.5, 1.25], // browsers printing GitHub-styled HTML (h1 2em, h2 1.5em, h3 1.25em)
  [2, 1.5, 1.17], // browsers' default stylesheet
];
const LADDERS: readonly (readonly number[])[] = [
  ...HTML_LADDERS,
  [1.44, 1.2], // LaTeX \Large and \large over 10 pt (and 17.28/14.4 over 12 pt)
  [1.315, 1.096], // LaTeX over 11 pt
  [1.333, 1.167], // word processors' default heading styles over a 12 pt body (16, 14 pt)
  [1.455, 1.18, 1.09], // Word's default heading styles over an 11 pt body (16, 13, 12 pt)
];
/** How far (relative) an observed size may be from a ladder's rung and still sit on it. */
const RUNG_TOLERANCE = 0.04;
/** Set this much larger than the body: a heading by size. */
const LARGER = 1.05;
/** Between LARGER and this, size alone is not enough (lead paragraphs are set a little larger): bold or its own font too. */
const CLEARLY_LARGER = 1.12;
/** At about body size: down to this. */
const BODY_SIZED = 0.96;
/** Below this, a small heading is a level further down (html's h5 is 0.875 em, h6 0.85 em). */
const SMALLER_STEP = 0.862;
/** Smallest heading size (html's h6 is 0.85 em). */
const SMALLEST = 0.8;
/** A document numbers its headings when this many, and this share, of them are numbered. */
const MIN_NUMBERED = 3;
const NUMBERED_SHARE = 0.3;
/** A gap this wide (body sizes) between words on a line parts table cells. */
const CELL_GAP = 2;
/** Headings are short. */
const MAX_LINES = 3;
const MAX_CHARS = 200;

/**
 * What sets a heading apart, in the order levels follow below the ladder's sizes. 'code': a
 * heading of code in the code blocks' own face, which its style neither bolds nor slants (Word's
 * Heading 5 below the bold and the italic ones).
 */
type Look = 'large' | 'bold' | 'font' | 'run-in' | 'small' | 'code';
/** Levels below the ladder's last rung, by look (small ones add their size rank). */
const BELOW_LADDER: Record<Exclude<Look, 'large'>, number> = { bold: 1, font: 2, 'run-in': 2, small: 2, code: 3 };

interface Candidate {
  index: number;
  look: Look;
  /** Size over the body, rounded to the thousandth. */
  ratio: number;
  numbering?: { depth: number };
}

export const detectHeadings: Processor = (doc) => {
  const body = bodyFontSize(doc.blocks);
  if (body === 0) return doc;
  const { codeGap, codeScale } = textMeasures(doc.pages);
  const inline = { codeGap };
  const blocks = doc.blocks.flatMap((b) => {
    const split = splitRunIn(b, inline);
    return split ? [{ ...split.heading, runIn: true }, split.rest] : [b];
  });
  const bodyFont = dominantFont(blocks);
  const headingFonts = standaloneFonts(blocks, bodyFont);
  const spacing = blockSpacing(blocks, body);
  const found = blocks.map(
    (block, i) => candidate(block, i, body, bodyFont, headingFonts, codeScale) ?? numberedTitleLine(block, i, doc.pages[block.page]?.source),
  );
  lettersUnderNumerals(found, blocks);
  for (const i of bylineOf(blocks, found)) found[i] = undefined;
  // Without a number, a larger size or a font kept for headings, a heading must be spaced like
  // one (a bold or italic sentence of its own is emphasis).
  const inHeadingFont = (c: Candidate) =>
    blocks[c.index].lines!.every((l) => l.runs.every((r) => headingFonts.has(r.fontName) || !/\w/.test(r.text)));
  const needsSpacing = (c: Candidate) => c.look !== 'large' && c.look !== 'run-in' && !c.numbering && !inHeadingFont(c);
  // A document whose body-sized headings have a font of their own sets no heading in the body's
  // bold: there a bold line under a heading is emphasis unless spaced like a heading itself.
  const ownBodyHeadingFont = found.some((c) => c && c.look !== 'large' && c.look !== 'run-in' && inHeadingFont(c));
  // Browsers collapse a heading's bottom margin into the next one's top margin, so a heading
  // stacked under another keeps more space above than below; print producers add no such space.
  const ladder = pickLadder(found.filter((c) => c?.look === 'large').map((c) => c!.ratio));
  const stackedKeepSpace = HTML_LADDERS.includes(ladder);
  const accepted = new Set<number>();
  for (let i = 0; i < found.length; i++) {
    const c = found[i];
    if (!c) continue;
    if (!needsSpacing(c)) {
      accepted.add(i);
      continue;
    }
    // Headings stacked one over the next are spaced as one: above the first, below the last.
    let last = i;
    while (found[last + 1] && needsSpacing(found[last + 1]!)) last++;
    const underHeading = accepted.has(i - 1) && !stackedKeepSpace && !ownBodyHeadingFont;
    if (spacedLikeHeading(blocks[i - 1], blocks[i], blocks[last], blocks[last + 1], body, spacing, underHeading)) {
      for (let k = i; k <= last; k++) accepted.add(k);
    }
    i = last;
  }
  const candidates = found.filter((c, i): c is Candidate => c !== undefined && accepted.has(i));
  // (A section number makes it a section's own heading: run-in headings go unnumbered.)
  const numbersSections = numbersHeadings(candidates);
  const sectionNumbered = (c: Candidate) => c.numbering !== undefined && (c.numbering.depth > 1 || numbersSections);
  for (const c of candidates)
    if (c.look === 'bold' && !sectionNumbered(c) && runInLeftAlone(blocks, c.index, body, (i) => found[i] !== undefined)) c.look = 'run-in';
  candidates.push(...codeLineHeadings(blocks, candidates, body));
  candidates.sort((a, b) => a.index - b.index);
  const levels = assignLevels(candidates, ladder);
  levelAbstract(candidates, levels, blocks);
  if (process.env.DEBUG_HEADINGS)
    for (const c of candidates) console.error(c.look, c.ratio, c.numbering?.depth, levels.get(c.index), blocks[c.index].text?.slice(0, 40));
  const out = blocks.map((block, i) => {
    const level = levels.get(i);
    const { runIn: _runIn, ...plain } = block as Block & { runIn?: boolean };
    if (!level) return plain;
    let text = block.type === 'code' ? `\`${block.text}\`` : plainHeadingText(block.text ?? '');
    // A numbered heading keeps its number, which the list step took for an item's marker.
    if (block.type === 'list_item') text = `${block.marker ?? `${block.number}.`} ${text}`;
    const { number: _number, depth: _depth, indent: _indent, marker: _marker, ...rest } = plain;
    return { ...rest, type: 'heading' as const, level, text };
  });
  return { ...doc, blocks: out };
};

/** The heading over a paper's abstract. */
const ABSTRACT = /^(?:abstract|summary)[.:]?$/i;

/**
 * A paper sets the heading over its abstract small (LaTeX: bold at the body's size or less,
 * centred), yet it stands at the level of the sections that follow, under the title: it takes
 * the level of the first heading after it.
 */
function levelAbstract(candidates: Candidate[], levels: Map<number, number>, blocks: Block[]): void {
  const at = candidates.findIndex((c) => ABSTRACT.test((blocks[c.index].text ?? '').replace(/[*_\\]/g, '').trim()));
  if (at === -1) return;
  const next = candidates[at + 1];
  const level = next && levels.get(next.index);
  const own = levels.get(candidates[at].index);
  if (level !== undefined && own !== undefined && level < own) levels.set(candidates[at].index, level);
}

/**
 * A title's byline: the blocks centred under a document's title on its first page (authors,
 * affiliations, a date), up to the first block that is not centred or is bold (a centred
 * "Abstract"). Set larger than the body, as titles' bylines often are, they are no headings. The
 * title is the largest heading candidate of the first page, centred.
 */
function bylineOf(blocks: Block[], found: (Candidate | undefined)[]): number[] {
  let title: number | undefined;
  for (let i = 0; i < blocks.length && blocks[i].page === 0; i++)
    if (found[i] && (title === undefined || found[i]!.ratio > found[title]!.ratio)) title = i;
  if (title === undefined || !blocks[title].centred) return [];
  const byline: number[] = [];
  for (let i = title + 1; i < blocks.length && blocks[i].page === 0 && blocks[i].centred && !allBold(blocks[i]); i++) byline.push(i);
  return byline;
}

function allBold(block: Block): boolean {
  return !!block.lines?.every((l) => l.runs.every((r) => r.bold || !/\w/.test(r.text)));
}

/** "2", "2.3", "2.3.", "A.1", "B.", "IV." before a heading's words; depth = parts. */
const NUMBERING = /^(?:(\d{1,2}(?:\.\d{1,2})*)\.?|([A-Z](?:\.\d{1,2})+)\.?|[A-Z]\.|[IVXLC]{1,6}\.)\s+(?=\S)/;

function numberingOf(text: string): { depth: number } | undefined {
  // Emphasis marks may close after the number ("**6.4.1** `name`": a bold number, its title in code).
  const m = NUMBERING.exec(
    text
      .replace(/\\/g, '')
      .replace(/^[*_]+/, '')
      .replace(/^([\dA-Z.]+)[*_]+(?=\s)/, '$1'),
  );
  if (!m) return undefined;
  const parts = m[1] ?? m[2];
  return { depth: parts ? parts.split('.').length : 1 };
}

function candidate(block: Block, index: number, body: number, bodyFont: string, headingFonts: Set<string>, codeScale: number): Candidate | undefined {
  const lines = block.lines;
  if (!lines?.length || lines.length > MAX_LINES || (block.text ?? '').length > MAX_CHARS) return undefined;
  const runIn = (block as Block & { runIn?: boolean }).runIn === true;
  // "2. Installation" set large is a numbered heading, not an item of a list (set at body size).
  const numberedItem = block.type === 'list_item' && block.number !== undefined;
  if (block.type !== 'paragraph' && !numberedItem) return undefined;
  const ratio = Math.round((textSize(lines[0], codeScale) / body) * 1000) / 1000;
  if (ratio < SMALLEST) return undefined;
  const bold = lines.every(isBold);
  // Most blocks are body text: set at body size in the body font, not bold.
  const first = lines[0].runs[0];
  if (!runIn && !bold && ratio < CLEARLY_LARGER && first.fontName === bodyFont && !first.monospace) return undefined;
  // Words set far apart on a line are cells of a table row, not a heading.
  if (block.type === 'paragraph' && lines.some((l) => l.runs.some((r, k) => k > 0 && r.bbox.x0 - l.runs[k - 1].bbox.x1 > body * CELL_GAP)))
    return undefined;
  const text = (block.type === 'list_item' ? `${block.marker ?? ''} ` : '') + (block.text ?? '');
  const numbering = numberingOf(text.trim());
  if (runIn) return { index, look: 'run-in', ratio, numbering };
  const runs = lines.flatMap((l) => l.runs).filter((r) => /\w/.test(r.text));
  // Code alone on its line (a monospace face shows no weight in its widths) at body size.
  const codeOnly = runs.length > 0 && runs.every((r) => r.monospace);
  const ownFont = runs.length > 0 && runs.every((r) => r.fontName !== bodyFont && r.fontName !== '' && !r.monospace);
  if (ratio >= CLEARLY_LARGER || (ratio >= LARGER && (bold || ownFont || codeOnly))) return { index, look: 'large', ratio, numbering };
  if (numberedItem) return undefined;
  if (ratio < BODY_SIZED) return bold || codeOnly ? { index, look: 'small', ratio, numbering } : undefined;
  if (bold || codeOnly) return { index, look: 'bold', ratio, numbering };
  // A line in a font of its own (a heading font without weight, or one whose weight the widths
  // do not show), code in it or not: a phrase, not a sentence.
  // With code, the font must be one kept for headings (italics within a sentence are not).
  const prose = runs.filter((r) => !r.monospace);
  const ownFontAndCode = ownFont || (prose.length > 0 && prose.length < runs.length && prose.every((r) => headingFonts.has(r.fontName)));
  if (ownFontAndCode && lines.length <= 2 && !/[.,;]$/.test(plainHeadingText(block.text ?? '').trim()))
    return { index, look: 'font', ratio, numbering };
  // A numbered line set apart from the body font (its number in a heading font, its words in code).
  if (numbering && lines.length <= 2 && runs.every((r) => r.fontName !== bodyFont && r.fontName !== ''))
    return { index, look: 'font', ratio, numbering };
  return undefined;
}

/** A numbered title line is at most this long (characters). */
const MAX_SCANNED_TITLE = 80;

/**
 * A numbered title alone on its line ("2.1 Batching in Inference Servers": a section number, a
 * capitalised title, no closing stop) where no face sets it apart: on an OCR'd page, which has
 * no faces and whose sizes are measured from boxes; in a text layer when set in capitals or
 * small capitals ("IV. METHODS", the body's own face at two sizes) or centred. A heading
 * candidate that must still be spaced like a heading; its level comes from its number.
 */
function numberedTitleLine(block: Block, index: number, source: string | undefined): Candidate | undefined {
  if (block.type !== 'paragraph' || block.lines?.length !== 1) return undefined;
  const text = (block.text ?? '').trim();
  if (text.length > MAX_SCANNED_TITLE || /[.,;:]$/.test(text) || !/^\S+\s+\p{Lu}/u.test(text)) return undefined;
  const capitals = text.replace(/^\S+\s+/, '') === text.replace(/^\S+\s+/, '').toUpperCase();
  if (source !== 'ocr' && !capitals && !block.centred) return undefined;
  const numbering = numberingOf(text);
  return numbering ? { index, look: 'bold', ratio: 1, numbering } : undefined;
}

/** Roman section numbers over lettered subsections ("IV." then "A."), and letters one deeper. */
const ROMAN_NUMBER = /^[IVXLC]{1,6}\.\s/;
const LETTER_NUMBER = /^[A-Z]\.\s/;

/**
 * Where a document numbers its sections with roman numerals and their subsections with letters
 * (IEEE's style), a lettered heading after a roman one is a level deeper (both are one part deep).
 */
function lettersUnderNumerals(found: (Candidate | undefined)[], blocks: Block[]): void {
  let roman = false;
  let lettered = false;
  for (const c of found) {
    if (!c?.numbering) continue;
    const text = (blocks[c.index].text ?? '').replace(/^[*_\\]+/, '').trim();
    // A single letter is a letter ("C. Proofs" among appendices), but for "I." opening the document's numbering.
    const single = LETTER_NUMBER.test(text);
    if (ROMAN_NUMBER.test(text) && (!single || (text.startsWith('I.') && !lettered && !roman))) roman = true;
    else if (single) {
      lettered = true;
      if (roman) c.numbering = { depth: c.numbering.depth + 1 };
    }
  }
}

/** A document runs headings in when it has at least this many. */
const MIN_RUN_INS = 2;
/** How far (body sizes) the space under a line may be from the space under a paragraph and still be that space. */
const SAME_SPACE = 0.02;

/**
 * A run-in heading left alone on its line, because a list, code block or table follows it
 * (LaTeX's \paragraph before a list): set like the display heading a level up (bold, body size),
 * but its line is a paragraph's line, so what follows is spaced exactly as after any paragraph,
 * where a display heading adds a space of its own. Only in a document that runs headings of
 * this font in, and only before a block that is not a paragraph (a paragraph would run in).
 */
function runInLeftAlone(blocks: Block[], index: number, body: number, isCandidate: (index: number) => boolean): boolean {
  const block = blocks[index];
  const next = blocks[index + 1];
  const below = gapBetween(block, next);
  if (below === undefined || next.type === 'paragraph' || next.type === 'heading') return false;
  const words = (block.lines ?? []).flatMap((l) => l.runs).filter((r) => !r.monospace && /\w/.test(r.text));
  // The run-in headings' fonts (none when they are all code, which shows no weight).
  const runIns = blocks.filter((b) => (b as Block & { runIn?: boolean }).runIn);
  const runInFonts = new Set(runIns.flatMap((b) => b.lines![0].runs.filter((r) => !r.monospace).map((r) => r.fontName)));
  if (runIns.length < MIN_RUN_INS || words.length === 0 || (runInFonts.size > 0 && !words.every((r) => runInFonts.has(r.fontName)))) return false;
  // The space a paragraph leaves before a block of this kind: most often, the same everywhere.
  const afterParagraph = blocks
    .flatMap((b, i) => {
      const gap = b.type === 'paragraph' && !isCandidate(i) && blocks[i + 1]?.type === next.type ? gapBetween(b, blocks[i + 1]) : undefined;
      return gap === undefined ? [] : [gap];
    })
    .sort((a, b) => a - b);
  const usual = afterParagraph[Math.floor(afterParagraph.length / 2)];
  return usual !== undefined && Math.abs(below - usual) <= body * SAME_SPACE;
}

/** Body-size headings spaced alike, at least this many, make the document's heading spacing. */
const MIN_SPACED_ALIKE = 3;

/**
 * One-line code blocks spaced exactly as this document spaces its body-size headings (the space
 * above and the space below, which a producer's paragraph styles fix): headings whose text is
 * code, set in the code blocks' own font (a word processor's heading made of inline code).
 * Headings have more space above than below; a code block has its own spacing.
 */
function codeLineHeadings(blocks: Block[], headings: Candidate[], body: number): Candidate[] {
  const spaced = (i: number) => ({ above: gapBetween(blocks[i - 1], blocks[i]), below: gapBetween(blocks[i], blocks[i + 1]) });
  const known = headings
    .filter((c) => c.look !== 'large' && c.look !== 'run-in')
    .map((c) => spaced(c.index))
    .filter((g) => g.above !== undefined && g.below !== undefined);
  if (known.length < MIN_SPACED_ALIKE) return [];
  const alike = (a: number, b: number) => Math.abs(a - b) <= body * SAME_SPACE;
  const out: Candidate[] = [];
  blocks.forEach((block, i) => {
    if (block.type !== 'code' || block.lines?.length !== 1 || !block.text || block.text.length > MAX_CHARS || block.text.includes('`')) return;
    const { above, below } = spaced(i);
    if (above === undefined || below === undefined || above <= below) return;
    const matches = known.filter((g) => alike(g.above!, above) && alike(g.below!, below)).length;
    if (matches >= MIN_SPACED_ALIKE) out.push({ index: i, look: 'code', ratio: 1 });
  });
  return out;
}

/** Does the document number its headings (not just a README's "1. Dependencies")? */
function numbersHeadings(candidates: Candidate[]): boolean {
  return candidates.filter((c) => c.numbering).length >= Math.max(MIN_NUMBERED, candidates.length * NUMBERED_SHARE);
}

/** Levels by candidate index. */
function assignLevels(candidates: Candidate[], ladder: readonly number[]): Map<number, number> {
  const levels = new Map<number, number>();
  const rungs = ladder.length;
  const byLook = (c: Candidate): number => {
    if (c.look === 'large') return rungOf(ladder, c.ratio) + 1;
    if (c.look === 'small') return rungs + BELOW_LADDER.small + (c.ratio >= SMALLER_STEP ? 0 : 1);
    return rungs + BELOW_LADDER[c.look];
  };
  // Numbered headings: their depth, counted from the level their first-depth headings' look has;
  // only in a document that numbers its headings (a README's "1. Dependencies" is a heading
  // that happens to start with a number).
  const numbered = numbersHeadings(candidates) ? candidates.filter((c) => c.numbering) : [];
  const top = Math.min(...numbered.map((c) => c.numbering!.depth));
  const firstDepth = numbered.filter((c) => c.numbering!.depth === top);
  // Set large, they sit where the ladder puts that size; at body size, right under the
  // unnumbered large headings there are (a paper's title), or at the top.
  const largeFirst = firstDepth.filter((c) => c.look === 'large');
  const unnumberedLevels = new Set(candidates.filter((c) => c.look === 'large' && !c.numbering).map(byLook));
  const offset = largeFirst.length ? Math.max(0, Math.min(...largeFirst.map(byLook)) - top) : firstDepth.length ? unnumberedLevels.size : 0;
  let deepestNumberedBody = 0;
  for (const c of numbered) {
    const level = clamp(c.numbering!.depth + offset);
    levels.set(c.index, level);
    if (c.look !== 'large') deepestNumberedBody = Math.max(deepestNumberedBody, level);
  }
  const done = new Set(numbered);
  for (const c of candidates) {
    if (done.has(c)) continue;
    let level = byLook(c);
    // In a numbered document, unnumbered headings at body size are the levels below the numbered ones.
    if (deepestNumberedBody && c.look !== 'large') level = Math.max(level, deepestNumberedBody + 1);
    levels.set(c.index, clamp(level));
  }
  return levels;
}

function clamp(level: number): number {
  return Math.max(1, Math.min(6, level));
}

/** The ladder the observed heading sizes fit best; the sizes themselves, largest first, when none fits. */
function pickLadder(ratios: number[]): readonly number[] {
  const sizes = [...new Set(ratios)];
  if (sizes.length === 0) return LADDERS[0];
  let best: readonly number[] | undefined;
  let bestCost = Infinity;
  for (const ladder of LADDERS) {
    let cost = 0;
    for (const r of ratios) {
      const miss = Math.min(...ladder.map((rung) => Math.abs(Math.log(r / rung))));
      if (miss > Math.log(1 + RUNG_TOLERANCE)) {
        cost = Infinity;
        break;
      }
      cost += miss;
    }
    if (cost < bestCost) [best, bestCost] = [ladder, cost];
  }
  if (best) return best;
  // Sizes within the tolerance of each other are one level.
  const ranked: number[] = [];
  for (const r of sizes.sort((a, b) => b - a)) if (!ranked.length || ranked[ranked.length - 1] / r > 1 + RUNG_TOLERANCE) ranked.push(r);
  return ranked;
}

/** 0-based rung of the ladder nearest to the ratio. */
function rungOf(ladder: readonly number[], ratio: number): number {
  let best = 0;
  for (let k = 1; k < ladder.length; k++) if (Math.abs(Math.log(ratio / ladder[k])) < Math.abs(Math.log(ratio / ladder[best]))) best = k;
  return best;
}

/**
 * Fonts kept for lines of their own: never on a line beside the body font (bold or italic words
 * within a sentence are). Word processors set headings in such a font (a sans face over a serif
 * body); a short line in one is a heading however it is spaced.
 */
function standaloneFonts(blocks: Block[], bodyFont: string): Set<string> {
  const inline = new Set<string>();
  const seen = new Set<string>();
  for (const b of blocks) {
    // Code blocks and tables say nothing: a code font is kept for code, not headings.
    if (b.type === 'code' || b.type === 'table') continue;
    for (const l of b.lines ?? []) {
      const withBody = l.runs.some((r) => r.fontName === bodyFont);
      for (const r of l.runs) {
        if (r.fontName === '' || r.fontName === bodyFont) continue;
        seen.add(r.fontName);
        if (withBody) inline.add(r.fontName);
      }
    }
  }
  return new Set([...seen].filter((f) => !inline.has(f)));
}

/** The font carrying most of the text of the document's paragraphs. */
function dominantFont(blocks: Block[]): string {
  const chars = new Map<string, number>();
  for (const b of blocks) {
    if (b.type !== 'paragraph' && b.type !== 'list_item') continue;
    for (const l of b.lines ?? []) for (const r of l.runs) if (!r.monospace) chars.set(r.fontName, (chars.get(r.fontName) ?? 0) + r.text.length);
  }
  let best = '';
  let most = 0;
  for (const [f, n] of chars) if (n > most) [best, most] = [f, n];
  return best;
}

/**
 * A heading's inline Markdown without the bold stars (a heading is bold already) and without
 * escapes it does not need: a heading is never read as a list marker, another heading or a table
 * row, and its brackets make no link unless "](" or "][" would follow.
 */
function plainHeadingText(text: string): string {
  // Nor the stars of italics: a heading font the widths took for an italic one.
  const plain = outsideCode(text, (t) => t.replace(/(?<!\\|\[\^\**)\*+/g, '').replace(/\\\|/g, '|'))
    .replace(/^(\d+)\\([.)])/, '$1$2')
    .replace(/^\\([#+-])/, '$1');
  const unbracketed = outsideCode(plain, (t) => t.replace(/\\([[\]])/g, '$1'));
  return /\]\(|\]\[/.test(unbracketed) ? plain : unbracketed;
}

/** `f` applied to the text between code spans (a code span's backslashes are its own). */
function outsideCode(text: string, f: (t: string) => string): string {
  return text
    .split(/(`+[^`]*`+)/)
    .map((part, k) => (k % 2 === 0 ? f(part) : part))
    .join('');
}

/**
 * A bold line at body size is a heading or a bold paragraph ("**Params**"): headings have more
 * space above than below them (stylesheets give them a larger top margin and a tighter line
 * height), bold paragraphs the same space on both sides. Space is measured between the boxes:
 * to a code block or a table, less the padding its text sits in. Under another heading the
 * space above is that heading's: only the space below counts, no wider than between paragraphs.
 */
function spacedLikeHeading(
  prev: Block | undefined,
  first: Block,
  last: Block,
  next: Block | undefined,
  body: number,
  spacing: Spacing,
  afterHeading: boolean,
): boolean {
  const above = afterHeading ? undefined : gapBetween(prev, first);
  const below = gapBetween(last, next);
  if (above !== undefined && below !== undefined) return above - spacing.padding(prev!) - (below - spacing.padding(next!)) >= body * 0.3;
  if (below !== undefined) {
    const limit = afterHeading && spacing.paragraph !== undefined ? spacing.paragraph + body * PARAGRAPH_GAP_SLACK : body * 0.95;
    return below - spacing.padding(next!) < limit;
  }
  if (above !== undefined) return above - spacing.padding(prev!) >= body * 1.19;
  return false;
}

/** How much wider than the space between paragraphs the space under a heading may be (body sizes). */
const PARAGRAPH_GAP_SLACK = 0.2;

interface Spacing {
  /** How far a block's text sits inside its box. */
  padding: (block: Block) => number;
  /** The usual space between two paragraphs, when there are enough to tell. */
  paragraph: number | undefined;
}

/**
 * How far a block's text sits inside its box: the padding of code blocks and of table cells, as
 * this document's stylesheet draws them. Measured, since stylesheets differ: the usual space from
 * a paragraph (of several lines) to a code block or a table, less the usual space between two
 * paragraphs.
 */
function blockSpacing(blocks: Block[], body: number): Spacing {
  const gaps: Record<string, number[]> = { paragraph: [], code: [], table: [] };
  for (let i = 1; i < blocks.length; i++) {
    // After a paragraph of several lines: a one-line paragraph may be a heading-like label.
    const prev = blocks[i - 1];
    const gap = prev.type === 'paragraph' && (prev.lines?.length ?? 0) > 1 ? gapBetween(prev, blocks[i]) : undefined;
    if (gap !== undefined) gaps[blocks[i].type]?.push(gap);
  }
  const base = median(gaps.paragraph);
  const pad = (type: string, usual: number): number => {
    const gap = median(gaps[type]);
    return base === undefined || gap === undefined ? usual : Math.max(0, gap - base);
  };
  // Without enough to measure: a browser's code box pads its text; code set flush with the text
  // (LaTeX, word processors) has no box to pad it.
  const code = pad('code', codeSetFlush(blocks) ? 0 : body * 0.55);
  const table = pad('table', body * 0.33);
  return { padding: (block) => (block.type === 'code' ? code : block.type === 'table' ? table : 0), paragraph: base };
}

/** How far (pt) a code block's text may start from the paragraph before it and be set flush with it. */
const FLUSH_SLACK = 1;

/** Most code blocks start where the paragraph before them starts (no box inset). */
function codeSetFlush(blocks: Block[]): boolean {
  let flush = 0;
  let inset = 0;
  let paragraph: Block | undefined;
  for (const b of blocks) {
    if (b.type === 'paragraph') paragraph = b;
    else if (b.type === 'code' && paragraph?.page === b.page) {
      if (Math.abs(b.bbox.x0 - paragraph.bbox.x0) <= FLUSH_SLACK) flush++;
      else inset++;
    }
  }
  return flush > inset;
}

/** The middle value of at least three, else undefined (too few to say what is usual). */
function median(values: number[]): number | undefined {
  if (values.length < 3) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Vertical space between two blocks that follow each other in one column, if they do. */
function gapBetween(a: Block | undefined, b: Block | undefined): number | undefined {
  if (!a || !b || a.page !== b.page) return undefined;
  if (b.bbox.y0 < a.bbox.y1 || b.bbox.x0 > a.bbox.x1 || a.bbox.x0 > b.bbox.x1) return undefined;
  return b.bbox.y0 - a.bbox.y1;
}

function isBold(line: Line): boolean {
  return line.runs.every((r) => r.bold || r.monospace || !/\w/.test(r.text)) && line.runs.some((r) => r.bold);
}

export function bodyFontSize(blocks: Block[]): number {
  const weight = new Map<number, number>();
  for (const block of blocks) {
    if (block.type === 'code') continue;
    for (const line of block.lines ?? []) {
      const size = Math.round(line.fontSize * 10) / 10;
      weight.set(size, (weight.get(size) ?? 0) + line.text.length);
    }
  }
  let best = 0;
  let bestWeight = 0;
  for (const [size, w] of weight) if (w > bestWeight) [best, bestWeight] = [size, w];
  return best;
}
