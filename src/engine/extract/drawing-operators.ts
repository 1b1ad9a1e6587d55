import type { PDFPageProxy } from 'pdfjs-dist/types/src/display/api.js';
import { pdfjs } from '../load/pdf.js';
import { type OperatorSink, type WorkerAnnotation, type WorkerPage, workerPage } from '../load/worker-objects.js';
import { ContentReader, NotCovered } from './content-paths.js';

/*
 * Extract step, drawings: the operators of a page that readDrawings reads, for a fraction of what
 * pdfjs's getOperatorList costs.
 *
 * getOperatorList evaluates the whole page: it loads its fonts and maps every string shown to
 * glyphs, and builds the outline of every glyph (pdfjs does so when fonts are not installed in a
 * browser); it decodes its images; and the list is then copied from pdfjs's worker side to the
 * engine's. Here the page is read in this thread, where pdfjs's worker side runs (see
 * worker-objects.ts), from the content stream pdfjs decodes (its filters, within the document's
 * decompression budget), by ContentReader (content-paths.ts), which keeps only paths, colours,
 * graphics states and forms. Where that reader gives up, pdfjs's own evaluator reads the page: an
 * evaluator of the page's own whose font, text and image steps are replaced by ones that do
 * nothing, so that the path, colour, graphics-state, form and pattern operators come out as
 * getOperatorList gives them. The replacements are properties of that one evaluator: no other
 * reading of the page (its text, an OCR rendering) is affected, whatever runs meanwhile.
 * Annotations shown on the page are always read by such an evaluator.
 */

/** A page issuing more operators than this is read no further (a chart or a hostile stream): its first ones count. */
const MAX_OPERATORS = 1_000_000;
/** Forms nested deeper than this are not entered (pdfjs itself stops only at a form containing itself). */
const MAX_FORM_DEPTH = 32;
// The rendering intent getOperatorList asks for with its defaults: display, annotations as
// shown, an operator list (pdfjs's RenderingIntentFlag DISPLAY | OPLIST).
const DISPLAY_OPERATOR_LIST = 0x02 | 0x100;
// The resources getOperatorList makes sure are loaded (pdfjs's RESOURCES_KEYS_OPERATOR_LIST).
const RESOURCE_KEYS = ['ColorSpace', 'ExtGState', 'Font', 'Pattern', 'Properties', 'Shading', 'XObject'];

/** What of pdfjs's evaluator (core/evaluator.js, PartialEvaluator) is used or replaced here. */
interface Evaluator {
  getOperatorList(params: { stream: unknown; task: Task; resources: unknown; operatorList: DrawingList }): Promise<void>;
  handleSetFont(...args: unknown[]): Promise<string>;
  handleText(...args: unknown[]): unknown[];
  buildPaintImageXObject(...args: unknown[]): Promise<void>;
  buildFormXObject(...args: unknown[]): Promise<void>;
}

/** pdfjs's WorkerTask, as the evaluator uses it: it stops at its next turn once terminated. */
class Task {
  readonly name = 'docmark drawings';
  terminated = false;

  ensureNotTerminated(): void {
    if (this.terminated) throw new Error('Worker task was terminated');
  }
}

/** The reading tried first: the content stream by ContentReader (pdfjs's evaluator where it gives up), or the evaluator. */
export type DrawingReader = 'content-stream' | 'evaluator';

/** pdfjs's OperatorList without a stream to the API (ops are kept, never sent), bounded. */
export class DrawingList implements OperatorSink {
  readonly fnArray: number[] = [];
  readonly argsArray: unknown[] = [];
  readonly dependencies = new Set<string>();
  readonly ready = Promise.resolve();
  weight = 0;

  constructor(
    private readonly task: Task,
    private readonly ops: Ops,
    /** Which reading gave the page's operators. */
    readonly readBy: DrawingReader,
  ) {}

  get length(): number {
    return this.argsArray.length;
  }

  get totalLength(): number {
    return this.length;
  }

  addOp(fn: number, args: unknown = null): void {
    if (this.fnArray.length >= MAX_OPERATORS) {
      this.task.terminated = true;
      return;
    }
    this.fnArray.push(fn);
    this.argsArray.push(args);
    this.weight++;
  }

  addImageOps(fn: number, args: unknown, optionalContent: unknown, hasMask = false): void {
    const { ops } = this;
    if (hasMask) {
      this.addOp(ops.save);
      this.addOp(ops.setGState, [[['SMask', false]]]);
    }
    if (optionalContent !== undefined) this.addOp(ops.beginMarkedContentProps, ['OC', optionalContent]);
    this.addOp(fn, args);
    if (optionalContent !== undefined) this.addOp(ops.endMarkedContent, []);
    if (hasMask) this.addOp(ops.restore);
  }

