// The inline Markdown the engine writes into block texts (code spans, [links](target),
// **strong**, *emphasis*, backslash escapes), read back by the renderers: the HTML renderer
// turns it into tags, and the Markdown and JSON renderers check it before it leaves.
//
// Links are the reason this is a parser and not a few regular expressions: a link's text can
// hold escaped brackets and code spans, and a target must be checked against the link policy
// whatever stage wrote it. The grammar is the engine's own, deliberately small; a text that a
// CommonMark reader could take for more than that grammar says (a link form it does not know,
// raw HTML, an autolink) is rewritten so that it cannot (see safeInlineMarkdown).
//
// Work is linear in the text's length up to a factor of the longest unmatched search, and
// nesting is bounded: a link's text holds no link, and strong or emphasised text holds no
// further stars, so recursion is at most three levels deep.
import { safeLinkTarget } from '../link-policy.js';

export type InlineNode =
  | { kind: 'text'; text: string; start: number; end: number; escaped: boolean }
  | { kind: 'code'; text: string; start: number; end: number }
  | { kind: 'strong' | 'em' | 'strong_em'; children: InlineNode[]; start: number; end: number }
  | { kind: 'link'; target: string; href: string | undefined; children: InlineNode[]; start: number; end: number };

/** Characters a backslash escapes (CommonMark's ASCII punctuation the engine escapes). */
const ESCAPABLE = new Set('\\`*_{}[]()#+-.!|<>~&');
const DELIMITERS = { strong_em: '***', strong: '**', em: '*' } as const;
const STYLE_STOP = new Set('*[]`');
/** Where syntax may start: everything between two of these is plain text. */
const SPECIAL = /[\\`[*]/g;
/** Characters of a link target as the engine writes it: no space, no parenthesis. */
const TARGET_CHAR = /[^\s()]/;

export function parseInline(md: string): InlineNode[] {
  return new InlineParser(md).parse(0, md.length, false);
}

class InlineParser {
  readonly #s: string;
  /** Backtick-run lengths with no later run of the same length: searching again is pointless. */
  readonly #noCloser = new Set<number>();
  /** Set once a link's closing bracket was searched for to the end in vain. */
  #noBracket = false;

  constructor(s: string) {
    this.#s = s;
  }

  parse(from: number, to: number, inLink: boolean): InlineNode[] {
    const s = this.#s;
    const nodes: InlineNode[] = [];
    let i = from;
    const literal = (text: string, start: number, end: number, escaped: boolean): void => {
      const last = nodes[nodes.length - 1];
      if (last?.kind === 'text' && last.escaped === escaped && last.end === start) {
        last.text += text;
        last.end = end;
      } else {
        nodes.push({ kind: 'text', text, start, end, escaped });
      }
    };
    while (i < to) {
      const c = s[i];
      if (c === '\\' && i + 1 < to && ESCAPABLE.has(s[i + 1])) {
        literal(s[i + 1], i, i + 2, true);
        i += 2;
        continue;
      }
      if (c === '`') {
        const run = this.#run(i, to, '`');
        const close = this.#codeClose(i + run, to, run);
        if (close === -1) {
          literal(s.slice(i, i + run), i, i + run, false);
          i += run;
        } else {
          nodes.push({ kind: 'code', text: s.slice(i + run, close).trim(), start: i, end: close + run });
          i = close + run;
        }
        continue;
      }
      if (c === '[' && !inLink) {
        const link = this.#link(i, to);
        if (link) {
          nodes.push(link);
          i = link.end;
          continue;
        }
      }
      if (c === '*') {
        const styled = this.#styled(i, to, inLink);
        if (styled) {
          nodes.push(styled);
          i = styled.end;
          continue;
        }
      }
      // Plain text up to the next character that may start syntax, in one piece.
      SPECIAL.lastIndex = i + 1;
      const next = SPECIAL.test(s) ? Math.min(SPECIAL.lastIndex - 1, to) : to;
      literal(s.slice(i, next), i, next, false);
      i = next;
    }
    return nodes;
  }

  /** Length of the run of `ch` starting at `i`. */
  #run(i: number, to: number, ch: string): number {
    let j = i;
    while (j < to && this.#s[j] === ch) j++;
    return j - i;
  }

  /** Start of the next run of exactly `length` backticks at or after `from`, or -1. */
  #codeClose(from: number, to: number, length: number): number {
    if (this.#noCloser.has(length)) return -1;
    let j = from;
    while (j < to) {
      const k = this.#s.indexOf('`', j);
      if (k === -1 || k >= to) break;
      const run = this.#run(k, to, '`');
      if (run === length) return k;
      j = k + run;
    }
    if (to === this.#s.length) this.#noCloser.add(length);
    return -1;
  }

  /** `[text](target)` at `i`: the text may hold escapes and code spans, but no bracket of its own. */
  #link(i: number, to: number): InlineNode | undefined {
    if (this.#noBracket) return undefined;
    const s = this.#s;
    let j = i + 1;
    for (;;) {
      if (j >= to) {
        if (to === s.length) this.#noBracket = true;
        return undefined;
      }
      const c = s[j];
      if (c === '\\' && j + 1 < to && ESCAPABLE.has(s[j + 1])) j += 2;
      else if (c === '`') {
        const run = this.#run(j, to, '`');
        const close = this.#codeClose(j + run, to, run);
        j = close === -1 ? j + run : close + run;
      } else if (c === '[') return undefined;
      else if (c === ']') break;
      else j++;
    }
    const textEnd = j;
    if (s[textEnd + 1] !== '(') return undefined;
    let k = textEnd + 2;
    while (k < to && TARGET_CHAR.test(s[k])) k++;
    if (s[k] !== ')' || k >= to) return undefined;
    const target = s.slice(textEnd + 2, k);
    return {
      kind: 'link',
      target,
      href: safeLinkTarget(target),
      children: this.parse(i + 1, textEnd, true),
      start: i,
      end: k + 1,
    };
  }

  /**
   * `***a***`, `**a**` or `*a*` at `i`, with no unescaped star, bracket or backtick inside: links
   * and code spans bind tighter than emphasis (the engine puts emphasis inside a link's text,
   * never around a link or a code span).
   */
  #styled(i: number, to: number, inLink: boolean): InlineNode | undefined {
    const s = this.#s;
    for (const kind of ['strong_em', 'strong', 'em'] as const) {
      const mark = DELIMITERS[kind];
      if (!s.startsWith(mark, i)) continue;
      const from = i + mark.length;
      let j = from;
      while (j < to && !STYLE_STOP.has(s[j])) j += s[j] === '\\' && j + 1 < to && ESCAPABLE.has(s[j + 1]) ? 2 : 1;
      if (j === from || j >= to || !s.startsWith(mark, j) || s[j + mark.length] === '*') continue;
      return { kind, children: this.parse(from, j, inLink), start: i, end: j + mark.length };
    }
    return undefined;
  }
}

