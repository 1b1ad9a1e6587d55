import type { OperatorSink, WorkerDict } from '../load/worker-objects.js';
import { CLOSE_PATH, CURVE_TO, LINE_TO, MOVE_TO } from './path-commands.js';

/*
 * Extract step, drawings: a page's content stream read for what readDrawings reads, without
 * pdfjs's evaluator. The evaluator still costs about as much as parsing the whole page (its text
 * is most of the stream); this reader skips strings, arrays and text operators byte by byte and
 * keeps the graphics state, paths, fill colours and forms, writing them as the operators pdfjs's
 * getOperatorList would give (same values, same order, for what readDrawings reads).
 *
 * It covers what producers write, exactly as pdfjs reads it, and nothing else: wherever pdfjs's
 * reading is lenient or needs more of the document (operands in the wrong number, a name with an
 * escape, an inline image, a fill colour in a colour space other than gray or RGB, a form with
 * optional content, a soft mask, a form containing itself, a token pdfjs would split or reject),
 * it gives up and the page is read by pdfjs's evaluator instead (see drawing-operators.ts). The
 * stream is bounded (operators, form depth) the same way.
 */

/** The reader gives up: pdfjs's evaluator reads this page. */
export class NotCovered extends Error {}

/** pdfjs's operator ids this reader writes (its OPS). */
export interface PathOps {
  save: number;
  restore: number;
  transform: number;
  setLineWidth: number;
  setGState: number;
  setFillRGBColor: number;
  constructPath: number;
  paintFormXObjectBegin: number;
  paintFormXObjectEnd: number;
  beginGroup: number;
  endGroup: number;
  stroke: number;
  closeStroke: number;
  fill: number;
  eoFill: number;
  fillStroke: number;
  eoFillStroke: number;
  closeFillStroke: number;
  closeEOFillStroke: number;
  endPath: number;
}

/** What the reader writes to (DrawingList in drawing-operators.ts). */
export interface OperatorWriter extends OperatorSink {
  addOp(fn: number, args?: unknown): void;
}

/** pdfjs's worker-side stream, as far as it is read here. */
interface WorkerStream {
  readonly dict: WorkerDict & { objId?: string; has(key: string): boolean; getArray(key: string): unknown };
  readonly isAsync?: boolean;
  asyncGetBytes?(): Promise<Uint8Array | null>;
  getBytes(): Uint8Array;
}

export interface ContentLimits {
  maxOperators: number;
  maxFormDepth: number;
}

// Byte classes, as pdfjs's lexer has them (its specialChars): white space, delimiters, the rest.
const REGULAR = 0;
const WHITE = 1;
const DELIMITER = 2;
const CLASS = new Uint8Array(256);
for (const c of [0x00, 0x09, 0x0a, 0x0c, 0x0d, 0x20]) CLASS[c] = WHITE;
for (const c of '%()/<>[]{}') CLASS[c.charCodeAt(0)] = DELIMITER;

// Tokens.
const EOF = 0;
const NUMBER = 1;
const NAME = 2;
const VALUE = 3; // a string, array, dictionary or boolean: an operand whose value is not read
const OPERATOR = 4;
const ARRAY_END = 5;
const DICT_END = 6;
/** pdfjs's limit on an operator's operands. */
const MAX_OPERANDS = 33;

// What the reader does with an operator.
const IGNORE = 0; // nothing readDrawings reads (text, clipping, stroke colour, marked content...)
const NOT_COVERED_OP = 1; // its page goes to pdfjs: a fill colour in another space, an inline image, a keyword
const SAVE = 2;
const RESTORE = 3;
const TRANSFORM = 4;
const LINE_WIDTH = 5;
const GRAPHICS_STATE = 6;
const FILL_GRAY = 7;
const FILL_RGB = 8;
const MOVE = 9;
const LINE = 10;
const CURVE = 11;
const CURVE_FROM_POINT = 12; // v
const CURVE_TO_POINT = 13; // y
const CLOSE = 14;
const RECTANGLE = 15;
const PAINT = 16;
const XOBJECT = 17;
const BOOLEAN = 18; // true and false are operands

interface OperatorSpec {
  /** Operands pdfjs expects (-1: a variable count, never covered here). */
  operands: number;
  action: number;
  /** For PAINT: pdfjs's name of the painting operator (its OPS key). */
  paint?: PaintName;
}

