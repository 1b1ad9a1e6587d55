import type { ErrorCode } from '../errors.js';

// The data that flows through the conversion pipeline:
//   load (pdfjs) → extract (pages of lines) → layout (blocks) → structure → render.
// Coordinates are in PDF points with the origin at the page's top-left corner.

export type OutputFormat = 'markdown' | 'json' | 'html';

export interface ConvertOptions {
  outputFormat: OutputFormat;
  /** 0-based page indexes to convert, in document order; undefined = all pages. */
  pageRange?: number[];
  /** Put a page separator between pages in the output. */
  paginateOutput: boolean;
  /** OCR every page, text layer or not. */
  forceOcr: boolean;
  /** Return images found in the pages (base64 in JSON results). */
  extractImages: boolean;
  /** Password of an encrypted PDF. */
  password?: string;
  /** Refuse documents with more pages than this. */
  maxPages?: number;
  /** Most a document may decompress to open it, and then per page (default 512 MB). */
  maxInflateBytes?: number;
}

export const DEFAULT_OPTIONS: ConvertOptions = {
  outputFormat: 'markdown',
  paginateOutput: false,
  forceOcr: false,
  extractImages: false,
};

export interface BBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** A piece of text drawn in one font, as pdfjs reports it (or as OCR reads it). */
export interface TextRun {
  text: string;
  bbox: BBox;
  /** Height of the glyphs in points. */
  fontSize: number;
  fontName: string;
  bold: boolean;
  italic: boolean;
  monospace: boolean;
  /** Target of a link annotation covering this run. */
  link?: string;
}

export interface Line {
  runs: TextRun[];
  text: string;
  bbox: BBox;
  /** Dominant font size of the line. */
  fontSize: number;
}

/**
 * Something drawn on the page, from its drawing operations (extract/drawings.ts; read only on
 * pages whose text could hold a table, else empty). A filled path is the box of each of its
 * subpaths: a cell or code-block background, or a rule drawn as a thin box. A stroked path is
 * each of its horizontal and vertical segments, as a box as thick as the pen (a stroked
 * rectangle is four). A rule is a rect under about 2.5 pt thick either way (layout/rules.ts).
 * White fills, curves, slanted lines and clipping paths are left out.
 */
export interface Rect {
  bbox: BBox;
  /** Painted inside (a background or a rule drawn as a box); false: a stroked segment. */
  filled: boolean;
}

export interface PageImage {
  id: string;
  bbox: BBox;
  /** PNG bytes, only when images are extracted. */
  png?: Uint8Array;
}

export interface Page {
  /** 0-based index in the document. */
  index: number;
  width: number;
  height: number;
  lines: Line[];
  rects: Rect[];
  images: PageImage[];
  /** Where the text came from. */
  source: 'text' | 'ocr';
  /** Set when the page could not be read: the rest of the document is still converted. */
  failure?: PageFailure;
  /** OCR'd page whose text is mostly guesses (handwriting, a photograph, a drawing). */
  lowConfidence?: boolean;
}

export interface PageFailure {
  code: ErrorCode;
  message: string;
}

export type BlockType =
  | 'heading'
  | 'paragraph'
  | 'list'
  | 'list_item'
  | 'table'
  | 'code'
  | 'blockquote'
  | 'image'
  /** Stands where a page that could not be read was; text is the reason. */
  | 'unreadable_page';

export interface Block {
  type: BlockType;
  /** 0-based page the block starts on. */
  page: number;
  bbox: BBox;
  /** Inline Markdown text (headings, paragraphs, list items); raw text for code. */
  text?: string;
  /** Heading level 1–6. */
  level?: number;
  /** Lists: numbered or bulleted; first number of a numbered list. */
  ordered?: boolean;
  start?: number;
  /** Tables: rows of cell texts, the first row is the header (the first `headerRows` when set). */
  rows?: string[][];
  /** Tables: rows that make the header, when more than one (a multi-level header). */
  headerRows?: number;
  /** Tables: cells that span several columns (the columns they cover hold empty strings in `rows`). */
  spans?: TableSpan[];
  /** List items while building: nesting depth (0 = top level) and the number a numbered item shows. */
  depth?: number;
  number?: number;
  /** List items while building: where the item's text starts from its column's margin, and the marker drawn before it. */
  indent?: number;
  marker?: string;
  /** Footnotes: the mark the footnote is called by ("1", "*"); its text starts "[^mark]: ". */
  note?: string;
  /** Images: reference to Page.images. */
  imageId?: string;
  children?: Block[];
  /** Text centred in its column or on an axis of its own (titles, bylines, captions); dropped before rendering. */
  centred?: boolean;
  /** The lines a block was made of; dropped before rendering. */
  lines?: Line[];
}

/** A table cell spanning `cols` columns from column `col` of row `row` (0-based). */
export interface TableSpan {
  row: number;
  col: number;
  cols: number;
}

export interface DocumentInfo {
  /** Pages in the file. */
  pageCount: number;
  title?: string;
  author?: string;
}

export interface Document {
  info: DocumentInfo;
  pages: Page[];
  blocks: Block[];
}

export interface ConvertMetadata {
  /** Pages converted. */
  pages: number;
  page_count: number;
  duration_ms: number;
  ocr_pages: number[];
  /** OCR'd pages whose text is mostly guesses (handwriting, photographs, drawings), 0-based. */
  low_confidence_pages: number[];
  /** Pages that could not be read (damaged content), 0-based, with the reason. */
  failed_pages: Array<{ page: number } & PageFailure>;
  title?: string;
  author?: string;
}

export interface ExtractedImage {
  id: string;
  page: number;
  /** base64-encoded PNG. */
  data: string;
  mime: 'image/png';
}

export interface ConvertResult {
  output: string;
  metadata: ConvertMetadata;
  images?: ExtractedImage[];
}

/** One structure step of the pipeline: takes the document, returns it improved. */
export type Processor = (doc: Document) => Document;
