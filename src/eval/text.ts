// Text as the evaluation compares it: typography folded (quotes, dashes, invisible and wide
// spaces), HTML entities decoded, and inline Markdown reduced to the words a reader sees.
// A converter is judged on what it read, not on which of several equivalent spellings it chose.

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  ensp: ' ',
  emsp: ' ',
  thinsp: ' ',
  copy: '©',
  reg: '®',
  trade: '™',
  mdash: '-',
  ndash: '-',
  hyphen: '-',
  minus: '-',
  hellip: '...',
  rarr: '→',
  larr: '←',
  laquo: '«',
  raquo: '»',
  ldquo: '"',
  rdquo: '"',
  lsquo: "'",
  rsquo: "'",
  times: '×',
  middot: '·',
  bull: '•',
  deg: '°',
  plusmn: '±',
  check: '✓',
  le: '≤',
  ge: '≥',
  ne: '≠',
  zwj: '',
  zwnj: '',
  shy: '',
};

export function decodeEntities(text: string): string {
  return text.replace(/&(#[xX][0-9a-fA-F]+|#[0-9]+|[a-zA-Z][a-zA-Z0-9]*);/g, (whole, body: string) => {
    if (body[0] !== '#') return Object.hasOwn(NAMED_ENTITIES, body) ? NAMED_ENTITIES[body] : whole;
    const hex = body[1] === 'x' || body[1] === 'X';
    const codePoint = Number.parseInt(body.slice(hex ? 2 : 1), hex ? 16 : 10);
    return codePoint <= 0x10ffff ? String.fromCodePoint(codePoint) : whole;
  });
}

/** Typographic variants folded to one spelling; line breaks kept. */
function foldTypography(text: string): string {
  return text
    .normalize('NFKC')
    .replace(/[\u2018\u2019\u201A\u201B\u2032\u00B4]/g, "'")
    .replace(/[\u201C-\u201F\u2033]/g, '"')
    .replace(/[\u2010-\u2015\u2212\uFE58\uFE63\uFF0D]/g, '-')
    .replace(/[\u00AD\u200B\u200C\u2060\uFEFF]|\u200D|\uFE0E|\uFE0F/g, '')
    .replace(/[\u00A0\u2000-\u200A\u202F\u205F\u3000\t]/g, ' ')
    .replace(/\r\n?/g, '\n');
}

export function collapseSpaces(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** One line of folded text: what every text comparison works on. */
export function plainText(text: string): string {
  return collapseSpaces(foldTypography(text));
}

/** Case does not decide whether two headings or items are the same one. */
export function matchKey(text: string): string {
  return plainText(text).toLowerCase();
}

// Inline Markdown → text. Code spans and backslash escapes are set aside first (their content
// is literal), then links, HTML and emphasis are removed, then the set-aside text comes back.

const SLOT = '\u0000';
const ESCAPABLE = /[!-/:-@[-`{-~]/;

export function inlineText(markdown: string): string {
  if (!markdown) return '';
  const literals: string[] = [];
  const keep = (literal: string): string => `${SLOT}${literals.push(literal) - 1}${SLOT}`;
  let text = '';
  for (let i = 0; i < markdown.length; ) {
    const c = markdown[i];
    if (c === '\\' && i + 1 < markdown.length && ESCAPABLE.test(markdown[i + 1])) {
      text += keep(markdown[i + 1]);
      i += 2;
    } else if (c === '`') {
      const span = codeSpanAt(markdown, i);
      if (span) {
        text += keep(span.code);
        i = span.end;
      } else {
        const run = backtickRun(markdown, i);
        text += markdown.slice(i, i + run);
        i += run;
      }
    } else {
      text += c;
      i++;
    }
  }
  text = withoutLinks(text)
    .replace(/<((?:https?|ftp|mailto):[^>\s]+)>/gi, '$1')
    .replace(/<([^>\s@]+@[^>\s@]+\.[^>\s@]+)>/g, '$1')
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<br\s*\/?>/gi, ' ')
    .replace(/<\/?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?\/?>/g, '')
    .replace(/\[\^[^\]]+\]/g, '');
  text = decodeEntities(withoutEmphasis(text));
  return text.replace(new RegExp(`${SLOT}(\\d+)${SLOT}`, 'g'), (_, n: string) => literals[Number(n)]);
}

function backtickRun(s: string, at: number): number {
  let end = at;
  while (s[end] === '`') end++;
  return end - at;
}

/** A code span opened at `at`: closed by a run of exactly as many backticks. */
function codeSpanAt(s: string, at: number): { code: string; end: number } | undefined {
  const run = backtickRun(s, at);
  for (let from = at + run; ; ) {
    const close = s.indexOf('`', from);
    if (close < 0) return undefined;
    const closeRun = backtickRun(s, close);
    if (closeRun === run) {
      let code = s.slice(at + run, close);
      if (code.length > 2 && code.startsWith(' ') && code.endsWith(' ')) code = code.slice(1, -1);
      return { code, end: close + run };
    }
    from = close + closeRun;
  }
}

/** `[text](url)` and `[text][ref]` become their text (brackets may nest); images disappear. */
function withoutLinks(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; ) {
    const image = s[i] === '!' && s[i + 1] === '[';
    if (s[i] !== '[' && !image) {
      out += s[i++];
      continue;
    }
    const open = image ? i + 1 : i;
    const close = matchingBracket(s, open);
    const end = close < 0 ? -1 : linkTargetEnd(s, close + 1);
    if (end < 0) {
      out += s[i++];
      continue;
    }
    if (!image) out += withoutLinks(s.slice(open + 1, close));
    i = end;
  }
  return out;
}

function matchingBracket(s: string, open: number): number {
  let depth = 0;
  for (let j = open; j < s.length; j++) {
    if (s[j] === '[') depth++;
    else if (s[j] === ']' && --depth === 0) return j;
  }
  return -1;
}

/** Where a link's `(destination)` or `[reference]` starting at `at` ends (exclusive), or -1. */
function linkTargetEnd(s: string, at: number): number {
  if (s[at] === '[') {
    const close = s.indexOf(']', at + 1);
    return close > 0 ? close + 1 : -1;
  }
  if (s[at] !== '(') return -1;
  let depth = 0;
  for (let k = at; k < s.length; k++) {
    if (s[k] === '(') depth++;
    else if (s[k] === ')') {
      if (--depth === 0) return k + 1;
    } else if (s[k] === '<') {
      const gt = s.indexOf('>', k);
      if (gt > 0) k = gt;
    }
  }
  return -1;
}

/** Passes over the emphasis rules: enough for emphasis nested three deep. */
const EMPHASIS_PASSES = 3;

function withoutEmphasis(s: string): string {
  for (let pass = 0; pass < EMPHASIS_PASSES; pass++) {
    s = s
      .replace(/(\*\*\*|___)(?=\S)([\s\S]*?\S)\1/g, '$2')
      .replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, '$1')
      .replace(/(^|[^\p{L}\p{N}_\\])__(?=\S)([\s\S]*?\S)__(?![\p{L}\p{N}_])/gu, '$1$2')
      .replace(/(^|[^*\\])\*(?=[^\s*])([^*]*?[^\s*\\])\*(?!\*)/g, '$1$2')
      .replace(/(^|[^*\\])\*([^\s*])\*(?!\*)/g, '$1$2')
      .replace(/(^|[^\p{L}\p{N}_\\])_(?=\S)([^_]*?\S)_(?![\p{L}\p{N}_])/gu, '$1$2')
      .replace(/~~(?=\S)([\s\S]*?\S)~~/g, '$1');
  }
  return s;
}
