// pdfjs's reading of a page's text (PartialEvaluator.getTextContent), without a matrix per glyph.
//
// pdfjs lays a page's text out glyph by glyph: for each glyph it works out where the glyph is by
// multiplying three matrices (the glyph's size, the text matrix, the page's transform) into new
// arrays, twice (once to compare with the previous glyph, once to remember it for the next), and
// keeps the arrays of the last one; and it empties its operand array for every operator, which
// makes V8 drop the array's storage and grow it again. That is most of what its text reading
// allocates, and the garbage collector's work follows. This reader makes the same decisions from
// the same numbers, computed the same way (the same products summed in the same order, so the same
// doubles) into plain fields: a matrix is built only for what goes out, the position of each text
// item. Operands go to an array that keeps its storage, and where pdfjs gives the text state a new
// matrix the values are written into the one it has.
//
// What it reads is what pdfjs's own getTextContent reads, item for item: the same operators through
// pdfjs's own parser and preprocessor (its lexer, graphics state stack, `cm`), the same fonts and glyphs
// through pdfjs's own evaluator (loadFont, charsToGlyphs), form XObjects and ExtGState fonts read the
// same way, text normalised as pdfjs normalises it. What it does not do itself goes to pdfjs's own
// code, which reads the content stream again from where it was given:
// - calls with options the engine never sets (marked content, kept white space, a search's glyph
//   collector) and evaluators that stop at errors;
// - text that needs pdfjs's bidirectional reordering (Hebrew, Arabic: found as the items are made);
// - content streams pdfjs must decode asynchronously.
// Nothing is sent before the whole stream is read, so any of these can still hand over: the items
// go out as one chunk at the end, where pdfjs sends them in batches as it goes (the engine reads the
// whole page's text before it uses any of it).
//
// pdfjs exports none of its worker classes. The evaluator is found by a property its constructor
// sets (`_fetchBuiltInCMapBound`, see worker-objects.ts), the operator preprocessor likewise
// (`_numInvalidPathOPS`), and with it the text state and its stack; pdfjs's Name, Dict, Ref and
// Cmd classes and its end-of-stream marker come from the preprocessor's parser reading a few bytes. The first text a thread reads
// is read by pdfjs's own code, which builds the classes this reader needs. And all of this is done
// only when pdfjs's worker source is exactly the one this file was written against (its SHA-256):
// the reader mirrors code that is private to it (how text is normalised, which characters need
// reordering), which no check of one function could cover.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { catchFirst } from './worker-objects.js';

const EVALUATOR_MARK = '_fetchBuiltInCMapBound';
const PREPROCESSOR_MARK = '_numInvalidPathOPS';

/** SHA-256 of pdfjs-dist 5.6.205's legacy/build/pdf.worker.mjs: the code this reader mirrors. */
export const KNOWN_WORKER_SHA256 = '499da1f7f1c6c24be898b556638d2ffec999b2ad234c796508e3d7c7025c28cb';

/** pdfjs refuses an operator with more operands than this. */
const MAX_OPERANDS = 33;
/** pdfjs gives up on a content stream after this many path operators in a row with too few operands. */
const MAX_INVALID_PATH_OPS = 10;

/** pdfjs's factors of a font's size for the gaps it reads as spaces, line breaks or overlaps. */
const TRACKING_SPACE_FACTOR = 0.102;
const NOT_A_SPACE_FACTOR = 0.03;
const NEGATIVE_SPACE_FACTOR = -0.2;
const SPACE_IN_FLOW_MIN_FACTOR = 0.102;
const SPACE_IN_FLOW_MAX_FACTOR = 0.6;
const VERTICAL_SHIFT_RATIO = 0.25;

/** The characters pdfjs's text reading replaces by their NFKC form (ﬅ, which NFKC spells `st`, becomes `ſt`). */
const NORMALIZE =
  /([\u00a0\u00b5\u037e\u0eb3\u2000-\u200a\u202f\u2126\ufb00-\ufb04\ufb06\ufb20-\ufb36\ufb38-\ufb3c\ufb3e\ufb40-\ufb41\ufb43-\ufb44\ufb46-\ufba1\ufba4-\ufba9\ufbae-\ufbb1\ufbd3-\ufbdc\ufbde-\ufbe7\ufbea-\ufbf8\ufbfc-\ufbfd\ufc00-\ufc5d\ufc64-\ufcf1\ufcf5-\ufd3d\ufd88\ufdf4\ufdfa-\ufdfb\ufe71\ufe77\ufe79\ufe7b\ufe7d]+)|(\ufb05+)/gu;
/** The lowest character NORMALIZE or the reordering can touch: text below it is kept as it is. */
const FIRST_SPECIAL = 0xa0;

/**
 * pdfjs 5.6's operator ids (its OPS), those the text reading acts on: constants, so that the reader's
 * switch over them is a jump table (checked against pdfjs's OPS when installed).
 */
// biome-ignore lint/suspicious/noConstEnum: its members are compiled to the numbers themselves (this file's own use only).
const enum Op {
  setGState = 9,
  moveTo = 13,
  endPath = 28,
  beginText = 31,
  setCharSpacing = 33,
  setWordSpacing = 34,
  setHScale = 35,
  setLeading = 36,
  setFont = 37,
  setTextRise = 39,
  moveText = 40,
  setLeadingMoveText = 41,
  setTextMatrix = 42,
  nextLine = 43,
  showText = 44,
  showSpacedText = 45,
  nextLineShowText = 46,
  nextLineSetSpacingShowText = 47,
  paintXObject = 66,
  beginMarkedContent = 69,
  beginMarkedContentProps = 70,
  endMarkedContent = 71,
}

const OP_NAMES: Record<string, Op> = {
  setGState: Op.setGState,
  moveTo: Op.moveTo,
  endPath: Op.endPath,
  beginText: Op.beginText,
  setCharSpacing: Op.setCharSpacing,
  setWordSpacing: Op.setWordSpacing,
  setHScale: Op.setHScale,
  setLeading: Op.setLeading,
  setFont: Op.setFont,
  setTextRise: Op.setTextRise,
  moveText: Op.moveText,
  setLeadingMoveText: Op.setLeadingMoveText,
  setTextMatrix: Op.setTextMatrix,
  nextLine: Op.nextLine,
  showText: Op.showText,
  showSpacedText: Op.showSpacedText,
  nextLineShowText: Op.nextLineShowText,
  nextLineSetSpacingShowText: Op.nextLineSetSpacingShowText,
  paintXObject: Op.paintXObject,
  beginMarkedContent: Op.beginMarkedContent,
  beginMarkedContentProps: Op.beginMarkedContentProps,
  endMarkedContent: Op.endMarkedContent,
};

