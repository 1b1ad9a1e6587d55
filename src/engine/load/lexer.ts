// A cheaper reading of three kinds of token by pdfjs's lexer: operators, hex strings and names.
//
// pdfjs's Lexer reads an operator ("Tj", "cm", "BT") a byte at a time, and after each byte looks
// the text read so far up among the operators it knows, a new string each time; the final string
// is looked up again for its Cmd. Looking up a string just built is slow in V8 (it has to be
// hashed and found among the interned strings first), and content streams are mostly operators.
// A hex string (`<0026004F>`, how Chromium and most CID-keyed fonts write text) is built as an
// array of one-character strings joined at the end. Here an operator is followed through a trie of
// the known operators, with no string built until the end (none at all for a known operator),
// and a hex string's bytes go to a byte buffer read as Latin-1. A name (`/F1`, a font or a
// resource) is built the same way as a hex string in pdfjs, and read the same way here.
// Everything else the lexer reads (numbers, strings, dictionaries) is pdfjs's own code.
//
// The tokens are the same: the same operator ends where pdfjs's ends (at the first byte that
// would turn a known operator into an unknown one, or at a delimiter), as the same Cmd object,
// with the same errors; the only difference is that the warnings pdfjs prints for a damaged hex
// string are not printed (the engine runs pdfjs with its warnings off).
//
// pdfjs exports no Lexer: it is found by a property its constructor sets (`_hexStringNumWarn`,
// see worker-objects.ts). Its methods are replaced only when their source is the one this file
// was written against, so a pdfjs whose lexer changed keeps its own.
import { createHash } from 'node:crypto';
import { catchFirst } from './worker-objects.js';

const LEXER_MARK = '_hexStringNumWarn';

/** pdfjs's character classes (core/parser.js specialChars): 1 white space, 2 delimiter. */
const SPECIAL = new Uint8Array(256);
for (const c of [0x00, 0x09, 0x0a, 0x0c, 0x0d, 0x20]) SPECIAL[c] = 1;
for (const c of '%()/<>[]{}') SPECIAL[c.charCodeAt(0)] = 2;

/** The lexer's own methods the replacements call, as its getObj does. */
const READERS = ['_hexStringWarn', 'nextChar', 'getNumber', 'getName', 'getString'] as const;

/** pdfjs refuses an operator longer than this. */
const MAX_COMMAND_CHARS = 128;
/** Operators are ASCII; a byte past this ends any known one. */
const ASCII = 128;

interface LexerLike {
  stream: { pos: number; getByte(): number; peekByte(): number };
  currentChar: number;
  knownCommands: Record<string, unknown> | null;
  beginInlineImagePos: number;
  _hexStringNumWarn: number;
  strBuf: string[];
  nextChar(): number;
  _hexStringWarn(ch: number): void;
  getObj(): unknown;
  getHexString(): string;
  getNumber(): unknown;
  getName(): unknown;
  getString(): unknown;
}

/** pdfjs's Cmd: one object per operator name. */
type CmdGet = (name: string) => unknown;

/** The operators a lexer knows, as a trie over their bytes: node 0 is "not a prefix of any". */
interface CommandTrie {
  /** children[node * ASCII + byte]: the node after one more byte. */
  readonly children: Int32Array;
  /** Whether the text leading to a node is an operator pdfjs knows. */
  readonly known: Uint8Array;
  /** The text leading to each node (interned, so pdfjs's Cmd lookup by it is quick). */
  readonly texts: string[];
}

interface Installed {
  readonly proto: LexerLike;
  /** pdfjs's own methods; getName only where it was replaced too. */
  readonly original: { getObj: () => unknown; getHexString: () => string; getName?: () => unknown };
}

let installed = false;
let replaced: Installed | undefined;

/** Replace the lexer's operator, hex string and name reading on the first lexer pdfjs builds (idempotent). */
export function installFastLexer(): void {
  if (installed) return;
  installed = true;
  catchFirst(LEXER_MARK, replaceLexer);
}

/** pdfjs's Lexer prototype and its own methods once replaced; undefined before (or if never). */
export function replacedLexer(): Installed | undefined {
  return replaced;
}

