import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadPdf } from '../src/engine/load/pdf.ts';
import { replacedTextStateClone } from '../src/engine/load/text-state.ts';
import { pdfFromObjects, stream } from './helpers/hostile-pdf.ts';

/*
 * The engine replaces pdfjs's TextState.clone() (see src/engine/load/text-state.ts) with a copy
 * that does not make the state copied a prototype. It must be active (a pdfjs upgrade that hides
 * TextState would silently lose it) and must read every text item exactly as pdfjs's own does.
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

/** The same, read with pdfjs's own TextState.clone() put back for the reading. */
async function textContentWithPdfjsClone(bytes: Uint8Array): Promise<string> {
  const hook = replacedTextStateClone();
  assert.ok(hook);
  const ours = hook.proto.clone;
  hook.proto.clone = hook.original;
  try {
    return await textContent(bytes);
  } finally {
    hook.proto.clone = ours;
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

  it("read the same text items as pdfjs's own copies, nested states included", async () => {
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
      const theirs = await textContentWithPdfjsClone(new Uint8Array(bytes));
      assert.equal(ours, theirs);
    }
  });
});
