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
import type { Rect } from '../src/engine/types.ts';
import { pdfFromObjects, stream } from './helpers/hostile-pdf.ts';

/*
 * A page's drawings read through pdfjs's evaluator with text, fonts and images left out must be
 * the ones its full operator list gives, and a hostile page must cost a bounded reading, never
 * an error.
 */

const CORPUS = path.resolve(import.meta.dirname, 'fixtures/corpus');

/** One page of `content`, with form XObjects `forms` (name → content, each drawing in its own space). */
function pagePdf(content: Buffer | string, forms: Record<string, string> = {}, options: { compress?: boolean; extGState?: string } = {}): Buffer {
  const names = Object.keys(forms);
  const formRef = (name: string) => `${5 + names.indexOf(name)} 0 R`;
  const xobjects = names.map((name) => `/${name} ${formRef(name)}`).join(' ');
  const resources = `<< /XObject << ${xobjects} >> /ExtGState << ${options.extGState ?? ''} >> >>`;
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

/** The page's rects by each reading, checked equal to the operator list's; and which reading the default took. */
async function readAllWays(page: PDFPageProxy): Promise<{ rects: Rect[]; readBy: string | undefined }> {
  const rects = await readDrawings(page, 'operator-list');
  assert.deepEqual(await readDrawings(page, 'content-stream'), rects);
  assert.deepEqual(await readDrawings(page, 'evaluator'), rects);
  return { rects, readBy: (await drawingOperators(page))?.readBy };
}

describe('drawings read without text, fonts and images', () => {
  it('gives the rects of the full operator list on every corpus page that could hold a table', async () => {
    let read = 0;
    let withRects = 0;
    let byContentStream = 0;
    for (const file of fs.readdirSync(CORPUS).filter((f) => f.endsWith('.pdf') && !f.includes('.scanned.'))) {
      const loaded = await loadPdf(new Uint8Array(fs.readFileSync(path.join(CORPUS, file))));
      try {
        for (let index = 0; index < loaded.pageCount; index++) {
          const page = await loaded.pdf.getPage(index + 1);
          if (!mayHoldTable(await extractTextPage(page, index))) continue;
          const where = `${file} p${index + 1}`;
          // The readings under test are the ones taken (not the fallback to the operator list).
          const operators = await drawingOperators(page);
          assert.ok(operators, `${where}: pdfjs's worker side is reachable`);
          if (operators.readBy === 'content-stream') byContentStream++;
          const full = await readDrawings(page, 'operator-list');
          assert.deepEqual(await readDrawings(page, 'content-stream'), full, where);
          assert.deepEqual(await readDrawings(page, 'evaluator'), full, where);
          read++;
          if (full.length) withRects++;
        }
      } finally {
        await loaded.close();
      }
    }
    assert.ok(read >= 50 && withRects >= 40, `pages read ${read}, with rects ${withRects}`);
    assert.ok(byContentStream >= read * 0.9, `pages read from their content stream: ${byContentStream} of ${read}`);
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

  it('reads paths, colours, line widths and forms as the operator list gives them', async () => {
    const content = [
      'q 0.9 g 10 10 200 100 re f Q',
      'BT /F1 12 Tf 72 700 Td (text \\) (with) parentheses) Tj [<0041> -20 (B)] TJ ET',
      '/GS1 gs 0 500 m 400 500 l S 2 w 0 520 m 400 520 l 400 540 l s',
      'q 1 0 0 1 50 50 cm /Fa Do Q % a comment',
      '/Span <</MCID 3 /Alt (a [table])>> BDC 0.5 0.5 0.5 rg 20 600 100 50 re 20 650 m 120 650 l h B* EMC',
      '10 700 m 20 710 30 720 40 700 c 50 710 60 700 v 70 710 80 700 y f',
      '1 g 0 0 612 792 re f',
    ].join('\n');
    const bytes = pagePdf(content, { Fa: '0 0 1 rg 0 0 100 20 re f 0 30 m 100 30 l S' }, { extGState: '/GS1 << /LW 3 /CA 0.5 >>' });
    await withPage(bytes, async (page) => {
      const { rects, readBy } = await readAllWays(page);
      assert.equal(readBy, 'content-stream');
      // The grey box; the 3-pt rule and the 2-pt ones (not the slanted closing one); the form's box
      // and rule; the filled and stroked box and rule (box, 4 sides, the rule as a box and twice
      // as a line); the curves' box. Not the white page.
      assert.equal(rects.length, 15, JSON.stringify(rects));
    });
  });

  it('leaves what it does not cover (inline images, other colour spaces, escaped names) to the evaluator', async () => {
    const streams = [
      'q 100 0 0 100 300 300 cm BI /W 2 /H 2 /BPC 8 /CS /G ID abcd EI Q 10 10 200 100 re f',
      '/DeviceRGB cs 0.5 0.5 0.5 sc 10 10 200 100 re f',
      '0 0 0 1 k 10 200 50 50 re f',
      'q 1 0 0 1 50 50 cm /F#61 Do Q',
      '10 10 200 100 re fQq 20 20 m 30 30 l S',
    ];
    for (const content of streams) {
      await withPage(pagePdf(content, { Fa: '0 0 100 20 re f' }), async (page) => {
        const { rects, readBy } = await readAllWays(page);
        assert.equal(readBy, 'evaluator', content);
        assert.ok(rects.length >= 1, content);
      });
    }
  });

  it('reads unbalanced saves and restores, in the page and in forms, as the operator list does', async () => {
    const bytes = pagePdf('q q 2 0 0 2 0 0 cm 10 10 50 50 re f /Fa Do 20 20 m 80 20 l S', {
      Fa: 'Q Q Q 3 0 0 3 0 0 cm 0 0 10 10 re f q 1 w 0 5 m 10 5 l S',
    });
    await withPage(bytes, async (page) => {
      const { rects, readBy } = await readAllWays(page);
      assert.equal(readBy, 'content-stream');
      assert.equal(rects.length, 4);
    });
  });

  it('reads a form that draws itself once, and stops at forms nested too deep', async () => {
    const cycle = pagePdf('/Fa Do', { Fa: '0 0 10 10 re f /Fb Do', Fb: '20 20 10 10 re f /Fa Do' });
    await withPage(cycle, async (page) => {
      assert.equal((await readAllWays(page)).rects.length, 2);
    });
    // A chain of 60 forms, each drawing a box and the next one.
    const forms: Record<string, string> = {};
    for (let i = 0; i < 60; i++) forms[`F${i}`] = `${i} 0 1 1 re f ${i < 59 ? `/F${i + 1} Do` : ''}`;
    await withPage(pagePdf('/F0 Do', forms), async (page) => {
      assert.equal((await readDrawings(page, 'content-stream')).length, 32); // forms deeper than 32 are not entered
      assert.equal((await readDrawings(page, 'evaluator')).length, 32);
      assert.equal((await readDrawings(page, 'operator-list')).length, 60);
    });
  });

  it('reads what a truncated or damaged stream holds without throwing', async () => {
    // Cut in the middle of an operator, of a string, of an array: the operators before count.
    for (const cut of ['0 0 m 100', '(a string', '[1 2', '<4142']) {
      await withPage(pagePdf(`10 10 100 50 re f ${cut}`), async (page) => {
        assert.equal((await readAllWays(page)).rects.length, 1, cut);
      });
    }
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
        await readAllWays(page);
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
