// Which link targets may appear in a conversion's output, and the one spelling they take there.
//
// A PDF's link annotation can point anywhere, and outputs are opened in browsers: a
// `javascript:` or `data:` target there is script run on the reader's behalf. So targets are
// allowed by scheme (an allowlist, never a list of bad schemes): http, https, mailto and links
// within the document (`#anchor`). Anything else keeps its text and loses the link.
//
// An allowed target is spelled so that no output format can misread it: whatever is not a
// plain URL character (spaces, quotes, parentheses, angle brackets, backticks, non-ASCII) is
// percent-encoded, so it can sit between `(` and `)` in Markdown or inside a quoted HTML
// attribute without ending either. The check is idempotent: a safe target stays as it is.

export const ALLOWED_SCHEMES: readonly string[] = ['http:', 'https:', 'mailto:'];

/** Longer than any address a person follows; past it, a target is data, not a link. */
export const MAX_LINK_CHARS = 4096;

// C0 controls, DEL and C1 controls: URL parsers drop some of them silently ("java\tscript:"),
// which is how scheme checks are fooled. A target holding one is refused, never repaired.
const CONTROL = /\p{Cc}/u;
// What may stay as it is in every output: RFC 3986's unreserved and reserved characters and
// `%`, minus the ones that end a Markdown link or an HTML attribute (`(`, `)`, `'`).
const PLAIN = /[A-Za-z0-9\-._~:/?#[\]@!$&*+,;=%]/;

/**
 * The target as it may appear in an output, or undefined when it must not be a link.
 * Total over any input: never throws.
 */
export function safeLinkTarget(raw: unknown): string | undefined {
  if (!isCleanText(raw)) return undefined;
  const target = raw.trim();
  if (target.startsWith('#')) return target.length > 1 ? encodePlain(target) : undefined;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    // Relative targets have nothing to resolve against; anything else is not a URL.
    return undefined;
  }
  if (!ALLOWED_SCHEMES.includes(url.protocol)) return undefined;
  if (url.protocol === 'mailto:' ? url.pathname === '' : url.hostname === '') return undefined;
  const safe = encodePlain(url.href);
  return safe.length <= MAX_LINK_CHARS ? safe : undefined;
}

/**
 * Whether a target as the PDF wrote it may be a link at all: text of a sane length with no
 * control character. A reader that repairs "java\tscript:" has already been fooled, so the
 * check is on the original, before anyone normalised it.
 */
export function isCleanText(raw: unknown): raw is string {
  return typeof raw === 'string' && raw.length <= MAX_LINK_CHARS && !CONTROL.test(raw);
}

/** Percent-encode (as UTF-8) every character outside PLAIN; a lone surrogate becomes U+FFFD. */
function encodePlain(text: string): string {
  let out = '';
  for (const ch of text) {
    if (PLAIN.test(ch)) out += ch;
    else if (LONE_SURROGATE.test(ch)) out += REPLACEMENT;
    else out += encodeURIComponent(ch).replace(/[!'()*]/g, hex);
  }
  return out;
}

const LONE_SURROGATE = /^[\uD800-\uDFFF]$/;
const REPLACEMENT = encodeURIComponent('\uFFFD');

const hex = (c: string): string => `%${c.charCodeAt(0).toString(16).toUpperCase()}`;
