import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { loadPdf } from '../src/engine/load/pdf.ts';
import { isKnownWorkerSource, replacedTextContent, textContentReads } from '../src/engine/load/text-content.ts';
import { pdfFromObjects, stream } from './helpers/hostile-pdf.ts';

/*
 * The engine reads a page's text with its own layout of pdfjs's glyphs (src/engine/load/text-content.ts),
 * in place of pdfjs's getTextContent. It must be active (a pdfjs upgrade that hides a class would
 * silently lose it), must give exactly the items and styles pdfjs's own code gives, and must not be
 * used with a pdfjs other than the one it was written against.
 */

const root = path.join(import.meta.dirname, '..');
const corpus = path.join(import.meta.dirname, 'fixtures', 'corpus');
const typeset = path.join(import.meta.dirname, 'fixtures', 'corpus-typeset');
const workerFile = path.join(root, 'node_modules', 'pdfjs-dist', 'legacy', 'build', 'pdf.worker.mjs');

/** A ToUnicode map that reads A and B as Arabic letters (alef, lam): text pdfjs reorders. */
const ARABIC_TO_UNICODE = Buffer.from(
  '/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /ArabicAB def\n' +
    '1 begincodespacerange <00> <FF> endcodespacerange\n2 beginbfchar <41> <0627> <42> <0644> endbfchar\n' +
    'endcmap CMapName currentdict /CMap defineresource pop end end',
);

/**
 * Three pages of what a text layout has to follow: kerning, spacing, rise and scaling; text turned
 * by 90, 180, 270 and 30 degrees; forms (nested, scaled, painted twice, one that paints itself, one
 * with no text); an image; a font set by a graphics state; a Type 3 font at size 1; marked content;
 * text off the page; a page turned by /Rotate; and a page of Arabic (which pdfjs's own code reads) with a form on it.
 */
