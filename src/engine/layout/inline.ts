import type { Line, TextRun } from '../types.js';
import { isNoteCall, scriptOf } from './footnotes.js';
import { dropsHyphen, type Lexicon } from './hyphens.js';

// Layout step: lines → inline Markdown. Runs become text with `code` for monospace runs,
// [links](url) from link annotations, **bold** and *italic* from the font, and Markdown's
// special characters escaped in plain text, footnote calls as [^mark] and other raised or lowered
// text in Unicode's super- and subscripts. Lines are joined with spaces; a word hyphenated at a
// line end is re-joined or kept hyphenated (see hyphens.ts).

interface Span {
  text: string;
  code: boolean;
  bold: boolean;
  italic: boolean;
  link?: string;
  script?: 'sup' | 'sub';
}

export interface InlineOptions {
  /** The gap (in font sizes) beside inline code above which a space is read (see inlineCodeGap). */
  codeGap?: number;
  /** The document's words, to tell a hyphenated word from a compound (see hyphens.ts); read when first needed. */
  lexicon?: () => Lexicon;
  /** The marks of the page's footnotes: a raised mark is a call to one (see footnotes.ts). */
  notes?: ReadonlySet<string>;
}

/** Browsers pad inline code: beside it, a space shows as a gap of about this (font sizes). */
const PADDED_CODE_GAP = 0.3;
/**
 * Beside inline code in a document with too little of it to measure: between a browser's padding
 * with no space (about 0.17) and a narrow word space (Times: 0.25).
 */
const UNMEASURED_CODE_GAP = 0.22;
/** Between runs of one kind, a space is a gap wider than this (font sizes). */
const WORD_GAP = 0.15;

export function inlineMarkdown(lines: Line[], options: InlineOptions = {}): string {
  const codeGap = options.codeGap ?? PADDED_CODE_GAP;
  const spans: Span[] = [];
  let prevRun: TextRun | undefined;
  for (const line of lines) {
    for (let k = 0; k < line.runs.length; k++) {
      const run = line.runs[k];
      const sep = prevRun ? separator(prevRun, run, k === 0, spans, codeGap, options.lexicon) : '';
      const span: Span = {
        text: run.text,
        code: run.monospace,
        bold: run.bold && !run.monospace,
        italic: run.italic && !run.monospace,
        link: run.link,
        script: line.runs.length > 1 ? scriptOf(run, line) : undefined,
      };
      const last = spans[spans.length - 1];
      if (last && sameStyle(last, span)) {
        if (sep === '-') last.text = last.text.slice(0, -1) + span.text;
        else if (sep === '~') last.text += span.text;
        else last.text += sep + span.text;
      } else {
        if (sep === '-' && last) last.text = last.text.slice(0, -1);
        else if (sep && sep !== '~' && last) last.text += sep;
        spans.push(span);
      }
      prevRun = run;
    }
  }
  return render(spans, options.notes).replace(/\s+/g, ' ').trim();
}

/**
 * What goes between two runs: nothing, a space, '-' meaning "drop the hyphen and join", or '~'
 * meaning "join, keeping the hyphen" (a compound broken after its hyphen).
 */
function separator(prev: TextRun, run: TextRun, newLine: boolean, spans: Span[], codeGap: number, lexicon: (() => Lexicon) | undefined): string {
  // Runs of one line (raised and lowered ones too) are spaced by the gap between them.
  if (!newLine && run.bbox.x0 >= prev.bbox.x0) {
    const gap = run.bbox.x0 - prev.bbox.x1;
    // Inline code may be padded: next to it, only a wider gap holds a space.
    const threshold = prev.monospace !== run.monospace ? codeGap : WORD_GAP;
    return gap > Math.max(prev.fontSize, run.fontSize) * threshold ? ' ' : '';
  }
  const text = spans[spans.length - 1]?.text ?? '';
  // The last two characters only: the span may be a whole paragraph.
  if (!prev.monospace && /^[a-z]-$/.test(text.slice(-2)) && /^[a-z]/.test(run.text)) {
    return dropsHyphen(text.slice(Math.max(0, text.length - 40), -1), run.text, lexicon?.()) ? '-' : '~';
  }
  return ' ';
}

/** Gaps beside inline code needed to measure them. */
const MIN_CODE_GAPS = 10;
/** How much wider than the tightest gaps beside inline code a gap holding a space is (font sizes). */
const SPACE_OVER_TIGHT = 0.12;

/**
 * The gap beside inline code above which a space is read: a little over the tightest gaps
 * between code and prose on one line (code touching a comma, or its box's padding in a
 * browser's print), within the word gap and a browser's padded gap.
 */