type PaintName = 'stroke' | 'closeStroke' | 'fill' | 'eoFill' | 'fillStroke' | 'eoFillStroke' | 'closeFillStroke' | 'closeEOFillStroke' | 'endPath';

// Every operator pdfjs knows in content streams (its EvaluatorPreprocessor's table), and the
// keywords its lexer completes (null, true, false, and the prefixes it reads them by). pdfjs splits
// a run of regular bytes where a known operator ends and one more byte would make none; a run
// that is an operator as a whole is never split (every prefix it passes through extends), so a
// run is taken whole here and a run that is not one operator is not covered.
const OPERATORS = new Map<string, OperatorSpec>();
const define = (names: string, operands: number, action: number, paint?: PaintName) => {
  for (const name of names.split(' ')) OPERATORS.set(name, { operands, action, paint });
};
define("J j M ri i Tc Tw Tz TL Tr Ts Tj TJ ' CS G sh MP BMC", 1, IGNORE);
define('d Tf Td TD d0 DP BDC', 2, IGNORE);
define('" RG', 3, IGNORE);
define('K', 4, IGNORE);
define('Tm d1', 6, IGNORE);
define('W W* BT ET T* EMC BX EX', 0, IGNORE);
define('cs', 1, IGNORE); // the fill colour space alone changes no colour; sc and scn, which would, are not covered
define('SC SCN sc scn', -1, NOT_COVERED_OP);
define('k', 4, NOT_COVERED_OP);
define('BI ID', 0, NOT_COVERED_OP);
define('EI', 1, NOT_COVERED_OP);
define('BM BD fa fal fals nu nul null', 0, NOT_COVERED_OP);
define('true false', 0, BOOLEAN);
define('q', 0, SAVE);
define('Q', 0, RESTORE);
define('cm', 6, TRANSFORM);
define('w', 1, LINE_WIDTH);
define('gs', 1, GRAPHICS_STATE);
define('g', 1, FILL_GRAY);
define('rg', 3, FILL_RGB);
define('m', 2, MOVE);
define('l', 2, LINE);
define('c', 6, CURVE);
define('v', 4, CURVE_FROM_POINT);
define('y', 4, CURVE_TO_POINT);
define('h', 0, CLOSE);
define('re', 4, RECTANGLE);
define('S', 0, PAINT, 'stroke');
define('s', 0, PAINT, 'closeStroke');
define('f F', 0, PAINT, 'fill');
define('f*', 0, PAINT, 'eoFill');
define('B', 0, PAINT, 'fillStroke');
define('B*', 0, PAINT, 'eoFillStroke');
define('b', 0, PAINT, 'closeFillStroke');
define('b*', 0, PAINT, 'closeEOFillStroke');
define('n', 0, PAINT, 'endPath');
define('Do', 1, XOBJECT);

/** An operator's bytes as a number (operators are at most 3 bytes, none of them 0). */
const codeOf = (b: ArrayLike<number>, start: number, end: number) => {
  let code = 0;
  for (let p = end - 1; p >= start; p--) code = code * 256 + b[p];
  return code;
};
const BY_CODE = new Map<number, OperatorSpec>();
for (const [name, spec] of OPERATORS) BY_CODE.set(codeOf(Buffer.from(name, 'latin1'), 0, name.length), spec);
const LONGEST_OPERATOR = 5; // "false"

/** The graphics state pdfjs keeps per q level that paths depend on: the current point. */
interface PointState {
  x: number;
  y: number;
}

class Scanner {
  pos = 0;
  number = 0;
  /** The operator just read. */
  operator: OperatorSpec = OPERATORS.get('n')!;
  /** Where the name just read starts and ends (after its slash). */
  nameStart = 0;
  nameEnd = 0;

  constructor(private readonly bytes: Uint8Array) {}

