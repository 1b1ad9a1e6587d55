import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadPdf } from '../src/engine/load/pdf.ts';
import { replacedLexer } from '../src/engine/load/lexer.ts';
import { replacedTextStateClone } from '../src/engine/load/text-state.ts';
import { pdfFromObjects, stream } from './helpers/hostile-pdf.ts';

/*
 * The engine replaces pdfjs's TextState.clone() (see src/engine/load/text-state.ts) with a copy
 * that does not make the state copied a prototype, and its lexer's reading of operators and hex
 * strings (src/engine/load/lexer.ts). Each must be active (a pdfjs upgrade that hides a class
 * would silently lose it) and must read exactly what pdfjs's own code reads.
 */

const corpus = path.join(import.meta.dirname, 'fixtures', 'corpus');
const typeset = path.join(import.meta.dirname, 'fixtures', 'corpus-typeset');

/** Text nested in q/Q with font, size, spacing and matrix changes inside, and text after each Q. */
function nestedStatesPdf(): Buffer {
  const content = [
    'BT /F1 12 Tf 72 720 Td (Outer) Tj ET',
    'q 1 0 0 1 10 -20 cm',
    'BT /F2 14 Tf 2 Tc 72 700 Td (Inner bold) Tj ET',
    'q 0.5 0 0 0.5 0 0 cm BT /F1 20 Tf 3 Tw 150 Tz 5 Ts 72 680 Td (Deep words here) Tj T* (next) Tj ET Q',
    'BT 72 660 Td (After deep) Tj [(Kern) -250 (ed)] TJ ET',
    'Q',
    'BT 72 640 Td (After all) Tj /F2 9 Tf 1 0 0 1 300 300 Tm (Moved) Tj ET',
  ].join('\n');
  return pdfFromObjects([
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Times-Bold >>',
    stream('', Buffer.from(content)),
  ]);
}

/** Every page's text content (items and styles), as pdfjs's API gives it, as JSON. */
async function textContent(bytes: Uint8Array): Promise<string> {
  const { pdf, close } = await loadPdf(bytes);
  try {
    const pages: unknown[] = [];
    for (let i = 1; i <= pdf.numPages; i++) {
      const page = await pdf.getPage(i);
      pages.push(await page.getTextContent());
      page.cleanup();
    }
    // Font names carry the document's number, which differs between the two readings.
    return JSON.stringify(pages, null, 1).replace(/\bg_d\d+_/g, 'g_d_');
  } finally {
    await close();
  }
}

/** The same, read with pdfjs's own code put back for the reading. */
async function textContentWithPdfjsCode(bytes: Uint8Array): Promise<string> {
  const clone = replacedTextStateClone();
  const lexer = replacedLexer();
  assert.ok(clone && lexer);
  const ours = clone.proto.clone;
  clone.proto.clone = clone.original;
  try {
    return await withPdfjsLexer(() => textContent(bytes));
  } finally {
    clone.proto.clone = ours;
  }
}