// ---- pdfjs's worker objects, as far as they are used here ----

type Matrix = ArrayLike<number>;

interface Font {
  name: string;
  vertical: boolean;
  isType3Font: boolean;
  isCharBBox: boolean;
  bbox: number[];
  fontMatrix?: number[];
  fallbackName: string;
  ascent: number;
  descent: number;
  systemFontInfo?: { css: string; loadedName: string };
  charsToGlyphs(chars: unknown): Glyph[];
}

interface Glyph {
  originalCharCode: number;
  unicode: string;
  width: number;
  vmetric: number[] | null;
  category: { isInvisibleFormatMark: boolean; isWhitespace: boolean; isZeroWidthDiacritic: boolean };
}

interface TextState {
  ctm: Matrix;
  fontName: string | null;
  fontSize: number;
  loadedName: string | null;
  font: Font | null;
  fontMatrix: Matrix;
  textMatrix: number[];
  textLineMatrix: number[];
  charSpacing: number;
  wordSpacing: number;
  leading: number;
  textHScale: number;
  textRise: number;
  setTextMatrix(a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, f: unknown): void;
  setTextLineMatrix(a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, f: unknown): void;
  translateTextMatrix(x: number, y: number): void;
  translateTextLineMatrix(x: unknown, y: unknown): void;
  carriageReturn(): void;
  clone(): TextState;
}

interface StateManager {
  state: TextState;
  stateStack: TextState[];
  transform(matrix: unknown): void;
}

interface Operation {
  fn: number;
  args: unknown[] | null;
}

interface Preprocessor {
  read(operation: Operation): boolean;
  readonly parser: { getObj(): unknown };
  readonly nonProcessedArgs: unknown[];
  preprocessCommand(fn: number, args: unknown[]): void;
}

/** An operator's entry in pdfjs's table of them (null for words it tolerates and skips). */
type OpSpec = { id: number; numArgs: number; variableArgs: boolean } | null | undefined;

interface PdfDict {
  get(key: string): unknown;
  getRaw(key: string): unknown;
  getArray(key: string): unknown;
  objId?: string | null;
}

interface PdfStream {
  readonly isAsync: boolean;
  /** Where the next byte is read (pdfjs's Stream and DecodeStream both have it). */
  pos: number;
  dict?: PdfDict | null;
}

interface Task {
  ensureNotTerminated(): void;
}

interface Sink {
  enqueue(chunk: TextContent, size: number): void;
}

interface Evaluator {
  xref: { fetch(ref: unknown): unknown };
  pageIndex: number;
  options: { ignoreErrors: boolean; fontExtraProperties: boolean };
  globalImageCache: { getData(ref: unknown, pageIndex: number): unknown };
  loadFont(fontName: string | null, fontRef: unknown, resources: PdfDict, task: Task): Promise<{ loadedName: string; font: Font }>;
  ensureStateFont(state: TextState): void;
  getTextContent(params: TextContentParams): Promise<void>;
}

/** getTextContent's options (pdfjs names them). */
interface TextContentParams {
  stream: PdfStream;
  task: Task;
  resources: PdfDict | null;
  stateManager?: StateManager | null;
  includeMarkedContent?: boolean;
  sink?: Sink;
  seenStyles?: Set<string>;
  viewBox: number[];
  lang?: string | null;
  markedContentData?: unknown;
  disableNormalization?: boolean;
  keepWhiteSpace?: boolean;
  prevRefs?: Iterable<string> | null;
  intersector?: unknown;
}

export interface TextItem {
  str: string;
  dir: string;
  width: number;
  height: number;
  transform: number[] | null;
  fontName: string | null;
  hasEOL: boolean;
}

interface TextStyle {
  fontFamily: string;
  ascent: number;
  descent: number;
  vertical: boolean;
  fontSubstitution?: string;
  fontSubstitutionLoadedName?: string;
}

interface TextContent {
  items: TextItem[];
  styles: Record<string, TextStyle>;
  lang: string | null;
}

type Class<T = object> = abstract new (...args: never[]) => T;

/** The pdfjs classes the reader builds or tests values against. */
interface Classes {
  Preprocessor: new (stream: PdfStream, xref: unknown, stateManager: StateManager) => Preprocessor;
  /** The preprocessor's table of operators, by name. */
  opMap: Record<string, OpSpec>;
  /** What pdfjs's parser gives for an operator, and at the end of the stream. */
  Cmd: Class<{ cmd: string }>;
  EOF: unknown;
  StateManager: new (state: TextState) => StateManager;
  TextState: new () => TextState;
  Name: Class<{ name: string }>;
  Dict: Class<PdfDict>;
  Ref: Class;
  BaseStream: Class<PdfStream>;
}

/** A read this file hands to pdfjs's own code (see the top of the file). */
class HandOver extends Error {}

// ---- installing ----

interface Installed {
  readonly proto: { getTextContent: Evaluator['getTextContent'] };
  readonly original: Evaluator['getTextContent'];
}

let installed = false;
let replaced: Installed | undefined;
/** Reads this reader made itself, and reads it gave to pdfjs's own code (for tests). */
export const textContentReads = { own: 0, handedOver: 0 };

/** Whether `source` is the pdfjs worker this reader was written against. */
export function isKnownWorkerSource(source: string | Uint8Array): boolean {
  return createHash('sha256').update(source).digest('hex') === KNOWN_WORKER_SHA256;
}

/**
 * Replace getTextContent on the first evaluator pdfjs builds from now on (idempotent), when the
 * worker module at `workerFile` is the known one.
 */
export function installTextContent(workerFile: string, ops: Readonly<Record<string, number>>): void {
  if (installed) return;
  installed = true;
  let source: Buffer;
  try {
    source = readFileSync(workerFile);
  } catch {
    return;
  }
  if (!isKnownWorkerSource(source)) return;
  if (Object.entries(OP_NAMES).some(([name, id]) => ops[name] !== id)) return;
  const found: Partial<Classes> = {};
  catchFirst(PREPROCESSOR_MARK, (instance) => catchPreprocessor(instance, found));
  catchFirst(EVALUATOR_MARK, (instance) => replaceGetTextContent(instance, found));
}

/** pdfjs's evaluator prototype and its own getTextContent once replaced; undefined before (or if never). */
export function replacedTextContent(): Installed | undefined {
  return replaced;
}