  addDependency(dependency: string): void {
    if (this.dependencies.has(dependency)) return;
    this.dependencies.add(dependency);
    this.addOp(this.ops.dependency, [dependency]);
  }

  addDependencies(dependencies: Iterable<string>): void {
    for (const dependency of dependencies) this.addDependency(dependency);
  }

  addOpList(list: OperatorSink & { dependencies?: Iterable<string> }): void {
    for (const dependency of list.dependencies ?? []) this.dependencies.add(dependency);
    for (let i = 0; i < list.length; i++) this.addOp(list.fnArray[i], list.argsArray[i]);
  }
}

type Ops = Awaited<ReturnType<typeof pdfjs>>['OPS'];

// The evaluator sends fonts, images and patterns to the API's side; nothing here is rendered.
const NO_MAIN_THREAD = {
  send(): void {},
  sendWithPromise: () => Promise.reject(new Error('drawings are read without the main thread')),
};
const NO_FONT = Object.freeze({ name: 'docmark-drawings', isType3Font: false });

/**
 * The page's operators as getOperatorList would give them, but for its text (strings show no
 * glyphs) and images (none is painted); undefined where pdfjs's worker side cannot be reached, or
 * the page is one this reading does not cover (a content stream with resources of its own).
 * Most pages are read by ContentReader (content-paths.ts), the rest by pdfjs's evaluator.
 */
export async function drawingOperators(page: PDFPageProxy, reader: DrawingReader = 'content-stream'): Promise<DrawingList | undefined> {
  const { OPS, Util } = await pdfjs();
  const source = await workerPage(page);
  if (!source) return undefined;
  const [content] = await Promise.all([source.getContentStream(), source.loadResources(RESOURCE_KEYS)]);
  const local = content.dict?.get('Resources') as { size?: number } | undefined;
  if (local && typeof local.size === 'number' && local.size > 0) return undefined;
  const task = new Task();
  let list = new DrawingList(task, OPS, 'content-stream');
  try {
    if (reader !== 'content-stream') throw new NotCovered(reader);
    const contentReader = new ContentReader(list, OPS, Util.makeHexColor, { maxOperators: MAX_OPERATORS, maxFormDepth: MAX_FORM_DEPTH });
    await contentReader.readPage(content.getBytes(), source.resources);
  } catch (err) {
    if (!(err instanceof NotCovered)) throw err;
    content.reset();
    list = new DrawingList(task, OPS, 'evaluator');
    await evaluatorOf(source).getOperatorList({ stream: content, task, resources: source.resources, operatorList: list });
  }
  // Annotations shown on the page follow its content, as in getOperatorList.
  let evaluator: Evaluator | undefined;
  for (const annotation of await source._parsedAnnotations) {
    if (task.terminated) break;
    if (!shown(annotation)) continue;
    evaluator ??= evaluatorOf(source);
    const { opList } = await annotation.getOperatorList(evaluator, task, DISPLAY_OPERATOR_LIST, null).catch(() => ({ opList: null }));
    if (opList) list.addOpList(opList);
  }
  return list;
}

function evaluatorOf(source: WorkerPage): Evaluator {
  return drawingsEvaluator(source.createAnnotationEvaluator(NO_MAIN_THREAD) as Evaluator);
}

function shown(annotation: WorkerAnnotation): boolean {
  return annotation.mustBeViewed(null, false) && annotation.mustBeViewedWhenEditing(false, new Set());
}

/** The page's evaluator with its font, text and image steps doing nothing, and forms nested no deeper than MAX_FORM_DEPTH. */
function drawingsEvaluator(evaluator: Evaluator): Evaluator {
  const buildForm = evaluator.buildFormXObject;
  let depth = 0;
  return Object.assign(evaluator, {
    // The state needs a font for the text operators to be taken as text, not as errors.
    async handleSetFont(_resources: unknown, _args: unknown, _ref: unknown, _list: unknown, _task: unknown, state: { font: unknown }) {
      state.font = NO_FONT;
      return NO_FONT.name;
    },
    handleText: () => [],
    async buildPaintImageXObject() {},
    async buildFormXObject(this: Evaluator, ...args: unknown[]) {
      if (depth >= MAX_FORM_DEPTH) return;
      depth++;
      try {
        await buildForm.apply(this, args);
      } finally {
        depth--;
      }
    },
  });
}