function layoutPdf(): Buffer {
  const page1 = [
    'BT /F1 12 Tf 72 720 Td (Plain line) Tj ET',
    'BT /F1 12 Tf 72 700 Td [(Kerned) -300 (words) -2000 (far) 120 (overlap) 0 (zero)] TJ ET',
    'BT /F1 11 Tf 72 680 Td 2 Ts (raised) Tj 0 Ts 150 Tz (wide) Tj 100 Tz 1 Tc 2 Tw (spaced out words) Tj ET',
    'BT /F1 10 Tf 0 1 -1 0 300 300 Tm (Turned ninety) Tj ET',
    'BT /F1 10 Tf -1 0 0 -1 400 400 Tm (Upside down) Tj ET',
    'BT /F1 10 Tf 0.866 0.5 -0.5 0.866 100 500 Tm (Thirty degrees) Tj ET',
    'BT /F1 10 Tf 0 -1 1 0 450 300 Tm (Two seventy) Tj ET',
    '/P <</MCID 0>> BDC BT /F1 10 Tf 72 600 Td (Marked) Tj ET EMC /Q BMC BT /F1 10 Tf 150 600 Td (More) Tj ET EMC',
    '/GS1 gs BT 72 580 Td (Font from gs) Tj ET /GS0 gs',
    'q 1 0 0 1 0 0 cm /Fm1 Do Q /Fm2 Do /Fm2 Do /Loop Do /Empty Do /Empty Do /Im Do /Im Do',
    'BT /F3 1 Tf 20 0 0 20 72 540 Tm (abab) Tj ET',
    'BT /F1 10 Tf -100 900 Td (Off the page) Tj ET',
    'BT /F1 10 Tf 72 520 Td (Line one) Tj 0 -12 Td (Line two) Tj 12 TL T* (after T*) Tj (Quote) \' 1 2 (Double quote) " ET',
    'BT /F2 10 Tf 72 460 Td (Bold) Tj /F1 10 Tf ( then regular) Tj /F1 14 Tf ( bigger) Tj 0 -20 TD (next) Tj ET',
    'BT /F1 10 Tf 72 400 Td (no font first) Tj ET',
  ].join('\n');
  const page2 = 'BT /F1 12 Tf 72 720 Td (Rotated page) Tj 0 -14 Td (second line) Tj ET';
  const page3 = 'BT /FA 12 Tf 72 720 Td (Hello) Tj ET BT /FA 12 Tf 72 700 Td (AB xyz) Tj ET /Fm2 Do';
  const objects: Array<string | Buffer> = [
    /* 1 */ '<< /Type /Catalog /Pages 2 0 R >>',
    /* 2 */ '<< /Type /Pages /Kids [3 0 R 12 0 R 13 0 R] /Count 3 >>',
    /* 3 */ '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources 14 0 R /Contents 15 0 R >>',
    /* 4 */ '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    /* 5 */ '<< /Type /Font /Subtype /Type1 /BaseFont /Times-Bold >>',
    /* 6 */ '<< /Type /Font /Subtype /Type3 /FontBBox [0 -10 80 90] /FontMatrix [0.01 0 0 0.01 0 0] /CharProcs << /a 18 0 R /b 19 0 R >> /Encoding << /Type /Encoding /Differences [97 /a /b] >> /FirstChar 97 /LastChar 98 /Widths [60 70] /Resources << >> >>',
    /* 7 */ stream(
      '/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Matrix [0.8 0 0 0.8 50 60] /Resources << /Font << /F1 4 0 R >> /XObject << /Fm2 8 0 R >> >>',
      Buffer.from('BT /F1 10 Tf 10 10 Td (In form one) Tj ET /Fm2 Do'),
    ),
    /* 8 */ stream('/Type /XObject /Subtype /Form /BBox [0 0 612 792]', Buffer.from('BT /F2 9 Tf 20 30 Td (Nested form) Tj ET')),
    /* 9 */ stream(
      '/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> /XObject << /Loop 9 0 R >> >>',
      Buffer.from('BT /F1 8 Tf 5 5 Td (Loop text) Tj ET /Loop Do'),
    ),
    /* 10 */ '<< /Type /ExtGState /Font [5 0 R 16] >>',
    /* 11 */ '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 17 0 R >>',
    /* 12 */ '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Rotate 90 /Resources 14 0 R /Contents 16 0 R >>',
    /* 13 */ '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources 14 0 R /Contents 20 0 R >>',
    /* 14 */ '<< /Font << /F1 4 0 R /F2 5 0 R /F3 6 0 R /FA 11 0 R >> /XObject << /Fm1 7 0 R /Fm2 8 0 R /Loop 9 0 R /Empty 21 0 R /Im 22 0 R >> /ExtGState << /GS1 10 0 R /GS0 << /CA 1 >> >> >>',
    /* 15 */ stream('', Buffer.from(page1)),
    /* 16 */ stream('', Buffer.from(page2)),
    /* 17 */ stream('', ARABIC_TO_UNICODE),
    /* 18 */ stream('', Buffer.from('60 0 d0 0 0 50 80 re f')),
    /* 19 */ stream('', Buffer.from('70 0 d0 0 0 60 80 re f')),
    /* 20 */ stream('', Buffer.from(page3)),
    /* 21 */ stream('/Type /XObject /Subtype /Form /BBox [0 0 10 10]', Buffer.from('0 0 m 10 10 l S')),
    /* 22 */ stream('/Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray /BitsPerComponent 8', Buffer.from([0x80])),
  ];
  return pdfFromObjects(objects);
}

interface PageText {
  items: Array<{ str?: string; transform?: number[] }>;
  styles: Record<string, unknown>;
}

