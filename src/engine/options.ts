// Conversion options arrive as strings (query parameters, form fields, CLI flags). They are
// validated here once, so the server and the CLI accept exactly the same values.
//
// Every parser is total and bounded: any input gives an option value or an `invalid_option`
// error, after work proportional to the length of the input (itself capped) and to the page
// limit, which the operator chose. No loop, allocation or recursion depends on a number the
// client wrote: numbers are checked for their digit count and against the page limit first.
import { DocmarkError } from '../errors.js';
import { MAX_PAGES_CEILING } from '../settings.js';
import { type ConvertOptions, DEFAULT_OPTIONS, type OutputFormat } from './types.js';

const FORMATS: readonly OutputFormat[] = ['markdown', 'json', 'html'];
const FORMAT_ALIASES: Readonly<Record<string, OutputFormat>> = { md: 'markdown' };
const TRUE = ['true', '1', 'yes', 'on'];
const FALSE = ['', 'false', '0', 'no', 'off'];

/** A list of single pages for a long document still fits; nobody writes a longer range. */
export const MAX_PAGE_RANGE_CHARS = 16 * 1024;
/** PDF passwords are at most 127 bytes (PDF 2.0, 7.6.4.3.3): anything past this is not a password. */
export const MAX_PASSWORD_CHARS = 1024;
/** Every other option is a short word. */
const MAX_WORD_CHARS = 64;
/** Page numbers below the largest page limit the settings accept (100 000) have at most 6 digits. */
const MAX_PAGE_DIGITS = String(MAX_PAGES_CEILING).length;
/** How much of a refused value an error message repeats. */
const SHOWN_CHARS = 40;

export type RawOptions = Record<string, string | undefined>;

/** Option names accepted by the API (snake_case, as Marker's server takes them). */
export const OPTION_NAMES = ['output_format', 'page_range', 'paginate_output', 'force_ocr', 'extract_images', 'password'] as const;
export type OptionName = (typeof OPTION_NAMES)[number];

export interface OptionLimits {
  /** The server's page limit (DOCMARK_MAX_PAGES): pages at or past it cannot be asked for. */
  maxPages?: number;
}

/**
 * Raw option strings → conversion options. Throws `invalid_option` for a name that is not an
 * option (naming the known ones) and for any value that is not valid for its option.
 */
export function parseOptions(raw: RawOptions, limits: OptionLimits = {}): ConvertOptions {
  assertKnownOptions(raw);
  const maxPages = pageLimit(limits.maxPages);
  const options: ConvertOptions = { ...DEFAULT_OPTIONS };
  const format = word(raw, 'output_format');
  if (format !== undefined && format !== '') options.outputFormat = parseFormat(format, raw.output_format!);
  const range = text(raw, 'page_range', MAX_PAGE_RANGE_CHARS);
  if (range !== undefined && range.trim() !== '') options.pageRange = parsePageRange(range, maxPages);
  options.paginateOutput = parseBool(raw.paginate_output, 'paginate_output');
  options.forceOcr = parseBool(raw.force_ocr, 'force_ocr');
  options.extractImages = parseBool(raw.extract_images, 'extract_images');
  const password = text(raw, 'password', MAX_PASSWORD_CHARS);
  if (password !== undefined && password !== '') options.password = password;
  if (limits.maxPages !== undefined) options.maxPages = maxPages;
  return options;
}

/** Refuse names that are not options: a misspelt option silently ignored gives a wrong result. */
export function assertKnownOptions(raw: RawOptions): void {
  for (const name of Object.keys(raw)) {
    if ((OPTION_NAMES as readonly string[]).includes(name)) continue;
    if (name === 'file') throw invalid('"file" must be sent as a file part of a multipart form (with a filename), or as the raw body.');
    const near = OPTION_NAMES.filter((known) => name.length > 1 && (known.includes(name.toLowerCase()) || name.toLowerCase().includes(known)));
    const hint = near.length ? ` Did you mean ${near.join(' or ')}?` : '';
    throw invalid(`Unknown option ${show(name)}.${hint} Known options: ${OPTION_NAMES.join(', ')}.`);
  }
}

export function parseBool(value: string | undefined, name: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'string' || value.length > MAX_WORD_CHARS) throw invalid(`${name} must be true or false; got ${show(value)}.`);
  const v = value.trim().toLowerCase();
  if (TRUE.includes(v)) return true;
  if (FALSE.includes(v)) return false;
  throw invalid(`${name} must be true or false; got ${show(value)}.`);
}