function replaceLexer(instance: object): boolean {
  let proto = Object.getPrototypeOf(instance) as LexerLike | null;
  while (proto && !Object.hasOwn(proto, 'getHexString')) proto = Object.getPrototypeOf(proto) as LexerLike | null;
  if (!proto || !Object.hasOwn(proto, 'getObj') || READERS.some((name) => typeof proto![name] !== 'function')) return true;
  const getObj = proto.getObj;
  const getHexString = proto.getHexString;
  if (normalised(getObj) !== KNOWN_GET_OBJ || normalised(getHexString) !== KNOWN_GET_HEX_STRING) return true;
  const pdfjsClasses = probe(proto, getObj);
  if (!pdfjsClasses) return true;
  const { cmdGet, nameGet, FormatError } = pdfjsClasses;
  const tries = new WeakMap<object, CommandTrie | null>();
  let hex: Buffer = Buffer.alloc(256);
  /** Set while a hex string is read into `hex`: a lexer started meanwhile (none is known to) reads its own way. */
  let hexBusy = false;

  proto.getObj = function (this: LexerLike): unknown {
    let ch = this.currentChar;
    let comment = false;
    // White space and comments, as pdfjs skips them.
    while (true) {
      if (ch < 0) return getObj.call(this);
      if (comment) {
        if (ch === 0x0a || ch === 0x0d) comment = false;
      } else if (ch === 0x25) {
        comment = true;
      } else if (SPECIAL[ch] !== 1) {
        break;
      }
      ch = this.nextChar();
    }
    if (ch === 0x3c) {
      ch = this.nextChar();
      if (ch === 0x3c) {
        this.nextChar();
        return cmdGet('<<');
      }
      return this.getHexString();
    }
    // Numbers, strings and names: pdfjs's own readers of them, as its getObj calls them.
    if ((ch >= 0x30 && ch <= 0x39) || ch === 0x2b || ch === 0x2d || ch === 0x2e) return this.getNumber();
    if (ch === 0x2f) return this.getName();
    if (ch === 0x28) return this.getString();
    // Other delimiters and bytes outside ASCII: pdfjs's own getObj (it starts from the current
    // byte, past the white space skipped here).
    if (SPECIAL[ch] === 2 || ch < 0x21 || ch > 0x7f) return getObj.call(this);
    const known = this.knownCommands;
    let trie: CommandTrie | null | undefined = null;
    if (known) {
      trie = tries.get(known);
      if (trie === undefined) {
        trie = buildTrie(known);
        tries.set(known, trie);
      }
      if (trie === null) return getObj.call(this); // operators this trie cannot hold
    }
    let node = trie ? trie.children[ch] : 0;
    let found = node !== 0 && trie!.known[node] === 1;
    // The word read: kept as its trie node while it is a prefix of an operator, as text after.
    let word = node === 0 ? String.fromCharCode(ch) : '';
    let length = 1;
    while ((ch = this.nextChar()) >= 0 && SPECIAL[ch] === 0) {
      const next = node !== 0 && ch < ASCII ? trie!.children[node * ASCII + ch] : 0;
      if (found && (next === 0 || trie!.known[next] !== 1)) break;
      if (length === MAX_COMMAND_CHARS) throw new FormatError(`Command token too long: ${length}`);
      length++;
      if (next === 0) word = (node !== 0 ? trie!.texts[node] : word) + String.fromCharCode(ch);
      node = next;
      found = node !== 0 && trie!.known[node] === 1;
    }
    return wordOf(cmdGet, node !== 0 ? trie!.texts[node] : word, this);
  };

  proto.getHexString = function (this: LexerLike): string {
    if (hexBusy) return getHexString.call(this);
    hexBusy = true;
    try {
      return readHexString(this);
    } finally {
      hexBusy = false;
    }
  };

  const readHexString = (lexer: LexerLike): string => {
    let ch = lexer.currentChar;
    let first = -1;
    let length = 0;
    lexer._hexStringNumWarn = 0;
    while (true) {
      if (ch < 0) break; // unterminated: what was read
      if (ch === 0x3e) {
        lexer.nextChar();
        break;
      }
      if (SPECIAL[ch] === 1) {
        ch = lexer.nextChar();
        continue;
      }
      const digit = hexDigit(ch);
      if (digit === -1) lexer._hexStringWarn(ch);
      else if (first === -1) first = digit;
      else {
        if (length === hex.length) hex = grow(hex);
        hex[length++] = (first << 4) | digit;
        first = -1;
      }
      ch = lexer.nextChar();
    }
    if (first !== -1) {
      if (length === hex.length) hex = grow(hex);
      hex[length++] = first << 4;
    }
    return hex.toString('latin1', 0, length);
  };

  // A name: its bytes into a byte buffer read as Latin-1 (pdfjs pushes one-character strings and
  // joins them), `#xx` escapes and their damaged forms as pdfjs reads them.
  const getName = proto.getName;
  let name: Buffer = Buffer.alloc(128);
  let nameLength = 0;
  const putName = (byte: number) => {
    if (nameLength === name.length) name = grow(name);
    name[nameLength++] = byte;
  };
  const replacesGetName = normalised(getName) === KNOWN_GET_NAME && nameGet !== undefined;
  if (replacesGetName) {
    proto.getName = function (this: LexerLike): unknown {
      nameLength = 0;
      // Text before a character pdfjs makes from the end of the stream (String.fromCharCode(-1)).
      let head = '';
      const putEnd = () => {
        head += name.toString('latin1', 0, nameLength) + '\uffff';
        nameLength = 0;
      };
      let ch: number;
      while ((ch = this.nextChar()) >= 0 && !SPECIAL[ch]) {
        if (ch !== 0x23) {
          putName(ch);
          continue;
        }
        ch = this.nextChar();
        if (SPECIAL[ch]) {
          putName(0x23);
          break;
        }
        const high = hexDigit(ch);
        if (high === -1) {
          putName(0x23);
          if (ch < 0) putEnd();
          else putName(ch);
          continue;
        }
        const previous = ch;
        ch = this.nextChar();
        const low = hexDigit(ch);
        if (low !== -1) {
          putName((high << 4) | low);
          continue;
        }
        putName(0x23);
        putName(previous);
        if (SPECIAL[ch]) break;
        if (ch < 0) putEnd();
        else putName(ch);
      }
      return nameGet!(head + name.toString('latin1', 0, nameLength));
    };
  }

  replaced = { proto, original: replacesGetName ? { getObj, getHexString, getName } : { getObj, getHexString } };
  return true;
}