function catchPreprocessor(instance: object, found: Partial<Classes>): boolean {
  const manager = (instance as { stateManager?: StateManager }).stateManager;
  const state = manager?.state as Partial<TextState> | undefined;
  // An operator list's preprocessor (its state is an EvalState): wait for a text reading's.
  if (typeof state?.translateTextMatrix !== 'function' || typeof (instance as Preprocessor).read !== 'function') return false;
  found.Preprocessor = instance.constructor as Classes['Preprocessor'];
  found.StateManager = manager!.constructor as Classes['StateManager'];
  found.TextState = state.constructor as Classes['TextState'];
  return true;
}

function replaceGetTextContent(instance: object, found: Partial<Classes>): boolean {
  let proto = Object.getPrototypeOf(instance) as Installed['proto'] | null;
  while (proto && !Object.hasOwn(proto, 'getTextContent')) proto = Object.getPrototypeOf(proto) as Installed['proto'] | null;
  if (!proto || typeof proto.getTextContent !== 'function') return true;
  const original = proto.getTextContent;
  let classes: Classes | undefined;
  let failed = false;
  proto.getTextContent = function getTextContent(this: Evaluator, params: TextContentParams): Promise<void> {
    if (!classes && !failed && found.Preprocessor && params.stream) {
      classes = completeClasses(found, params.stream);
      failed = !classes;
    }
    if (!classes || !isPlainRead(this, params)) {
      textContentReads.handedOver++;
      return original.call(this, params);
    }
    return readTextContent(this, params, classes, original);
  };
  replaced = { proto, original };
  return true;
}

/** Calls the reader answers itself: the options the engine uses (see the top of the file). */
function isPlainRead(evaluator: Evaluator, params: TextContentParams): boolean {
  return (
    evaluator.options?.ignoreErrors === true &&
    !params.includeMarkedContent &&
    !params.keepWhiteSpace &&
    !params.intersector &&
    !params.markedContentData &&
    !!params.resources &&
    !params.stream.isAsync &&
    typeof params.stream.pos === 'number'
  );
}

/**
 * The classes the preprocessor did not bring: Name, Dict, Ref, Cmd and the end marker from its parser reading `/P <</R 1 0 R>> BDC`
 * (a marked-content operator: a name and a dictionary holding a reference), and pdfjs's base of all
 * streams from the stream being read. Undefined when anything is not as expected.
 */
function completeClasses(found: Partial<Classes>, stream: PdfStream): Classes | undefined {
  try {
    const { Preprocessor, StateManager, TextState } = found as Classes;
    const bytes = Buffer.from('/P <</R 1 0 R>> BDC ', 'latin1');
    const input = {
      pos: 0,
      getByte() {
        return this.pos < bytes.length ? bytes[this.pos++] : -1;
      },
      peekByte() {
        return this.pos < bytes.length ? bytes[this.pos] : -1;
      },
    };
    const preprocessor = new Preprocessor(input as unknown as PdfStream, null, new StateManager(new TextState()));
    const [name, dict, cmd, EOF] = [0, 1, 2, 3].map(() => preprocessor.parser.getObj());
    const opMap = (Preprocessor as unknown as { opMap?: Record<string, OpSpec> }).opMap;
    if ((cmd as { cmd?: unknown })?.cmd !== 'BDC' || typeof EOF !== 'symbol' || opMap?.BDC?.numArgs !== 2) return undefined;
    if ((name as { name?: unknown })?.name !== 'P') return undefined;
    const ref = (dict as Partial<PdfDict> | undefined)?.getRaw?.('R') as { num?: unknown } | undefined;
    if (typeof (dict as Partial<PdfDict>).get !== 'function' || ref?.num !== 1) return undefined;
    let base = Object.getPrototypeOf(stream) as object | null;
    while (base && Object.getPrototypeOf(base) !== Object.prototype) base = Object.getPrototypeOf(base) as object | null;
    const BaseStream = base?.constructor as Classes['BaseStream'] | undefined;
    if (BaseStream?.name !== 'BaseStream' || !(stream instanceof BaseStream)) return undefined;
    return {
      Preprocessor,
      opMap,
      Cmd: (cmd as object).constructor as Classes['Cmd'],
      EOF,
      StateManager,
      TextState,
      Name: (name as object).constructor as Classes['Name'],
      Dict: (dict as object).constructor as Classes['Dict'],
      Ref: (ref as object).constructor as Classes['Ref'],
      BaseStream,
    };
  } catch {
    return undefined;
  }
}

// ---- reading ----

/** What one getTextContent call builds: its items and styles, shared by the form XObjects it reads. */
interface Output {
  readonly items: TextItem[];
  readonly styles: Record<string, TextStyle>;
  readonly seenStyles: Set<string>;
}

/** What every stream of one call shares. */
interface Context {
  readonly evaluator: Evaluator;
  readonly classes: Classes;
  readonly task: Task;
  readonly viewBox: number[];
  readonly normalize: boolean;
  readonly output: Output;
}

async function readTextContent(
  evaluator: Evaluator,
  params: TextContentParams,
  classes: Classes,
  original: Evaluator['getTextContent'],
): Promise<void> {
  // The caller's state and styles stay as they were until the read is done: a read handed to
  // pdfjs's code starts from them again.
  const seenStyles = new Set(params.seenStyles ?? []);
  const output: Output = { items: [], styles: Object.create(null) as Record<string, TextStyle>, seenStyles };
  const context: Context = {
    evaluator,
    classes,
    task: params.task,
    viewBox: params.viewBox,
    normalize: !params.disableNormalization,
    output,
  };
  const manager = params.stateManager
    ? new classes.StateManager(params.stateManager.state.clone())
    : new classes.StateManager(new classes.TextState());
  const stream = params.stream;
  const start = stream.pos;
  try {
    await readStream(context, stream, params.resources!, manager, new Set(params.prevRefs ?? []));
  } catch (error) {
    if (!(error instanceof HandOver)) throw error;
    textContentReads.handedOver++;
    // pdfjs's code reads the stream from where it was given.
    stream.pos = start;
    return original.call(evaluator, params);
  }
  textContentReads.own++;
  if (params.seenStyles) for (const name of seenStyles) params.seenStyles.add(name);
  if (output.items.length > 0) params.sink?.enqueue({ items: output.items, styles: output.styles, lang: params.lang ?? null }, output.items.length);
}