export function inlineCodeGap(lines: Iterable<Line>): number {
  const gaps: number[] = [];
  for (const line of lines)
    for (let k = 1; k < line.runs.length; k++) {
      const [a, b] = [line.runs[k - 1], line.runs[k]];
      if (a.monospace === b.monospace) continue;
      const gap = (b.bbox.x0 - a.bbox.x1) / Math.max(a.fontSize, b.fontSize);
      if (gap > -0.1 && gap < 1) gaps.push(gap);
    }
  if (gaps.length < MIN_CODE_GAPS) return UNMEASURED_CODE_GAP;
  gaps.sort((x, y) => x - y);
  const tight = gaps[Math.floor(gaps.length * 0.05)];
  return Math.min(PADDED_CODE_GAP, Math.max(WORD_GAP, tight + SPACE_OVER_TIGHT));
}

function sameStyle(a: Span, b: Span): boolean {
  return a.code === b.code && a.bold === b.bold && a.italic === b.italic && a.link === b.link && a.script === b.script;
}

function render(spans: Span[], notes: ReadonlySet<string> | undefined): string {
  let out = '';
  let atStart = true; // nothing but spaces written yet
  for (const span of spans) {
    // Keep surrounding spaces outside the markers: `** bold**` is not bold in Markdown.
    const lead = span.text.match(/^\s*/)![0];
    const trail = span.text.slice(lead.length).match(/\s*$/)![0];
    const core = span.text.trim();
    if (!core) {
      out += span.text;
      continue;
    }
    // A call to a footnote is a Markdown footnote reference; other raised or lowered text is set
    // in the Unicode superscript or subscript letters where they exist, apart from its word.
    if (span.script === 'sup' && notes && isNoteCall(core, notes)) {
      out += `${lead}[^${core}]${trail}`;
      atStart = false;
      continue;
    }
    const scripted = span.script && !span.code ? toScript(core, span.script) : core;
    let md = span.code ? codeSpan(core) : escapeMarkdown(scripted, atStart);
    atStart = false;
    if (span.bold && span.italic) md = `***${md}***`;
    else if (span.bold) md = `**${md}**`;
    else if (span.italic) md = `*${md}*`;
    if (span.link) md = `[${md}](${linkTarget(span.link)})`;
    out += lead + md + trail;
  }
  return out;
}

const SUPERSCRIPTS: Record<string, string> = {
  '0': '⁰',
  '1': '¹',
  '2': '²',
  '3': '³',
  '4': '⁴',
  '5': '⁵',
  '6': '⁶',
  '7': '⁷',
  '8': '⁸',
  '9': '⁹',
  '+': '⁺',
  '-': '⁻',
  '−': '⁻',
  '=': '⁼',
  '(': '⁽',
  ')': '⁾',
  n: 'ⁿ',
  i: 'ⁱ',
};
const SUBSCRIPTS: Record<string, string> = {
  '0': '₀',
  '1': '₁',
  '2': '₂',
  '3': '₃',
  '4': '₄',
  '5': '₅',
  '6': '₆',
  '7': '₇',
  '8': '₈',
  '9': '₉',
  '+': '₊',
  '-': '₋',
  '−': '₋',
  '=': '₌',
  '(': '₍',
  ')': '₎',
};

/** Raised or lowered text in Unicode's superscript or subscript letters, when all of it has them (else as it is). */
function toScript(text: string, script: 'sup' | 'sub'): string {
  const table = script === 'sup' ? SUPERSCRIPTS : SUBSCRIPTS;
  const chars = [...text];
  return chars.every((c) => table[c]) ? chars.map((c) => table[c]).join('') : text;
}

/**
 * Relative links come back from the PDF resolved against a file:/// base (the document had
 * no address of its own): give them back their relative form.
 */
function linkTarget(url: string): string {
  const relative = url.startsWith('file:///') ? url.slice('file:///'.length) : url;
  return relative.replace(/[()\s]/g, (c) => encodeURIComponent(c));
}

export function codeSpan(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((m) => m.length));
  const fence = '`'.repeat(longest + 1);
  return longest ? `${fence} ${text} ${fence}` : `${fence}${text}${fence}`;
}

/** Backslash-escape what Markdown would read as syntax inside plain text. */
const SPECIAL = /[\\`*_[\]<|&]/;

export function escapeMarkdown(text: string, atBlockStart = true): string {
  // `&` only where it would start an entity reference (`&copy;`, `&#xA9;`): literal text stays literal.
  // Most text has nothing to escape: one test instead of two replaces.
  const escaped = SPECIAL.test(text) ? text.replace(/[\\`*_[\]<|]/g, '\\$&').replace(/&(?=#?[A-Za-z0-9]+;)/g, '\\&') : text;
  if (!atBlockStart) return escaped;
  return escaped.replace(/^([#+-])(?=\s)/, '\\$1').replace(/^(\d+)([.)])(?=\s)/, '$1\\$2');
}