  /** The next token; a number's value in `number`, a name's place in `nameStart`/`nameEnd`, an operator in `operator`. */
  next(): number {
    const b = this.bytes;
    const n = b.length;
    let p = this.pos;
    for (;;) {
      if (p >= n) {
        this.pos = p;
        return EOF;
      }
      const c = b[p];
      if (c === 0x25) {
        while (p < n && b[p] !== 0x0a && b[p] !== 0x0d) p++;
      } else if (CLASS[c] === WHITE) p++;
      else break;
    }
    const c = b[p];
    if ((c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e) return this.readNumber(p);
    switch (c) {
      case 0x2f: // /Name
        return this.readName(p + 1);
      case 0x28: // (string)
        this.pos = skipString(b, p + 1);
        return VALUE;
      case 0x3c: // <hex> or <<
        if (b[p + 1] === 0x3c) {
          this.pos = p + 2;
          this.skipUntil(DICT_END);
          return VALUE;
        }
        this.pos = skipHex(b, p + 1);
        return VALUE;
      case 0x5b: // [
        this.pos = p + 1;
        this.skipUntil(ARRAY_END);
        return VALUE;
      case 0x5d:
        this.pos = p + 1;
        return ARRAY_END;
      case 0x3e:
        if (b[p + 1] === 0x3e) {
          this.pos = p + 2;
          return DICT_END;
        }
        throw new NotCovered('>');
    }
    if (CLASS[c] === DELIMITER) throw new NotCovered(String.fromCharCode(c)); // ) { }
    return this.readWord(p);
  }

  /** pdfjs's number syntax, its value computed as pdfjs computes it; its lenient forms are not covered. */
  private readNumber(start: number): number {
    const b = this.bytes;
    let p = start;
    let sign = 1;
    if (b[p] === 0x2d) {
      sign = -1;
      p++;
    } else if (b[p] === 0x2b) p++;
    let divideBy = 0;
    if (b[p] === 0x2e) {
      divideBy = 10;
      p++;
    }
    if (!(b[p] >= 0x30 && b[p] <= 0x39)) throw new NotCovered('number');
    let value = b[p++] - 0x30;
    for (; p < b.length; p++) {
      const c = b[p];
      if (c >= 0x30 && c <= 0x39) {
        if (divideBy !== 0) divideBy *= 10;
        value = value * 10 + (c - 0x30);
      } else if (c === 0x2e) {
        if (divideBy !== 0) throw new NotCovered('number');
        divideBy = 1;
      } else if (c === 0x2d) throw new NotCovered('number');
      else break;
    }
    if (divideBy !== 0) value /= divideBy;
    this.number = sign * value;
    this.pos = p;
    return NUMBER;
  }

  private readName(start: number): number {
    const b = this.bytes;
    let p = start;
    while (p < b.length && CLASS[b[p]] === REGULAR) {
      if (b[p] === 0x23) throw new NotCovered('#'); // an escaped byte
      p++;
    }
    this.nameStart = start;
    this.nameEnd = p;
    this.pos = p;
    return NAME;
  }

  /** The name just read. */
  name(): string {
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.nameStart, this.nameEnd - this.nameStart).toString('latin1');
  }

  private readWord(start: number): number {
    const b = this.bytes;
    let p = start + 1;
    while (p < b.length && CLASS[b[p]] === REGULAR) p++;
    const spec = p - start <= LONGEST_OPERATOR ? BY_CODE.get(codeOf(b, start, p)) : undefined;
    if (!spec) throw new NotCovered('operator');
    this.pos = p;
    this.operator = spec;
    return spec.action === BOOLEAN ? VALUE : OPERATOR;
  }

  /** Skip an array's or a dictionary's contents up to its end. */
  private skipUntil(end: number): void {
    for (;;) {
      const token = this.next();
      if (token === end) return;
      if (token === EOF || token === OPERATOR || token === ARRAY_END || token === DICT_END) throw new NotCovered('operand');
    }
  }
}

/** Past a literal string's closing parenthesis (balanced ones nest, a backslash escapes the next byte). */
function skipString(b: Uint8Array, start: number): number {
  let depth = 1;
  for (let p = start; p < b.length; p++) {
    const c = b[p];
    if (c === 0x5c) p++;
    else if (c === 0x28) depth++;
    else if (c === 0x29 && --depth === 0) return p + 1;
  }
  throw new NotCovered('string');
}

function skipHex(b: Uint8Array, start: number): number {
  const end = b.indexOf(0x3e, start);
  if (end < 0) throw new NotCovered('hex string');
  return end + 1;
}

/** One content stream (a page's or a form's) and what it reads from. */
interface Level {
  resources: WorkerDict | undefined;
  /** Forms being read, by object id: a form met again inside itself is not covered. */
  forms: string[];
  point: PointState;
}