/** One content stream (a page's, or a form XObject's), read into the call's output. */
async function readStream(context: Context, stream: PdfStream, resources: PdfDict, manager: StateManager, prevRefs: Set<string>): Promise<void> {
  if (stream.isAsync) throw new HandOver();
  const objId = stream.dict?.objId;
  const seenRefs = new Set(prevRefs);
  if (objId) {
    if (prevRefs.has(objId)) throw new Error(`getTextContent - ignoring circular reference: ${objId}`);
    seenRefs.add(objId);
  }
  await new StreamReader(context, stream, resources, manager, seenRefs).read();
}

/** Names of XObjects and graphics states found to hold no text (pdfjs's local caches, for that use only). */
class EmptyNames {
  readonly #refOfName = new Map<string, string>();
  readonly #refs = new Set<string>();
  readonly #names = new Set<string>();

  set(name: string, ref: string | null | undefined): void {
    if (typeof name !== 'string') throw new Error('expected a name');
    if (ref) {
      if (this.#refs.has(ref)) return;
      this.#refOfName.set(name, ref);
      this.#refs.add(ref);
    } else {
      this.#names.add(name);
    }
  }

  hasName(name: string): boolean {
    const ref = this.#refOfName.get(name);
    return ref ? this.#refs.has(ref) : this.#names.has(name);
  }

  hasRef(ref: object): boolean {
    return this.#refs.has(String(ref));
  }
}

const NO_XOBJECTS: Pick<PdfDict, 'getRaw'> = { getRaw: () => undefined };

function isAbort(reason: unknown): boolean {
  return (reason as { name?: unknown } | null)?.name === 'AbortException';
}

/**
 * pdfjs's text layout over one content stream: the same state, the same tests in the same order,
 * with the glyph positions in fields (cur*: the glyph being placed, prev*: the last glyph placed).
 */
class StreamReader {
  readonly #context: Context;
  readonly #resources: PdfDict;
  readonly #manager: StateManager;
  readonly #preprocessor: Preprocessor;
  /** The current operator's operands: written over, never emptied (emptying drops its storage). */
  readonly #args: unknown[] = [];
  #isPathOp = false;
  #invalidPathOps = 0;
  readonly #seenRefs: Set<string>;
  readonly #emptyXObjects = new EmptyNames();
  readonly #emptyGStates = new EmptyNames();
  #xobjs: Pick<PdfDict, 'getRaw'> | null = null;

  textState!: TextState;
  currentTextState: TextState | null = null;

  // The item being built (pdfjs's textContentItem; its fields outlive an item, as pdfjs's do).
  initialized = false;
  readonly str: string[] = [];
  totalWidth = 0;
  totalHeight = 0;
  width = 0;
  height = 0;
  vertical = false;
  hasPrev = false;
  prev0 = 0;
  prev1 = 0;
  prev2 = 0;
  prev3 = 0;
  prev4 = 0;
  prev5 = 0;
  prevTextRise = 0;
  textAdvanceScale = 0;
  spaceInFlowMin = 0;
  spaceInFlowMax = 0;
  trackingSpaceMin = Number.POSITIVE_INFINITY;
  negativeSpaceMax = Number.NEGATIVE_INFINITY;
  notASpace = Number.NEGATIVE_INFINITY;
  transform: number[] | null = null;
  fontName: string | null = null;
  hasEOL = false;

  // The last two characters placed (older, newer), for the spaces pdfjs adds between words.
  olderChar = ' ';
  newerChar = ' ';

  // The current glyph's transform, as computeTransform() left it.
  cur0 = 0;
  cur1 = 0;
  cur2 = 0;
  cur3 = 0;
  cur4 = 0;
  cur5 = 0;

  constructor(context: Context, stream: PdfStream, resources: PdfDict, manager: StateManager, seenRefs: Set<string>) {
    this.#context = context;
    this.#resources = resources;
    this.#manager = manager;
    this.#seenRefs = seenRefs;
    this.#preprocessor = new context.classes.Preprocessor(stream, context.evaluator.xref, manager);
  }