/** Each page's text content read by the engine's reader, then by pdfjs's own code, in one document. */
async function bothReadings(bytes: Uint8Array): Promise<Array<{ ours: PageText; theirs: PageText }>> {
  const { pdf, close } = await loadPdf(bytes);
  try {
    const pages: Array<{ ours: PageText; theirs: PageText }> = [];
    for (let i = 1; i <= pdf.numPages; i++) {
      const page = await pdf.getPage(i);
      const ours = (await page.getTextContent()) as unknown as PageText;
      // Found as pdfjs reads its first page.
      const hook = replacedTextContent();
      assert.ok(hook, "pdfjs's getTextContent was not replaced: its own (slower) reading is used");
      const replacement = hook.proto.getTextContent;
      hook.proto.getTextContent = hook.original;
      try {
        pages.push({ ours, theirs: (await page.getTextContent()) as unknown as PageText });
      } finally {
        hook.proto.getTextContent = replacement;
      }
    }
    return pages;
  } finally {
    await close();
  }
}

/** A page's text with no white space (pdfjs spaces letters drawn with character spacing). */
const text = (page: PageText) =>
  page.items
    .map((item) => item.str ?? '')
    .join('')
    .replace(/\s+/g, '');

describe("the engine's reading of a page's text", () => {
  it('replaces pdfjs getTextContent once pdfjs has read a page, and reads pages itself', async () => {
    await bothReadings(new Uint8Array(fs.readFileSync(path.join(corpus, 'bcrypt.pdf'))));
    const hook = replacedTextContent();
    assert.ok(hook, "pdfjs's evaluator was not found: its own getTextContent is used");
    assert.notEqual(hook.proto.getTextContent, hook.original);
    const before = textContentReads.own;
    const pages = await bothReadings(new Uint8Array(fs.readFileSync(path.join(corpus, 'fastify.pdf'))));
    assert.equal(textContentReads.own - before, pages.length, 'every page read by the engine');
  });

  it("gives the same items and styles as pdfjs's own code on documents of several producers", async () => {
    const files = [
      ...['bcrypt.pdf', 'fastify.pdf', 'immutable.pdf', 'chokidar.pdf'].map((f) => path.join(corpus, f)), // Chromium (Skia)
      ...['bcrypt.tex1.pdf', 'bcrypt.tex2.pdf', 'bull.tex1.pdf'].map((f) => path.join(typeset, f)), // LaTeX, Type 1 fonts
      ...['bcrypt.writer.pdf', 'bull.writer.pdf'].map((f) => path.join(typeset, f)), // LibreOffice Writer, TrueType
    ];
    let pages = 0;
    let items = 0;
    for (const file of files) {
      for (const [i, { ours, theirs }] of (await bothReadings(new Uint8Array(fs.readFileSync(file)))).entries()) {
        assert.deepStrictEqual(ours, theirs, `${path.basename(file)} page ${i + 1}`);
        pages++;
        items += ours.items.length;
      }
    }
    assert.ok(pages > 40 && items > 5000, `${pages} pages, ${items} items compared`);
  });

  it('gives the same items on forms, graphics-state fonts, Type 3 fonts, turned text and a turned page', async () => {
    const [page1, page2] = await bothReadings(new Uint8Array(layoutPdf()));
    assert.deepStrictEqual(page1.ours, page1.theirs);
    assert.deepStrictEqual(page2.ours, page2.theirs);
    // What each construct gave, so the comparison above is known to cover it.
    const read = text(page1.ours);
    for (const expected of [
      'Plainline',
      'Kernedwords',
      'far',
      'Turnedninety',
      'Upsidedown',
      'Thirtydegrees',
      'Twoseventy',
      'Marked',
      'Fontfromgs',
      'Informone',
      'Nestedform',
      'Looptext',
      'abab',
      'Linetwo',
      'Doublequote',
      'Boldthenregular',
    ]) {
      assert.ok(read.includes(expected), `${expected} in ${read}`);
    }
    assert.ok(!read.includes('Offthepage'), 'text off the page is not read');
    assert.equal(read.split('Nestedform').length - 1, 3, 'a form painted twice is read twice, and inside another once');
    assert.equal(read.split('Looptext').length - 1, 1, 'a form that paints itself is read once');
    assert.match(text(page2.ours), /Rotatedpage/);
  });

  it("hands text that pdfjs reorders (Arabic) to pdfjs's own code, with the same result", async () => {
    const before = { ...textContentReads };
    const [, , arabic] = await bothReadings(new Uint8Array(layoutPdf()));
    assert.deepStrictEqual(arabic.ours, arabic.theirs);
    assert.match(text(arabic.ours), /Hello/);
    assert.match(text(arabic.ours), /\u0644\u0627/, 'the letters in reading order, as pdfjs reorders them');
    assert.match(text(arabic.ours), /Nestedform/);
    // pdfjs's code reads the form on that page by calling getTextContent again: the engine's reader.
    assert.equal(textContentReads.own - before.own, 3, 'the first two pages, and the form on the third, read by the engine');
    assert.equal(textContentReads.handedOver - before.handedOver, 1, "the Arabic page read by pdfjs's code");
  });

  it('hands a call with options the engine does not use (marked content) to pdfjs', async () => {
    const { pdf, close } = await loadPdf(new Uint8Array(layoutPdf()));
    try {
      const page = await pdf.getPage(1);
      const before = textContentReads.handedOver;
      const content = await page.getTextContent({ includeMarkedContent: true });
      assert.ok(textContentReads.handedOver > before);
      assert.ok(content.items.some((item) => 'type' in item && item.type === 'beginMarkedContentProps'));
    } finally {
      await close();
    }
  });
});

