import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import type { PDFPageProxy } from 'pdfjs-dist/types/src/display/api.js';
import { drawingOperators } from '../src/engine/extract/drawing-operators.ts';
import { mayHoldTable, readDrawings } from '../src/engine/extract/drawings.ts';
import { extractTextPage } from '../src/engine/extract/text-layer.ts';
import { loadPdf } from '../src/engine/load/pdf.ts';
import { pdfFromObjects, stream } from './helpers/hostile-pdf.ts';

/*
 * A page's drawings read through pdfjs's evaluator with text, fonts and images left out must be
 * the ones its full operator list gives, and a hostile page must cost a bounded reading, never
 * an error.
 */

const CORPUS = path.resolve(import.meta.dirname, 'fixtures/corpus');

/** One page of `content`, with form XObjects `forms` (name → content, each drawing in its own space). */
function pagePdf(content: Buffer | string, forms: Record<string, string> = {}, options: { compress?: boolean } = {}): Buffer {
  const names = Object.keys(forms);
  const formRef = (name: string) => `${5 + names.indexOf(name)} 0 R`;
  const xobjects = names.map((name) => `/${name} ${formRef(name)}`).join(' ');
  const resources = `<< /XObject << ${xobjects} >> >>`;
  const data = typeof content === 'string' ? Buffer.from(content) : content;
  const body = options.compress ? zlib.deflateSync(data) : data;
  return pdfFromObjects([
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources ${resources} /Contents 4 0 R >>`,
    stream(options.compress ? '/Filter /FlateDecode' : '', body),
    ...names.map((name) => stream(`/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources ${resources}`, Buffer.from(forms[name]))),
  ]);
}

async function withPage<T>(bytes: Uint8Array, read: (page: PDFPageProxy) => Promise<T>): Promise<T> {
  const loaded = await loadPdf(bytes);
  try {
    return await read(await loaded.pdf.getPage(1));
  } finally {
    await loaded.close();
  }
}

describe('drawings read without text, fonts and images', () => {
  it('gives the rects of the full operator list on every corpus page that could hold a table', async () => {
    let read = 0;
    let withRects = 0;
    for (const file of fs.readdirSync(CORPUS).filter((f) => f.endsWith('.pdf') && !f.includes('.scanned.'))) {
      const loaded = await loadPdf(new Uint8Array(fs.readFileSync(path.join(CORPUS, file))));
      try {
        for (let index = 0; index < loaded.pageCount; index++) {
          const page = await loaded.pdf.getPage(index + 1);
          if (!mayHoldTable(await extractTextPage(page, index))) continue;
          // The reading under test is the one taken (not the fallback to the operator list).
          assert.ok(await drawingOperators(page), `${file} p${index + 1}: the evaluator is reachable`);
          const fast = await readDrawings(page, 'evaluator');
          const full = await readDrawings(page, 'operator-list');
          assert.deepEqual(fast, full, `${file} p${index + 1}`);
          read++;
          if (fast.length) withRects++;
        }
      } finally {
        await loaded.close();
      }
    }
    assert.ok(read >= 50 && withRects >= 40, `pages read ${read}, with rects ${withRects}`);
  });

  it('leaves the text and operator list of a page read alongside as they are', async () => {
    const bytes = fs.readFileSync(path.join(CORPUS, 'bcrypt.pdf'));
    const readings = async (withDrawings: boolean) => {
      const loaded = await loadPdf(new Uint8Array(bytes));
      try {
        const page = await loaded.pdf.getPage(1);
        const [text, ops] = await Promise.all([page.getTextContent(), page.getOperatorList(), withDrawings ? readDrawings(page) : []]);
        // Font names carry the document's id, which differs between the two openings.
        return JSON.stringify([text, ops.fnArray, ops.argsArray]).replace(/g_d\d+_/g, 'g_d_');
      } finally {
        await loaded.close();
      }
    };
    assert.equal(await readings(true), await readings(false));
  });

  it('reads paths in forms, inline images and text objects as the operator list does', async () => {
    const content = [
      'q 0.9 g 10 10 200 100 re f Q',
      'BT /F1 12 Tf 72 700 Td (text) Tj ET',
      'q 100 0 0 100 300 300 cm BI /W 2 /H 2 /BPC 8 /CS /G ID abcd EI Q',
      '2 w 0 500 m 400 500 l S',
      'q 1 0 0 1 50 50 cm /Fa Do Q',
      '1 g 0 0 612 792 re f',
    ].join('\n');
    const bytes = pagePdf(content, { Fa: '0 0 1 rg 0 0 100 20 re f 0 30 m 100 30 l S' });
    await withPage(bytes, async (page) => {
      const fast = await readDrawings(page, 'evaluator');
      assert.deepEqual(fast, await readDrawings(page, 'operator-list'));
      assert.equal(fast.length, 4, JSON.stringify(fast)); // grey box, the 2-pt rule, the form's box and rule; not the white page
    });
  });

  it('reads a form that draws itself once, and stops at forms nested too deep', async () => {
    const cycle = pagePdf('/Fa Do', { Fa: '0 0 10 10 re f /Fb Do', Fb: '20 20 10 10 re f /Fa Do' });
    await withPage(cycle, async (page) => {
      const rects = await readDrawings(page, 'evaluator');
      assert.deepEqual(rects, await readDrawings(page, 'operator-list'));
      assert.equal(rects.length, 2);
    });
    // A chain of 60 forms, each drawing a box and the next one.
    const forms: Record<string, string> = {};
    for (let i = 0; i < 60; i++) forms[`F${i}`] = `${i} 0 1 1 re f ${i < 59 ? `/F${i + 1} Do` : ''}`;
    await withPage(pagePdf('/F0 Do', forms), async (page) => {
      const rects = await readDrawings(page, 'evaluator');
      assert.equal(rects.length, 32); // forms deeper than 32 are not entered
      assert.equal((await readDrawings(page, 'operator-list')).length, 60);
    });
  });

  it('reads what a truncated or damaged stream holds without throwing', async () => {
    // Cut in the middle of an operator: the operators before it count.
    await withPage(pagePdf('10 10 100 50 re f 0 0 m 100'), async (page) => {
      const rects = await readDrawings(page, 'evaluator');
      assert.deepEqual(rects, await readDrawings(page, 'operator-list'));
      assert.equal(rects.length, 1);
    });
    // A Flate stream cut short, and one that is not Flate at all.
    const whole = zlib.deflateSync(Buffer.from('10 10 100 50 re f\n'.repeat(200)));
    for (const body of [whole.subarray(0, whole.length / 2), Buffer.from('not deflate data at all')]) {
      const bytes = pdfFromObjects([
        '<< /Type /Catalog /Pages 2 0 R >>',
        '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
        '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>',
        stream('/Filter /FlateDecode', body),
      ]);
      await withPage(bytes, async (page) => {
        const rects = await readDrawings(page, 'evaluator');
        assert.deepEqual(rects, await readDrawings(page, 'operator-list'));
      });
    }
  });

  it('stops reading a page of a million operators and more at its first million', async () => {
    const bytes = pagePdf(Buffer.from('1 w\n'.repeat(1_100_000)), {}, { compress: true });
    await withPage(bytes, async (page) => {
      const ops = await drawingOperators(page);
      assert.equal(ops?.length, 1_000_000);
    });
  });
});