  async read(): Promise<void> {
    const { task, evaluator, classes } = this.#context;
    const manager = this.#manager;
    try {
      task.ensureNotTerminated();
      const args = this.#args;
      while (true) {
        const fn = this.#readOperation();
        if (fn < 0) break;
        const textState = manager.state;
        this.textState = textState;
        this.currentTextState ??= textState.clone();
        switch (fn) {
          case Op.setFont: {
            const fontName = (args[0] as { name: string }).name;
            const fontSize = args[1] as number;
            if (textState.font && fontName === textState.fontName && fontSize === textState.fontSize) break;
            textState.fontName = fontName;
            textState.fontSize = fontSize;
            await this.setFont(fontName, null);
            task.ensureNotTerminated();
            break;
          }
          case Op.setTextRise:
            textState.textRise = args[0] as number;
            break;
          case Op.setHScale:
            textState.textHScale = (args[0] as number) / 100;
            break;
          case Op.setLeading:
            textState.leading = args[0] as number;
            break;
          case Op.moveText:
            textState.translateTextLineMatrix(args[0], args[1]);
            copyMatrix(textState.textLineMatrix, textState.textMatrix);
            break;
          case Op.setLeadingMoveText:
            textState.leading = -(args[1] as number);
            textState.translateTextLineMatrix(args[0], args[1]);
            copyMatrix(textState.textLineMatrix, textState.textMatrix);
            break;
          case Op.nextLine:
            textState.carriageReturn();
            break;
          case Op.setTextMatrix:
            textState.setTextMatrix(args[0], args[1], args[2], args[3], args[4], args[5]);
            textState.setTextLineMatrix(args[0], args[1], args[2], args[3], args[4], args[5]);
            this.updateAdvanceScale();
            break;
          case Op.setCharSpacing:
            textState.charSpacing = args[0] as number;
            break;
          case Op.setWordSpacing:
            textState.wordSpacing = args[0] as number;
            break;
          case Op.beginText:
            copyMatrix(IDENTITY_MATRIX, textState.textMatrix);
            copyMatrix(IDENTITY_MATRIX, textState.textLineMatrix);
            break;
          case Op.showSpacedText: {
            if (!manager.state.font) {
              evaluator.ensureStateFont(manager.state);
              continue;
            }
            const font = textState.font!;
            const spaceFactor = ((font.vertical ? 1 : -1) * textState.fontSize) / 1000;
            const elements = args[0] as unknown[];
            // Strings drawn with no adjustment between them are one run of glyphs.
            let pending: string | null = null;
            for (let i = 0, ii = elements.length; i < ii; i++) {
              const item = elements[i];
              if (typeof item === 'string') {
                pending = pending === null ? item : pending + item;
              } else if (typeof item === 'number' && item !== 0) {
                this.buildItem(pending ?? '', item * spaceFactor);
                pending = null;
              }
            }
            if (pending !== null) this.buildItem(pending, 0);
            break;
          }
          case Op.showText:
            if (!manager.state.font) {
              evaluator.ensureStateFont(manager.state);
              continue;
            }
            this.buildItem(args[0], 0);
            break;
          case Op.nextLineShowText:
            if (!manager.state.font) {
              evaluator.ensureStateFont(manager.state);
              continue;
            }
            textState.carriageReturn();
            this.buildItem(args[0], 0);
            break;
          case Op.nextLineSetSpacingShowText:
            if (!manager.state.font) {
              evaluator.ensureStateFont(manager.state);
              continue;
            }
            textState.wordSpacing = args[0] as number;
            textState.charSpacing = args[1] as number;
            textState.carriageReturn();
            this.buildItem(args[2], 0);
            break;
          case Op.paintXObject: {
            this.flush();
            this.#xobjs ??= ((this.#resources.get('XObject') as PdfDict | undefined) || NO_XOBJECTS) as Pick<PdfDict, 'getRaw'>;
            const isValidName = args[0] instanceof classes.Name;
            const name = (args[0] as { name: string }).name;
            if (isValidName && this.#emptyXObjects.hasName(name)) break;
            await this.#swallowed(this.paintXObject(isValidName, name));
            task.ensureNotTerminated();
            break;
          }
          case Op.setGState: {
            const isValidName = args[0] instanceof classes.Name;
            const name = (args[0] as { name: string }).name;
            if (isValidName && this.#emptyGStates.hasName(name)) break;
            await this.#swallowed(this.setGState(isValidName, name));
            task.ensureNotTerminated();
            break;
          }
          // Marked content (not asked for) ends the item being built, as in pdfjs.
          case Op.beginMarkedContent:
          case Op.beginMarkedContentProps:
          case Op.endMarkedContent:
            this.flush();
            break;
        }
      }
      this.flush();
    } catch (reason) {
      if (reason instanceof HandOver) throw reason;
      if (isAbort(reason)) return;
      // pdfjs's evaluators that ignore errors keep the text read so far.
      this.flush();
    }
  }

  /**
   * The next operator's id with its operands in #args, or -1 at the end of the stream: pdfjs's
   * EvaluatorPreprocessor.read, step for step, with the operands counted instead of pushed.
   */
  #readOperation(): number {
    const { Cmd, EOF, opMap } = this.#context.classes;
    const preprocessor = this.#preprocessor;
    const parser = preprocessor.parser;
    const args = this.#args;
    let count = 0;
    while (true) {
      const obj = parser.getObj();
      if (obj instanceof Cmd) {
        const spec = opMap[obj.cmd];
        // An unknown operator is skipped, its operands left for the next one (as pdfjs does).
        if (!spec) continue;
        const fn = spec.id;
        const numArgs = spec.numArgs;
        if (!this.#isPathOp) this.#invalidPathOps = 0;
        this.#isPathOp = fn >= Op.moveTo && fn <= Op.endPath;
        if (!spec.variableArgs) {
          if (count !== numArgs) count = this.#fitOperands(count, numArgs);
          if (count < numArgs) {
            if (this.#isPathOp && ++this.#invalidPathOps > MAX_INVALID_PATH_OPS) throw new Error(`Invalid command ${obj.cmd}`);
            count = 0;
            continue;
          }
        }
        preprocessor.preprocessCommand(fn, args);
        return fn;
      }
      if (obj === EOF) return -1;
      if (obj !== null) {
        args[count++] = obj;
        if (count > MAX_OPERANDS) throw new Error('Too many arguments');
      }
    }
  }

  /**
   * pdfjs's repair of an operator given too many or too few operands: the extra ones are kept
   * (leftmost first) for a later operator that lacks some. Returns how many operands it has now.
   */
  #fitOperands(count: number, numArgs: number): number {
    const args = this.#args;
    const operands = args.slice(0, count);
    const kept = this.#preprocessor.nonProcessedArgs;
    while (operands.length > numArgs) kept.push(operands.shift());
    while (operands.length < numArgs && kept.length !== 0) operands.unshift(kept.pop());
    for (let i = 0; i < operands.length; i++) args[i] = operands[i];
    return operands.length;
  }

  /** A form XObject's or graphics state's read: its errors are pdfjs's to ignore, not the page's. */
  async #swallowed(read: Promise<void>): Promise<void> {
    try {
      await read;
    } catch (reason) {
      if (reason instanceof HandOver) throw reason;
    }
  }

  async setFont(fontName: string | null, fontRef: unknown): Promise<void> {
    const translated = await this.#context.evaluator.loadFont(fontName, fontRef, this.#resources, this.#context.task);
    const textState = this.textState;
    textState.loadedName = translated.loadedName;
    textState.font = translated.font;
    textState.fontMatrix = translated.font.fontMatrix || FONT_IDENTITY_MATRIX;
  }

  async paintXObject(isValidName: boolean, name: string): Promise<void> {
    const { evaluator, classes } = this.#context;
    if (!isValidName) throw new Error('XObject must be referred to by name.');
    let xobj = this.#xobjs!.getRaw(name);
    if (xobj instanceof classes.Ref) {
      if (this.#emptyXObjects.hasRef(xobj)) return;
      if (evaluator.globalImageCache.getData(xobj, evaluator.pageIndex)) return;
      xobj = evaluator.xref.fetch(xobj);
    }
    if (!(xobj instanceof classes.BaseStream)) throw new Error('XObject should be a stream');
    const dict = xobj.dict!;
    const type = dict.get('Subtype');
    if (!(type instanceof classes.Name)) throw new Error('XObject should have a Name subtype');
    if (type.name !== 'Form') {
      this.#emptyXObjects.set(name, dict.objId);
      return;
    }
    const manager = new classes.StateManager(this.#manager.state.clone());
    const matrix = dict.getArray('Matrix');
    if (isMatrix(matrix)) manager.transform(matrix);
    const localResources = dict.get('Resources');
    const items = this.#context.output.items;
    const before = items.length;
    await readStream(this.#context, xobj, localResources instanceof classes.Dict ? localResources : this.#resources, manager, this.#seenRefs);
    if (items.length === before) this.#emptyXObjects.set(name, dict.objId);
  }

  async setGState(isValidName: boolean, name: string): Promise<void> {
    const { classes } = this.#context;
    if (!isValidName) throw new Error('GState must be referred to by name.');
    const extGState = this.#resources.get('ExtGState');
    if (!(extGState instanceof classes.Dict)) throw new Error('ExtGState should be a dictionary.');
    const gState = extGState.get(name);
    if (!(gState instanceof classes.Dict)) throw new Error('GState should be a dictionary.');
    const gStateFont = gState.get('Font') as [unknown, number] | undefined;
    if (!gStateFont) {
      this.#emptyGStates.set(name, gState.objId);
      return;
    }
    this.flush();
    this.textState.fontName = null;
    this.textState.fontSize = gStateFont[1];
    await this.setFont(null, gStateFont[0]);
  }

  /** The glyphs of one string drawn, laid out into items (pdfjs's buildTextContentItem). */
  buildItem(chars: unknown, extraSpacing: number): void {
    const textState = this.textState;
    const current = this.currentTextState!;
    if (
      current !== textState &&
      (current.fontSize !== textState.fontSize ||
        (current.fontName !== textState.fontName &&
          (current.font!.name !== textState.font!.name || current.font!.vertical !== textState.font!.vertical)))
    ) {
      this.flush();
      this.currentTextState = textState.clone();
    }
    const font = textState.font!;
    const vertical = font.vertical;
    const baseCharSpacing = vertical ? -textState.charSpacing : textState.charSpacing;
    if (!chars) {
      const charSpacing = baseCharSpacing + extraSpacing;
      if (charSpacing) {
        if (!vertical) textState.translateTextMatrix(charSpacing * textState.textHScale, 0);
        else textState.translateTextMatrix(0, -charSpacing);
      }
      return;
    }
    const glyphs = font.charsToGlyphs(chars);
    const scale = textState.fontMatrix[0] * textState.fontSize;
    for (let i = 0, ii = glyphs.length; i < ii; i++) {
      const glyph = glyphs[i];
      const category = glyph.category;
      if (category.isInvisibleFormatMark) continue;
      let charSpacing = baseCharSpacing + (i + 1 === ii ? extraSpacing : 0);
      let glyphWidth = glyph.width;
      if (vertical) glyphWidth = glyph.vmetric ? glyph.vmetric[0] : -glyphWidth;
      let scaledDim = glyphWidth * scale;
      if (glyph.originalCharCode === 0x20) charSpacing += textState.wordSpacing;
      if (category.isWhitespace) {
        if (!vertical) {
          charSpacing += scaledDim;
          textState.translateTextMatrix(charSpacing * textState.textHScale, 0);
        } else {
          charSpacing += -scaledDim;
          textState.translateTextMatrix(0, -charSpacing);
        }
        this.saveLastChar(' ');
        continue;
      }
      if (!category.isZeroWidthDiacritic && !this.compareWithLastPosition(scaledDim)) {
        if (!vertical) textState.translateTextMatrix(scaledDim * textState.textHScale, 0);
        else textState.translateTextMatrix(0, scaledDim);
        continue;
      }
      this.ensureItem();
      if (category.isZeroWidthDiacritic) scaledDim = 0;
      if (!vertical) {
        scaledDim *= textState.textHScale;
        textState.translateTextMatrix(scaledDim, 0);
        this.width += scaledDim;
      } else {
        textState.translateTextMatrix(0, scaledDim);
        scaledDim = Math.abs(scaledDim);
        this.height += scaledDim;
      }
      if (scaledDim) {
        this.computeTransform();
        this.hasPrev = true;
        this.prev0 = this.cur0;
        this.prev1 = this.cur1;
        this.prev2 = this.cur2;
        this.prev3 = this.cur3;
        this.prev4 = this.cur4;
        this.prev5 = this.cur5;
        this.prevTextRise = textState.textRise;
      }
      const unicode = glyph.unicode;
      if (this.saveLastChar(unicode)) this.str.push(' ');
      this.str.push(unicode);
      if (charSpacing) {
        if (!vertical) textState.translateTextMatrix(charSpacing * textState.textHScale, 0);
        else textState.translateTextMatrix(0, -charSpacing);
      }
    }
  }

  /**
   * The current glyph's transform, page transform × text matrix × the glyph's size and rise, into
   * cur0..cur5: pdfjs's two matrix products, term for term (the zero terms too: they decide the
   * sign of a zero and spread NaN as pdfjs's do).
   */
  computeTransform(): void {
    const textState = this.textState;
    const font = textState.font!;
    const fontSize = textState.fontSize;
    const s0 = fontSize * textState.textHScale;
    const s1 = 0;
    const s2 = 0;
    let s3 = fontSize;
    const s4 = 0;
    const s5 = textState.textRise;
    if (font.isType3Font && (fontSize <= 1 || font.isCharBBox) && !isFontIdentity(textState.fontMatrix)) {
      const glyphHeight = font.bbox[3] - font.bbox[1];
      if (glyphHeight > 0) s3 *= glyphHeight * textState.fontMatrix[3];
    }
    const m = textState.textMatrix;
    const a0 = m[0] * s0 + m[2] * s1;
    const a1 = m[1] * s0 + m[3] * s1;
    const a2 = m[0] * s2 + m[2] * s3;
    const a3 = m[1] * s2 + m[3] * s3;
    const a4 = m[0] * s4 + m[2] * s5 + m[4];
    const a5 = m[1] * s4 + m[3] * s5 + m[5];
    const c = textState.ctm;
    this.cur0 = c[0] * a0 + c[2] * a1;
    this.cur1 = c[1] * a0 + c[3] * a1;
    this.cur2 = c[0] * a2 + c[2] * a3;
    this.cur3 = c[1] * a2 + c[3] * a3;
    this.cur4 = c[0] * a4 + c[2] * a5 + c[4];
    this.cur5 = c[1] * a4 + c[3] * a5 + c[5];
  }

  currentTransform(): number[] {
    this.computeTransform();
    return [this.cur0, this.cur1, this.cur2, this.cur3, this.cur4, this.cur5];
  }

  prevTransform(): number[] | null {
    return this.hasPrev ? [this.prev0, this.prev1, this.prev2, this.prev3, this.prev4, this.prev5] : null;
  }

  /** pdfjs's compareWithLastPosition: false for a glyph off the page; else spaces, breaks and new items. */
  compareWithLastPosition(glyphWidth: number): boolean {
    this.computeTransform();
    const t0 = this.cur0;
    const t1 = this.cur1;
    const t2 = this.cur2;
    const t3 = this.cur3;
    let posX = this.cur4;
    let posY = this.cur5;
    const textState = this.textState;
    const viewBox = this.#context.viewBox;
    if (textState.font?.vertical) {
      if (posX < viewBox[0] || posX > viewBox[2] || posY + glyphWidth < viewBox[1] || posY > viewBox[3]) return false;
    } else if (posX + glyphWidth < viewBox[0] || posX > viewBox[2] || posY < viewBox[1] || posY > viewBox[3]) {
      return false;
    }
    if (!textState.font || !this.hasPrev) return true;
    let lastPosX = this.prev4;
    let lastPosY = this.prev5;
    if (lastPosX === posX && lastPosY === posY) return true;
    let rotate = -1;
    if (t0 && t1 === 0 && t2 === 0) rotate = t0 > 0 ? 0 : 180;
    else if (t1 && t0 === 0 && t3 === 0) rotate = t1 > 0 ? 90 : 270;
    switch (rotate) {
      case 0:
        break;
      case 90: {
        const x = posX;
        posX = posY;
        posY = x;
        const lastX = lastPosX;
        lastPosX = lastPosY;
        lastPosY = lastX;
        break;
      }
      case 180:
        posX = -posX;
        posY = -posY;
        lastPosX = -lastPosX;
        lastPosY = -lastPosY;
        break;
      case 270: {
        const x = posX;
        posX = -posY;
        posY = -x;
        const lastX = lastPosX;
        lastPosX = -lastPosY;
        lastPosY = -lastX;
        break;
      }
      default: {
        const scale = hypot(t0, t1);
        const x = posX;
        posX = (t0 * x + t1 * posY) / scale;
        posY = (t2 * x + t3 * posY) / scale;
        const lastScale = hypot(this.prev0, this.prev1);
        const lastX = lastPosX;
        lastPosX = (this.prev0 * lastX + this.prev1 * lastPosY) / lastScale;
        lastPosY = (this.prev2 * lastX + this.prev3 * lastPosY) / lastScale;
      }
    }
    if (textState.font.vertical) {
      const advanceY = (lastPosY - posY) / this.textAdvanceScale;
      const advanceX = posX - lastPosX;
      const textOrientation = Math.sign(this.height || this.totalHeight);
      if (advanceY < textOrientation * this.negativeSpaceMax) {
        if (Math.abs(advanceX) > 0.5 * this.width) {
          this.appendEOL();
          return true;
        }
        this.resetLastChars();
        this.flush();
        return true;
      }
      if (Math.abs(advanceX) > this.width) {
        this.appendEOL();
        return true;
      }
      if (advanceY <= textOrientation * this.notASpace) this.resetLastChars();
      if (advanceY <= textOrientation * this.trackingSpaceMin) {
        if (this.shouldAddWhitespace()) {
          this.resetLastChars();
          this.flush();
          this.pushWhitespace(0, Math.abs(advanceY), this.prevTransform(), this.fontName);
        } else {
          this.height += advanceY;
        }
      } else if (!this.addFakeSpaces(advanceY, textOrientation)) {
        if (this.str.length === 0) {
          this.resetLastChars();
          this.pushWhitespace(0, Math.abs(advanceY), this.prevTransform(), this.fontName);
        } else {
          this.height += advanceY;
        }
      }
      if (Math.abs(advanceX) > this.width * VERTICAL_SHIFT_RATIO) this.flush();
      return true;
    }
    const advanceX = (posX - lastPosX) / this.textAdvanceScale;
    const advanceY = posY - lastPosY;
    const textOrientation = Math.sign(this.width || this.totalWidth);
    if (advanceX < textOrientation * this.negativeSpaceMax) {
      if (Math.abs(advanceY) > 0.5 * this.height) {
        this.appendEOL();
        return true;
      }
      this.resetLastChars();
      this.flush();
      return true;
    }
    const textRiseDelta = textState.textRise - this.prevTextRise;
    const advanceYCorrected = textRiseDelta === 0 ? advanceY : advanceY - (t3 / textState.fontSize) * textRiseDelta;
    if (Math.abs(advanceYCorrected) > this.height) {
      this.appendEOL();
      return true;
    }
    if (advanceX <= textOrientation * this.notASpace) this.resetLastChars();
    if (advanceX <= textOrientation * this.trackingSpaceMin) {
      if (this.shouldAddWhitespace()) {
        this.resetLastChars();
        this.flush();
        this.pushWhitespace(Math.abs(advanceX), 0, this.prevTransform(), this.fontName);
      } else {
        this.width += advanceX;
      }
    } else if (!this.addFakeSpaces(advanceX, textOrientation)) {
      if (this.str.length === 0) {
        this.resetLastChars();
        this.pushWhitespace(Math.abs(advanceX), 0, this.prevTransform(), this.fontName);
      } else {
        this.width += advanceX;
      }
    }
    if (Math.abs(advanceY) > this.height * VERTICAL_SHIFT_RATIO) this.flush();
    return true;
  }

  /** Start an item at the current glyph, unless one is being built (pdfjs's ensureTextContentItem). */
  ensureItem(): void {
    if (this.initialized) return;
    const textState = this.textState;
    const font = textState.font!;
    const loadedName = textState.loadedName!;
    const { seenStyles, styles } = this.#context.output;
    if (!seenStyles.has(loadedName)) {
      seenStyles.add(loadedName);
      const style: TextStyle = { fontFamily: font.fallbackName, ascent: font.ascent, descent: font.descent, vertical: font.vertical };
      styles[loadedName] = style;
      if (this.#context.evaluator.options.fontExtraProperties && font.systemFontInfo) {
        style.fontSubstitution = font.systemFontInfo.css;
        style.fontSubstitutionLoadedName = font.systemFontInfo.loadedName;
      }
    }
    this.fontName = loadedName;
    const trm = this.currentTransform();
    this.transform = trm;
    if (!font.vertical) {
      this.width = this.totalWidth = 0;
      this.height = this.totalHeight = hypot(trm[2], trm[3]);
      this.vertical = false;
    } else {
      this.width = this.totalWidth = hypot(trm[0], trm[1]);
      this.height = this.totalHeight = 0;
      this.vertical = true;
    }
    const scaleLineX = hypot(textState.textLineMatrix[0], textState.textLineMatrix[1]);
    const scaleCtmX = hypot(textState.ctm[0], textState.ctm[1]);
    this.textAdvanceScale = scaleCtmX * scaleLineX;
    const fontSize = textState.fontSize;
    this.trackingSpaceMin = fontSize * TRACKING_SPACE_FACTOR;
    this.notASpace = fontSize * NOT_A_SPACE_FACTOR;
    this.negativeSpaceMax = fontSize * NEGATIVE_SPACE_FACTOR;
    this.spaceInFlowMin = fontSize * SPACE_IN_FLOW_MIN_FACTOR;
    this.spaceInFlowMax = fontSize * SPACE_IN_FLOW_MAX_FACTOR;
    this.hasEOL = false;
    this.initialized = true;
  }

  updateAdvanceScale(): void {
    if (!this.initialized) return;
    const textState = this.textState;
    const scaleLineX = hypot(textState.textLineMatrix[0], textState.textLineMatrix[1]);
    const scaleCtmX = hypot(textState.ctm[0], textState.ctm[1]);
    const scaleFactor = scaleCtmX * scaleLineX;
    if (scaleFactor === this.textAdvanceScale) return;
    if (!this.vertical) {
      this.totalWidth += this.width * this.textAdvanceScale;
      this.width = 0;
    } else {
      this.totalHeight += this.height * this.textAdvanceScale;
      this.height = 0;
    }
    this.textAdvanceScale = scaleFactor;
  }

  appendEOL(): void {
    this.resetLastChars();
    if (this.initialized) {
      this.hasEOL = true;
      this.flush();
    } else {
      this.#context.output.items.push({
        str: '',
        dir: 'ltr',
        width: 0,
        height: 0,
        transform: this.currentTransform(),
        fontName: this.textState.loadedName,
        hasEOL: true,
      });
    }
  }

  addFakeSpaces(width: number, textOrientation: number): boolean {
    if (textOrientation * this.spaceInFlowMin <= width && width <= textOrientation * this.spaceInFlowMax) {
      if (this.initialized) {
        this.resetLastChars();
        this.str.push(' ');
      }
      return false;
    }
    const fontName = this.fontName;
    let height = 0;
    if (this.vertical) {
      height = width;
      width = 0;
    }
    const transform = this.prevTransform();
    this.flush();
    this.resetLastChars();
    this.pushWhitespace(Math.abs(width), Math.abs(height), transform ?? this.currentTransform(), fontName);
    return true;
  }

  pushWhitespace(width: number, height: number, transform: number[] | null, fontName: string | null): void {
    this.#context.output.items.push({ str: ' ', dir: 'ltr', width, height, transform, fontName, hasEOL: false });
  }

  /** End the item being built (pdfjs's flushTextContentItem). */
  flush(): void {
    if (!this.initialized) return;
    if (!this.vertical) this.totalWidth += this.width * this.textAdvanceScale;
    else this.totalHeight += this.height * this.textAdvanceScale;
    const str = this.str;
    const text = str.length === 1 ? str[0] : str.join('');
    this.#context.output.items.push({
      str: this.finishText(text),
      dir: this.vertical ? 'ttb' : 'ltr',
      width: Math.abs(this.totalWidth),
      height: Math.abs(this.totalHeight),
      transform: this.transform,
      fontName: this.fontName,
      hasEOL: this.hasEOL,
    });
    this.initialized = false;
    str.length = 0;
  }