export class ContentReader {
  #operators = 0;
  readonly #rgb = new Uint8ClampedArray(3);

  constructor(
    private readonly out: OperatorWriter,
    private readonly ops: PathOps,
    private readonly hexColor: (r: number, g: number, b: number) => string,
    private readonly limits: ContentLimits,
  ) {}

  /** Read a page's content stream with the page's resources. */
  async readPage(content: Uint8Array, resources: WorkerDict | undefined): Promise<void> {
    await this.read(content, { resources, forms: [], point: { x: 0, y: 0 } });
  }

  private async read(content: Uint8Array, level: Level): Promise<void> {
    const { out, ops } = this;
    const scanner = new Scanner(content);
    // The current operator's numbers, written in place: an array emptied by `length = 0` drops its
    // storage, and a content stream has an operator every few bytes.
    const numbers = new Array<number>(MAX_OPERANDS).fill(0);
    let names = 0;
    let operands = 0;
    let numeric = true; // every operand so far a number
    const stack: PointState[] = [];
    let point = { ...level.point };
    let path: number[] = [];
    for (;;) {
      const token = scanner.next();
      if (token === EOF) break;
      if (token === NUMBER) {
        if (operands >= MAX_OPERANDS) throw new NotCovered('operands');
        numbers[operands++] = scanner.number;
        continue;
      }
      if (token === NAME || token === VALUE) {
        if (token === NAME) names++;
        numeric = false;
        if (++operands > MAX_OPERANDS) throw new NotCovered('operands');
        continue;
      }
      if (token !== OPERATOR) throw new NotCovered('operand');
      const { operands: count, action, paint } = scanner.operator;
      if (action === NOT_COVERED_OP || count !== operands) throw new NotCovered('operator');
      if (++this.#operators > this.limits.maxOperators) throw new NotCovered('operators');
      if (!numeric && action >= TRANSFORM && action !== LINE_WIDTH && action !== GRAPHICS_STATE && action !== XOBJECT)
        throw new NotCovered('operands');
      switch (action) {
        case SAVE:
          stack.push(point);
          point = { ...point };
          out.addOp(ops.save, null);
          break;
        case RESTORE:
          point = stack.pop() ?? point;
          out.addOp(ops.restore, null);
          break;
        case TRANSFORM:
          out.addOp(ops.transform, numbers.slice(0, count));
          break;
        case LINE_WIDTH:
          if (numeric) out.addOp(ops.setLineWidth, [Math.abs(numbers[0])]);
          break;
        case GRAPHICS_STATE:
          if (names !== 1) throw new NotCovered('gs');
          this.graphicsState(level.resources, scanner.name());
          break;
        case FILL_GRAY:
          out.addOp(ops.setFillRGBColor, [this.rgbHex(numbers[0], numbers[0], numbers[0])]);
          break;
        case FILL_RGB:
          out.addOp(ops.setFillRGBColor, [this.rgbHex(numbers[0], numbers[1], numbers[2])]);
          break;
        case MOVE:
        case LINE:
          point.x = numbers[0];
          point.y = numbers[1];
          path.push(action === MOVE ? MOVE_TO : LINE_TO, point.x, point.y);
          break;
        case CURVE:
          path.push(CURVE_TO, numbers[0], numbers[1], numbers[2], numbers[3], numbers[4], numbers[5]);
          point.x = numbers[4];
          point.y = numbers[5];
          break;
        case CURVE_FROM_POINT:
          path.push(CURVE_TO, point.x, point.y, numbers[0], numbers[1], numbers[2], numbers[3]);
          point.x = numbers[2];
          point.y = numbers[3];
          break;
        case CURVE_TO_POINT:
          path.push(CURVE_TO, numbers[0], numbers[1], numbers[2], numbers[3], numbers[2], numbers[3]);
          point.x = numbers[2];
          point.y = numbers[3];
          break;
        case CLOSE:
          path.push(CLOSE_PATH);
          break;
        case RECTANGLE: {
          const x = numbers[0];
          const y = numbers[1];
          const width = numbers[2];
          const height = numbers[3];
          point.x = x;
          point.y = y;
          const xw = x + width;
          const yh = y + height;
          if (width === 0 || height === 0) path.push(MOVE_TO, x, y, LINE_TO, xw, yh, CLOSE_PATH);
          else path.push(MOVE_TO, x, y, LINE_TO, xw, y, LINE_TO, xw, yh, LINE_TO, x, yh, CLOSE_PATH);
          break;
        }
        case PAINT: {
          const fn = ops[paint!];
          if (fn === ops.closeStroke || fn === ops.closeFillStroke || fn === ops.closeEOFillStroke) path.push(CLOSE_PATH);
          out.addOp(ops.constructPath, [fn, [path.length ? new Float32Array(path) : null], null]);
          path = [];
          break;
        }
        case XOBJECT:
          if (names !== 1) throw new NotCovered('Do');
          await this.xobject(level, scanner.name(), point);
          break;
      }
      names = 0;
      operands = 0;
      numeric = true;
    }
    if (operands > 0) throw new NotCovered('operands at the end');
    // pdfjs restores what the stream saved and did not restore.
    for (let k = 0; k < stack.length; k++) out.addOp(ops.restore, []);
  }

  /** As pdfjs's DeviceRGB (and DeviceGray) colour: components scaled to bytes, clamped and rounded. */
  private rgbHex(r: number, g: number, b: number): string {
    const rgb = this.#rgb;
    rgb[0] = r * 255;
    rgb[1] = g * 255;
    rgb[2] = b * 255;
    return this.hexColor(rgb[0], rgb[1], rgb[2]);
  }

  /** An ExtGState's line width, as pdfjs's setGState gives it; states pdfjs does more with are not covered. */
  private graphicsState(resources: WorkerDict | undefined, name: string): void {
    const states = resources?.get('ExtGState');
    if (!isDict(states)) return; // pdfjs ignores the operator
    const state = states.get(name);
    if (!isDict(state)) return;
    for (const key of state.getKeys()) {
      if (key === 'SMask' || key === 'TR' || key === 'TR2' || key === 'Font') throw new NotCovered(`gs ${key}`);
    }
    const width = state.get('LW');
    if (typeof width === 'number') this.out.addOp(this.ops.setGState, [[['LW', Math.abs(width)]]]);
  }

  /** A form is read in its own space; images and anything else paint nothing readDrawings reads. */
  private async xobject(level: Level, name: string, point: PointState): Promise<void> {
    const xobjects = level.resources?.get('XObject');
    if (!isDict(xobjects)) return;
    const xobject = xobjects.get(name) as WorkerStream | undefined;
    if (!xobject || typeof xobject.getBytes !== 'function' || !isDict(xobject.dict)) return; // pdfjs ignores it
    const subtype = xobject.dict.get('Subtype') as { name?: unknown } | undefined;
    if (subtype?.name !== 'Form') return;
    const { dict } = xobject;
    const id = dict.objId;
    if (!id || level.forms.includes(id)) throw new NotCovered('form cycle');
    if (level.forms.length >= this.limits.maxFormDepth) throw new NotCovered('form depth');
    if (dict.has('OC')) throw new NotCovered('form OC');
    const group = dict.get('Group');
    if (group && !(isDict(group) && !(group as unknown as { has(key: string): boolean }).has('CS'))) throw new NotCovered('form group');
    const matrix = dict.getArray('Matrix');
    const isMatrix = Array.isArray(matrix) && matrix.length === 6 && matrix.every((v) => typeof v === 'number');
    const own = dict.get('Resources');
    let bytes = xobject.isAsync ? await xobject.asyncGetBytes?.() : null;
    bytes ||= xobject.getBytes();
    if (group) this.out.addOp(this.ops.beginGroup, [{}]);
    this.out.addOp(this.ops.paintFormXObjectBegin, [isMatrix ? new Float32Array(matrix as number[]) : null, null]);
    await this.read(bytes, { resources: isDict(own) ? own : level.resources, forms: [...level.forms, id], point: { ...point } });
    this.out.addOp(this.ops.paintFormXObjectEnd, []);
    if (group) this.out.addOp(this.ops.endGroup, [{}]);
  }
}

function isDict(value: unknown): value is WorkerDict & { getKeys(): string[] } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { getKeys?: unknown }).getKeys === 'function' &&
    typeof (value as { get?: unknown }).get === 'function'
  );
}