/**
 * The inline Markdown as it may leave in a Markdown or JSON output. Unchanged when every link
 * in it is allowed and spelled safely and nothing in it could be read as another kind of link,
 * raw HTML or an image (the normal case: links were checked when they were read). Otherwise
 * it is written again from what was parsed: unsafe links lose their target and keep their
 * text, and every character of the text that could start inline syntax (brackets, `<`, `!`,
 * backticks, stars) is escaped, so no CommonMark reader finds a link, tag or image there
 * that this grammar did not.
 */
export function safeInlineMarkdown(md: string): string {
  if (!/[[\]<]/.test(md)) return md;
  const nodes = parseInline(md);
  return needsRewrite(md, nodes) ? serialize(nodes, md) : md;
}

function needsRewrite(md: string, nodes: InlineNode[]): boolean {
  for (let n = 0; n < nodes.length; n++) {
    const node = nodes[n];
    switch (node.kind) {
      case 'link': {
        if (node.href !== node.target) return true;
        const before = nodes[n - 1];
        if (before?.kind === 'text' && !before.escaped && before.text.endsWith('!')) return true;
        if (needsRewrite(md, node.children)) return true;
        break;
      }
      case 'text':
        if (!node.escaped && /<|\][([:]/.test(node.text + (md[node.end] ?? ''))) return true;
        break;
      case 'strong':
      case 'em':
      case 'strong_em':
        if (needsRewrite(md, node.children)) return true;
        break;
      default:
    }
  }
  return false;
}

/** In a rewritten text, every character that could start inline syntax is escaped: text stays text. */
const REWRITE_ESCAPED = /[\\`*_[\]<!&]/g;

function serialize(nodes: InlineNode[], md: string): string {
  let out = '';
  for (const node of nodes) {
    switch (node.kind) {
      case 'text':
        out += node.text.replace(REWRITE_ESCAPED, '\\$&');
        break;
      case 'code':
        out += md.slice(node.start, node.end);
        break;
      case 'link':
        if (node.href === undefined) {
          out += serialize(node.children, md);
        } else {
          out += `[${serialize(node.children, md)}](${node.href})`;
        }
        break;
      default:
        out += DELIMITERS[node.kind] + serialize(node.children, md) + DELIMITERS[node.kind];
    }
  }
  return out;
}