  /** The item's text normalised as pdfjs's is; text that pdfjs would reorder is handed over. */
  finishText(text: string): string {
    let i = 0;
    while (i < text.length && text.charCodeAt(i) < FIRST_SPECIAL) i++;
    if (i === text.length) return text;
    const normalised = this.#context.normalize ? text.replaceAll(NORMALIZE, normalizeMatch) : text;
    if (!this.vertical && mayNeedReordering(normalised)) throw new HandOver();
    return normalised;
  }

  saveLastChar(char: string): boolean {
    const addSpace = this.olderChar !== ' ' && this.newerChar === ' ';
    this.olderChar = this.newerChar;
    this.newerChar = char;
    return addSpace;
  }

  shouldAddWhitespace(): boolean {
    return this.olderChar !== ' ' && this.newerChar === ' ';
  }

  resetLastChars(): void {
    this.olderChar = ' ';
    this.newerChar = ' ';
  }
}

const FONT_IDENTITY_MATRIX = [0.001, 0, 0, 0.001, 0, 0];
const IDENTITY_MATRIX = [1, 0, 0, 1, 0, 0];

/**
 * Where pdfjs gives the text state a new matrix (a copy of the line matrix, or the identity), the
 * values are copied into the one it has: a state's matrices are its own (every copy of a state
 * slices them), so no other state sees the change.
 */
function copyMatrix(from: ArrayLike<unknown>, to: unknown[]): void {
  for (let i = 0; i < 6; i++) to[i] = from[i];
}

/**
 * Math.hypot of two numbers, without its call when one is zero (most text is not turned): V8's
 * hypot(0, x) is |x| exactly, so the result is the same double.
 */
function hypot(a: number, b: number): number {
  if (a === 0) return Math.abs(b);
  if (b === 0) return Math.abs(a);
  return Math.hypot(a, b);
}

function isFontIdentity(matrix: Matrix): boolean {
  if (matrix.length !== FONT_IDENTITY_MATRIX.length) return false;
  for (let i = 0; i < matrix.length; i++) if (matrix[i] !== FONT_IDENTITY_MATRIX[i]) return false;
  return true;
}

/** pdfjs's test of a form's /Matrix: six numbers (an array of numbers, or a typed array). */
function isMatrix(value: unknown): value is number[] {
  if (Array.isArray(value)) return value.length === 6 && value.every((x) => typeof x === 'number');
  return ArrayBuffer.isView(value) && !(value instanceof BigInt64Array || value instanceof BigUint64Array) && (value as Uint8Array).length === 6;
}

/** pdfjs's own spelling of what NORMALIZE's second group matches (a run of ﬅ; a longer run has none: "undefined"). */
const LONG_S_T = new Map([['\ufb05', '\u017ft']]);

function normalizeMatch(_: string, nfkc: string | undefined, longST: string): string {
  return nfkc ? nfkc.normalize('NFKC') : String(LONG_S_T.get(longST));
}

/**
 * Whether the text holds a character pdfjs's reordering treats as right-to-left or Arabic (Hebrew,
 * Arabic, Syriac and the scripts after them, Arabic presentation forms): pdfjs's code reads such text.
 */
function mayNeedReordering(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x0590) continue;
    if (c <= 0x08ac || (c >= 0xfb50 && c <= 0xfdff) || (c >= 0xfe70 && c <= 0xfeff)) return true;
  }
  return false;
}