describe("pdfjs's text state copies", () => {
  it('are replaced once pdfjs has read a page (the hook is active)', async () => {
    const text = await textContent(nestedStatesPdf());
    // Character spacing set inside q/Q spaces the letters there, and is gone after the Q.
    assert.match(text, /"D e e p"/);
    assert.match(text, /"After all"/);
    const hook = replacedTextStateClone();
    assert.ok(hook, "pdfjs's TextState was not found: its clone() is pdfjs's own (slower) one");
    assert.notEqual(hook.proto.clone, hook.original);
  });

  it('make copies whose prototype is TextState, not the state copied', async () => {
    await textContent(nestedStatesPdf());
    const hook = replacedTextStateClone();
    assert.ok(hook);
    const state = Object.assign(Object.create(hook.proto), {
      textMatrix: [1, 0, 0, 1, 5, 6],
      textLineMatrix: [1, 0, 0, 1, 0, 0],
      fontMatrix: [0.001, 0, 0, 0.001, 0, 0],
      fontSize: 7,
    });
    const copy = hook.proto.clone.call(state) as typeof state;
    assert.equal(Object.getPrototypeOf(copy), hook.proto);
    assert.deepEqual(copy, state);
    assert.notEqual(copy.textMatrix, state.textMatrix);
    assert.notEqual(copy.fontMatrix, state.fontMatrix);
  });

  it("read the same text items as pdfjs's own code, nested states included", async () => {
    const files = [
      nestedStatesPdf(),
      ...['bcrypt.pdf', 'fastify.pdf', 'immutable.pdf'].map((f) => fs.readFileSync(path.join(corpus, f))),
      ...fs
        .readdirSync(typeset)
        .filter((f) => /^bcrypt\.(tex1|writer)\.pdf$/.test(f))
        .map((f) => fs.readFileSync(path.join(typeset, f))),
    ];
    assert.ok(files.length >= 4);
    for (const bytes of files) {
      const ours = await textContent(new Uint8Array(bytes));
      const theirs = await textContentWithPdfjsCode(new Uint8Array(bytes));
      assert.equal(ours, theirs);
    }
  });
});

/** Run `read` with pdfjs's own lexer methods in place (its getObj calls getHexString and getName through the prototype). */
function withPdfjsLexer<T>(read: () => T): T {
  const hook = replacedLexer();
  assert.ok(hook);
  const ours = { getObj: hook.proto.getObj, getHexString: hook.proto.getHexString, getName: hook.proto.getName };
  const put = (methods: { getObj: () => unknown; getHexString: () => string; getName?: () => unknown }) => {
    hook.proto.getObj = methods.getObj;
    hook.proto.getHexString = methods.getHexString;
    if (hook.original.getName) hook.proto.getName = methods.getName!;
  };
  put(hook.original);
  const restore = () => put(ours);
  let result: T;
  try {
    result = read();
  } catch (error) {
    restore();
    throw error;
  }
  // A promise's reading runs later: the methods are put back when it has settled.
  if (result instanceof Promise) return result.finally(restore) as T;
  restore();
  return result;
}

/** pdfjs's lexer (its prototype, with its own or the engine's methods) over `text`. */
function lexerOver(proto: object, text: string, knownCommands: object | null) {
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
  const fields = { stream, currentChar: stream.getByte(), knownCommands, strBuf: [], _hexStringNumWarn: 0, beginInlineImagePos: -1 };
  return Object.create(proto, Object.fromEntries(Object.entries(fields).map(([k, value]) => [k, { value, writable: true, enumerable: true }]))) as {
    getObj(): unknown;
    stream: { pos: number };
    beginInlineImagePos: number;
  };
}

/** Every token of `text` (with where the stream stood after it), or the error that ended it. */
function tokens(proto: { getObj(): unknown }, getObj: () => unknown, text: string, knownCommands: object | null): string[] {
  const lexer = lexerOver(proto, text, knownCommands);
  const out: string[] = [];
  for (let i = 0; i < 10_000; i++) {
    let token: unknown;
    try {
      token = getObj.call(lexer);
    } catch (error) {
      out.push(`error ${(error as Error).constructor.name}: ${(error as Error).message}`);
      break;
    }
    const shown =
      typeof token === 'symbol'
        ? 'EOF'
        : token && typeof token === 'object'
          ? 'cmd' in token
            ? `cmd ${JSON.stringify((token as { cmd: string }).cmd)}`
            : `name ${JSON.stringify((token as { name: string }).name)}`
          : `${typeof token} ${JSON.stringify(token)}`;
    out.push(`${shown} @${lexer.stream.pos} bi${lexer.beginInlineImagePos}`);
    if (typeof token === 'symbol') break;
  }
  return out;
}