/** A word that is not an operator pdfjs knows: a keyword's value, or its Cmd. */
function wordOf(cmdGet: CmdGet, word: string, lexer?: LexerLike): unknown {
  if (word === 'true') return true;
  if (word === 'false') return false;
  if (word === 'null') return null;
  if (word === 'BI' && lexer) lexer.beginInlineImagePos = lexer.stream.pos;
  return cmdGet(word);
}

function hexDigit(ch: number): number {
  if (ch >= 0x30 && ch <= 0x39) return ch & 0x0f;
  if ((ch >= 0x41 && ch <= 0x46) || (ch >= 0x61 && ch <= 0x66)) return (ch & 0x0f) + 9;
  return -1;
}

function grow(buffer: Buffer): Buffer {
  const larger = Buffer.alloc(buffer.length * 2);
  buffer.copy(larger);
  return larger;
}

/**
 * The trie of the operators `known` names (those whose value is not undefined, as pdfjs tests
 * them), or null when one is not plain ASCII or the object inherits names (pdfjs's have none).
 */
function buildTrie(known: Record<string, unknown>): CommandTrie | null {
  if (Object.getPrototypeOf(known) !== null) return null;
  const names = Object.keys(known).filter((name) => known[name] !== undefined);
  if (names.some((name) => name.length === 0 || name.length > MAX_COMMAND_CHARS || !/^[\x21-\x7f]+$/.test(name))) return null;
  const prefixes = new Set(names.flatMap((name) => [...name].map((_, i) => name.slice(0, i + 1))));
  // Node 0 is the dead end; nodes 1..ASCII-1 would collide with the root's row, so the root's
  // row is row 0 and real nodes start at 1 (children[c] for a first byte c).
  const children = new Int32Array((prefixes.size + 1) * ASCII);
  const knownFlags = new Uint8Array(prefixes.size + 1);
  const nodeOf = new Map<string, number>();
  const texts: string[] = [''];
  let next = 1;
  for (const prefix of [...prefixes].sort((a, b) => a.length - b.length)) {
    const node = next++;
    nodeOf.set(prefix, node);
    texts[node] = Object.keys({ [prefix]: 0 })[0];
    const parent = prefix.length === 1 ? 0 : nodeOf.get(prefix.slice(0, -1))!;
    children[parent * ASCII + prefix.charCodeAt(prefix.length - 1)] = node;
    if (Object.hasOwn(known, prefix) && known[prefix] !== undefined) knownFlags[node] = 1;
  }
  return { children, known: knownFlags, texts };
}

