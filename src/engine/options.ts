import { DocmarkError } from '../errors.js';
import { DEFAULT_OPTIONS, type ConvertOptions, type OutputFormat } from './types.js';

/**
 * Conversion options arrive as strings (query parameters, form fields, CLI flags).
 * They are validated here once, so the server and the CLI accept exactly the same values.
 */

const FORMATS: OutputFormat[] = ['markdown', 'json', 'html'];
const MAX_RANGE_PAGES = 100_000;

export type RawOptions = Record<string, string | undefined>;

/** Option names accepted by the API (snake_case, as Marker's server takes them). */
export const OPTION_NAMES = ['output_format', 'page_range', 'paginate_output', 'force_ocr', 'extract_images', 'password'] as const;

export function parseOptions(raw: RawOptions): ConvertOptions {
  const options: ConvertOptions = { ...DEFAULT_OPTIONS };
  const format = raw.output_format?.trim().toLowerCase();
  if (format !== undefined && format !== '') {
    const normalised = format === 'md' ? 'markdown' : format;
    if (!FORMATS.includes(normalised as OutputFormat)) {
      throw invalid(`output_format must be one of ${FORMATS.join(', ')}; got "${raw.output_format}".`);
    }
    options.outputFormat = normalised as OutputFormat;
  }
  if (raw.page_range !== undefined && raw.page_range.trim() !== '') options.pageRange = parsePageRange(raw.page_range);
  options.paginateOutput = parseBool(raw.paginate_output, 'paginate_output');
  options.forceOcr = parseBool(raw.force_ocr, 'force_ocr');
  options.extractImages = parseBool(raw.extract_images, 'extract_images');
  if (raw.password !== undefined && raw.password !== '') options.password = raw.password;
  return options;
}

export function parseBool(value: string | undefined, name: string): boolean {
  if (value === undefined) return false;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['', 'false', '0', 'no', 'off'].includes(v)) return false;
  throw invalid(`${name} must be true or false; got "${value}".`);
}

/**
 * "0,2-4" → [0, 2, 3, 4]: 0-based pages and inclusive ranges, sorted, without duplicates.
 */
export function parsePageRange(spec: string): number[] {
  const pages = new Set<number>();
  for (const part of spec.split(',')) {
    const p = part.trim();
    const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(p);
    if (!m) throw invalid(`page_range must look like "0,2-4" (0-based pages); "${p || spec}" is not valid.`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) throw invalid(`page_range "${p}" ends before it starts.`);
    if (to - from + pages.size > MAX_RANGE_PAGES) throw invalid('page_range selects too many pages.');
    for (let i = from; i <= to; i++) pages.add(i);
  }
  return [...pages].sort((a, b) => a - b);
}

/** Check a parsed page range against the document, once its page count is known. */
export function checkPageRange(pages: number[] | undefined, pageCount: number): number[] {
  if (pages === undefined) return Array.from({ length: pageCount }, (_, i) => i);
  const outside = pages.filter((p) => p >= pageCount);
  if (outside.length) {
    throw invalid(`page_range asks for page ${outside[0]}, but the document has ${pageCount} pages (0 to ${pageCount - 1}).`);
  }
  return pages;
}

function invalid(message: string): DocmarkError {
  return new DocmarkError('invalid_option', message);
}