/** Operators as pdfjs's content-stream reader knows them: some with a value, some null (words it tolerates). */
const OPERATORS = Object.assign(
  Object.create(null),
  Object.fromEntries(
    [
      'BT',
      'ET',
      'Tj',
      'TJ',
      'T*',
      "'",
      '"',
      'Tf',
      'Td',
      'TD',
      'Tm',
      'Tc',
      'Tw',
      'Tz',
      'TL',
      'Ts',
      'Tr',
      'cm',
      'q',
      'Q',
      're',
      'f',
      'f*',
      'F',
      'd0',
      'd1',
      'BI',
      'ID',
      'EI',
      'sc',
      'scn',
      'SC',
      'SCN',
      'BDC',
      'BMC',
      'EMC',
      'Do',
      'gs',
    ].map((op) => [op, { op }]),
  ),
  Object.fromEntries(['BM', 'BD', 'true', 'fa', 'fal', 'fals', 'false', 'nu', 'nul', 'null'].map((w) => [w, null])),
);

describe("pdfjs's lexer, operators and hex strings", () => {
  it('is replaced once pdfjs has read a document (the hook is active)', async () => {
    await textContent(nestedStatesPdf());
    const hook = replacedLexer();
    assert.ok(hook, "pdfjs's Lexer was not found: its own (slower) reading is used");
    assert.notEqual(hook.proto.getObj, hook.original.getObj);
    assert.notEqual(hook.proto.getHexString, hook.original.getHexString);
    assert.ok(hook.original.getName, "pdfjs's getName was not replaced");
    assert.notEqual(hook.proto.getName, hook.original.getName);
  });

  it("reads the same tokens as pdfjs's own lexer, damaged input included", async () => {
    await textContent(nestedStatesPdf());
    const hook = replacedLexer();
    assert.ok(hook);
    const random = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / 2 ** 24;
    const next = random(15);
    const alphabet = '\x0cBTEJjfmQq*\'"<>()[]{}/%#0123456789abcdefABCDEFG .-+\n\r\t\x00\x7f\x80\xff';
    const noise = Array.from({ length: 200 }, () =>
      Array.from({ length: 1 + Math.floor(next() * 60) }, () => alphabet[Math.floor(next() * alphabet.length)]).join(''),
    );
    const inputs = [
      'BT /F1 12 Tf 72 720 Td <00260044> Tj [<0026> -250 <0044>] TJ ET',
      'q 1 0 0 1 0 0 cm Q BTET T*\'"d0d1 f*F EMCx BDCQ scnx SCN',
      '<48 65 6C\n6C 6F> <ABC> <4G41zz> <> < > <<\n/A <61> >> <4142',
      'true false null fals falsex fa nulll nul trueX truefalse BI /W 1 ID xx EI',
      '%comment\nTj %\rTJ\r%eof',
      'x'.repeat(128),
      `${'y'.repeat(129)} Tj`,
      'Tj\x80 \xff\xfe Tj \x7fTj \x01BT',
      '(string) /Name 12 -3.5 +.5 [1 2] {3} obj endobj 5 0 R stream',
      '/F1 12 Tf /A#20B /A#2 /A#2x /A#x2 /A#/B /#41#42 /C#4 /D# /E#',
      '/F#',
      '/G#4',
      '/H#4g/I',
      `/${'n'.repeat(300)} /\x80\xff /`,
      ...noise,
    ];
    let seen = 0;
    for (const known of [OPERATORS, null]) {
      for (const text of inputs) {
        const ours = tokens(hook.proto, hook.proto.getObj, text, known);
        const theirs: string[] = withPdfjsLexer((): string[] => tokens(hook.proto, hook.proto.getObj, text, known));
        assert.deepEqual(ours, theirs, JSON.stringify(text));
        seen += ours.length;
      }
    }
    assert.ok(seen > 2000, `${seen} tokens compared`);
    assert.deepEqual(tokens(hook.proto, hook.proto.getObj, '<48 65 6C6C6F> BTET', OPERATORS).slice(0, 3), [
      'string "Hello" @15 bi-1',
      'cmd "BT" @18 bi-1',
      'cmd "ET" @19 bi-1',
    ]);
  });
});