describe("the guard on pdfjs's source", () => {
  it('knows pdfjs 5.6.205 and nothing else', () => {
    const source = fs.readFileSync(workerFile);
    assert.equal(isKnownWorkerSource(source), true);
    const changed = Buffer.from(
      source.toString('latin1').replace('const TRACKING_SPACE_FACTOR = 0.102;', 'const TRACKING_SPACE_FACTOR = 0.103;'),
      'latin1',
    );
    assert.notDeepEqual(changed, source);
    assert.equal(isKnownWorkerSource(changed), false);
  });

  it("leaves pdfjs's own getTextContent in place when the worker's source differs", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-text-content-'));
    try {
      const changed = path.join(dir, 'pdf.worker.mjs');
      fs.writeFileSync(
        changed,
        fs.readFileSync(workerFile, 'latin1').replace('const VERTICAL_SHIFT_RATIO = 0.25;', 'const VERTICAL_SHIFT_RATIO = 0.3;'),
        'latin1',
      );
      const pdfFile = path.join(dir, 'bcrypt.pdf');
      fs.copyFileSync(path.join(corpus, 'bcrypt.pdf'), pdfFile);
      // A process of its own: the reader is installed once per thread, at pdfjs's first load.
      const script = [
        `const tc = await import(${JSON.stringify(path.join(root, 'src/engine/load/text-content.ts'))});`,
        `tc.installTextContent(${JSON.stringify(changed)}, {});`,
        `const { loadPdf } = await import(${JSON.stringify(path.join(root, 'src/engine/load/pdf.ts'))});`,
        `const { readFileSync } = await import('node:fs');`,
        `const doc = await loadPdf(new Uint8Array(readFileSync(${JSON.stringify(pdfFile)})));`,
        'let items = 0;',
        'for (let i = 1; i <= doc.pageCount; i++) items += (await (await doc.pdf.getPage(i)).getTextContent()).items.length;',
        'await doc.close();',
        'console.log(JSON.stringify({ replaced: !!tc.replacedTextContent(), reads: tc.textContentReads, items }));',
      ].join('\n');
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root });
      const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { replaced: boolean; reads: typeof textContentReads; items: number };
      assert.equal(result.replaced, false);
      assert.deepEqual(result.reads, { own: 0, handedOver: 0 });
      assert.ok(result.items > 100, `${result.items} items read by pdfjs's own code`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