function parseFormat(format: string, original: string): OutputFormat {
  const name = format.trim().toLowerCase();
  const normalised = FORMAT_ALIASES[name] ?? name;
  if (!(FORMATS as readonly string[]).includes(normalised)) {
    throw invalid(`output_format must be one of ${FORMATS.join(', ')}; got ${show(original)}.`);
  }
  return normalised as OutputFormat;
}

/**
 * "0,2-4" → [0, 2, 3, 4]: 0-based pages and inclusive ranges, sorted, without duplicates.
 * Every page must be below `maxPages` (the server's page limit), so the result has fewer than
 * `maxPages` entries and the work is bounded by the string's length plus `maxPages`.
 */
export function parsePageRange(spec: string, maxPages: number = MAX_PAGES_CEILING): number[] {
  const limit = pageLimit(maxPages);
  if (typeof spec !== 'string') throw invalid('page_range must be text like "0,2-4".');
  if (spec.length > MAX_PAGE_RANGE_CHARS) {
    throw invalid(`page_range is too long (${spec.length} characters; at most ${MAX_PAGE_RANGE_CHARS}): use ranges like "0-99".`);
  }
  const spans: Array<[number, number]> = [];
  for (const part of spec.split(',')) {
    const p = part.trim();
    const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(p);
    if (!m) throw invalid(`page_range must look like "0,2-4" (0-based pages); ${show(p || spec)} is not valid.`);
    const from = pageNumber(m[1], limit);
    const to = m[2] === undefined ? from : pageNumber(m[2], limit);
    if (to < from) throw invalid(`page_range ${show(p)} ends before it starts.`);
    spans.push([from, to]);
  }
  // Both ends are below the limit: marking pages costs at most `limit` steps in all.
  const selected = new Uint8Array(limit);
  for (const [from, to] of spans) selected.fill(1, from, to + 1);
  const pages: number[] = [];
  for (let i = 0; i < limit; i++) if (selected[i]) pages.push(i);
  return pages;
}

/** A page number of the range: a few digits, and below the page limit. */
function pageNumber(digits: string, limit: number): number {
  if (digits.length > MAX_PAGE_DIGITS) {
    throw invalid(`page_range: ${show(digits)} is not a page number (at most ${MAX_PAGE_DIGITS} digits); pages are 0 to ${limit - 1}.`);
  }
  const n = Number(digits);
  if (n >= limit) throw invalid(`page_range asks for page ${n}, but this server converts documents of at most ${limit} pages (0 to ${limit - 1}).`);
  return n;
}

/** The page limit to check ranges against: the server's, never more than the settings allow. */
function pageLimit(maxPages: number | undefined): number {
  if (maxPages === undefined) return MAX_PAGES_CEILING;
  if (!Number.isInteger(maxPages) || maxPages < 1) throw new RangeError(`maxPages must be a positive integer, got ${maxPages}`);
  return Math.min(maxPages, MAX_PAGES_CEILING);
}

/** Check a parsed page range against the document, once its page count is known. */
export function checkPageRange(pages: number[] | undefined, pageCount: number): number[] {
  if (pages === undefined) return Array.from({ length: pageCount }, (_, i) => i);
  const outside = pages.find((p) => p >= pageCount);
  if (outside !== undefined) {
    throw invalid(`page_range asks for page ${outside}, but the document has ${pageCount} pages (0 to ${pageCount - 1}).`);
  }
  return pages;
}

/** An option's value, if given: a string of at most `maxChars` characters. */
function text(raw: RawOptions, name: OptionName, maxChars: number): string | undefined {
  const value = raw[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(`${name} must be given once, as text.`);
  if (value.length > maxChars) throw invalid(`${name} is too long (${value.length} characters; at most ${maxChars}).`);
  return value;
}

function word(raw: RawOptions, name: OptionName): string | undefined {
  return text(raw, name, MAX_WORD_CHARS);
}

/** A client's value, quoted for an error message: cut short, control characters escaped. */
function show(value: unknown): string {
  const s = String(value);
  return JSON.stringify(s.length > SHOWN_CHARS ? `${s.slice(0, SHOWN_CHARS)}…` : s);
}

function invalid(message: string): DocmarkError {
  return new DocmarkError('invalid_option', message);
}