/**
 * pdfjs's Cmd lookup and FormatError class, from its own lexer reading two tiny inputs: an
 * operator (its Cmd's class has the lookup) and a `)` (which it refuses with a FormatError).
 */
function probe(
  proto: LexerLike,
  getObj: () => unknown,
): { cmdGet: CmdGet; nameGet: CmdGet | undefined; FormatError: new (message: string) => Error } | undefined {
  const read = (text: string): { value?: unknown; error?: unknown } => {
    const bytes = Buffer.from(text, 'latin1');
    const stream = {
      pos: 0,
      getByte() {
        return this.pos < bytes.length ? bytes[this.pos++] : -1;
      },
      peekByte() {
        return this.pos < bytes.length ? bytes[this.pos] : -1;
      },
    };
    // Own properties defined, not assigned: assigning the lexer's mark would run the hook again.
    const fields = { stream, currentChar: stream.getByte(), knownCommands: null, strBuf: [], _hexStringNumWarn: 0, beginInlineImagePos: -1 };
    const lexer = Object.create(
      proto,
      Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, { value, writable: true, enumerable: true, configurable: true }])),
    ) as LexerLike;
    try {
      return { value: getObj.call(lexer) };
    } catch (error) {
      return { error };
    }
  };
  const cmd = read('BT').value as { cmd?: unknown; constructor?: { get?: unknown } } | undefined;
  const refused = read(')').error as { constructor?: unknown } | undefined;
  const get = cmd?.constructor?.get;
  if (cmd?.cmd !== 'BT' || typeof get !== 'function' || typeof refused?.constructor !== 'function') return undefined;
  const cmdGet: CmdGet = (name) => get.call(cmd.constructor, name);
  if (cmdGet('BT') !== cmd) return undefined;
  // pdfjs's Name lookup, from a name it read (its class is the one with the lookup).
  const name = read('/N ').value as { name?: unknown; constructor?: { get?: unknown } } | undefined;
  const getNamed = name?.constructor?.get;
  const nameGet: CmdGet | undefined =
    name?.name === 'N' && typeof getNamed === 'function' ? (text) => getNamed.call(name.constructor, text) : undefined;
  return {
    cmdGet,
    nameGet: nameGet && nameGet('N') === name ? nameGet : undefined,
    FormatError: refused.constructor as new (message: string) => Error,
  };
}

/** A function's source without white space, hashed. */
function normalised(fn: unknown): string {
  const source = typeof fn === 'function' ? Function.prototype.toString.call(fn).replace(/\s+/g, '') : '';
  return createHash('sha256').update(source).digest('hex');
}

/**
 * SHA-256 of pdfjs 5.6's Lexer.getObj and getHexString with white space removed: the code the
 * replacements mirror.
 */
const KNOWN_GET_OBJ = 'fa200e97c2e81e8d475b6a9e7718b2f7ba7b85b71f13ec48537f6d2e504fac4f';
const KNOWN_GET_HEX_STRING = 'c8a9df402a47c0330a715af6126c9363028a17c5749c2424bc00bd364638cde3';
/** The same of Lexer.getName. */
const KNOWN_GET_NAME = 'df5eb358e1ce18cfa25f953e73b2f86409046097f38f85d8a43ca54654db973e';
