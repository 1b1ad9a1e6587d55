import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { convertPdf } from '../src/engine/convert.ts';
import { isGarbageText } from '../src/engine/extract/needs-ocr.ts';
import { renderScale } from '../src/engine/extract/ocr-page.ts';
import { scoreOutput } from '../src/eval/score.ts';
import { closeOcr } from '../src/ocr/index.ts';
import { multipart, rawRequest } from './helpers/http.ts';
import { makePdf } from './helpers/pdf.ts';
import { CORPUS, startServerProcess, type ServerProcess } from './helpers/server.ts';

/**
 * OCR with the real PP-OCRv4 models on real scans from the corpus. Each conversion of a
 * scanned page takes a few seconds on a busy 2-core machine; the file runs in about a minute.
 */

const scanned = (id: string) => fs.readFileSync(path.join(CORPUS, `${id}.scanned.pdf`));
const truth = (id: string) => fs.readFileSync(path.join(CORPUS, `${id}.scanned.txt`), 'utf8');

/** Character error rate as `docmark eval` computes it. */
function cer(expected: string, markdown: string): number {
  return scoreOutput(expected, markdown, 'text').cer as number;
}

/** A page of the scan with a text layer of junk on top (a font whose glyphs map to nonsense). */
async function scanWithJunkTextLayer(): Promise<Uint8Array> {
  const source = await PDFDocument.load(scanned('jsbarcode'));
  const doc = await PDFDocument.create();
  const [page] = await doc.copyPages(source, [0]);
  doc.addPage(page);
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (let i = 0; i < 6; i++) {
    page.drawText('Qxzvbk trkgfl wxcvbnm pzrtk qwrtpsdf zxcvbnm kjhgfd lkjhgf mnbvcx', { x: 40, y: 700 - i * 20, size: 10, font, opacity: 0 });
  }
  return doc.save();
}

describe('OCR', () => {
  after(async () => {
    await closeOcr();
  });

  it('reads a scanned document close to its ground truth', async () => {
    const result = await convertPdf(new Uint8Array(scanned('jsbarcode')));
    assert.deepEqual(result.metadata.ocr_pages, [0, 1]);
    const rate = cer(truth('jsbarcode'), result.output);
    assert.ok(rate < 0.05, `CER ${rate.toFixed(4)} should be under 5 %`);
    // Spaces and ASCII punctuation come out as in the source, not as the model's CJK forms.
    assert.match(result.output, /JsBarcode is a barcode generator written in JavaScript\./);
    assert.doesNotMatch(result.output, /[\u3000-\u303F\uFF00-\uFFEF\p{Script=Han}]/u);
  });

  it('keeps the text layer of a born-digital PDF unless OCR is forced', async () => {
    const pdf = await makePdf([{ heading: 'Shipping Policy', paragraphs: ['Orders leave the warehouse within two working days.'] }]);
    const plain = await convertPdf(pdf);
    assert.deepEqual(plain.metadata.ocr_pages, []);
    assert.match(plain.output, /^# Shipping Policy$/m);

    const forced = await convertPdf(pdf, { forceOcr: true });
    assert.deepEqual(forced.metadata.ocr_pages, [0]);
    // The OCR'd page goes through the same layout steps: the big line is still a heading.
    assert.match(forced.output, /^#{1,3} Shipping Policy$/m);
    assert.match(forced.output, /Orders leave the warehouse within two working days\./);
  });

  it('does not OCR a blank page', async () => {
    const doc = await PDFDocument.create();
    doc.addPage([612, 792]);
    const result = await convertPdf(await doc.save());
    assert.deepEqual(result.metadata.ocr_pages, []);
    assert.equal(result.output.trim(), '');
  });

  it('OCRs a page whose text layer is garbage', async () => {
    const result = await convertPdf(await scanWithJunkTextLayer());
    assert.deepEqual(result.metadata.ocr_pages, [0]);
    assert.match(result.output, /JsBarcode is a barcode generator/);
    assert.doesNotMatch(result.output, /wxcvbnm/);
  });

  it('tells garbage text layers from real text', () => {
    assert.equal(isGarbageText('The quick brown fox jumps over the lazy dog near the river bank today.'), false);
    assert.equal(isGarbageText('const value = require("path"); fn(x) => x * 2; npm install'), false);
    assert.equal(isGarbageText('\uFFFD\uFFFD\uFFFD \uFFFD\uFFFD ab'), true);
    assert.equal(isGarbageText('\uE001\uE002\uE003\uE004 \uE005\uE006'), true);
    assert.equal(isGarbageText('Qxzvbk trkgfl wxcvbnm pzrtk qwrtpsdf zxcvbnm kjhgfd lkjhgf mnbvcx bcdfgh'), true);
    // y is a vowel; a run of 5 consonants is not a word; tokens with digits or accents are not counted.
    assert.equal(isGarbageText('rhythm gym lynx sync myth crypt hymn nymph tryst glyph'), false);
    assert.equal(isGarbageText('abcdfgh strengths bcdfgxe tsktsk brrrrr zxcvb ab3dfgh mnbvc qwrts plkjh xkcdq'), true);
    assert.equal(isGarbageText('Qxzvbk1 trkgfl2 wxcvbnm3 pzrtk4 qwrtpsdf5 zxcvbnm6 kjhgfd7 lkjhgf8 mnbvcx9 bcdfgh0'), false);
  });

  it('never rasterises a huge page at full size', () => {
    const scale = renderScale(14400, 14400); // bad/huge-page.pdf: 200 × 200 inches
    assert.ok(14400 * scale <= 4096 && 14400 * 14400 * scale * scale <= 6_000_000);
    assert.equal(renderScale(612, 792), 200 / 72); // a Letter page gets the full 200 dpi
  });
});

describe('OCR over HTTP', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServerProcess();
  });
  after(async () => {
    await server?.stop();
  });

  it('returns the text of a scanned page with metadata.ocr_pages', async () => {
    const { body, contentType } = multipart(scanned('immutable'), { page_range: '0' }, 'scan.pdf');
    const res = await rawRequest(`${server.url}/convert`, { body, headers: { 'content-type': contentType } });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json.success, true);
    assert.deepEqual(res.json.metadata.ocr_pages, [0]);
    assert.match(res.json.output, /^#{1,3} Immutable collections for JavaScript$/m);
    assert.match(res.json.output, /Read the docs and eat your vegetables\./);
    assert.match(res.json.output, /Docs are automatically generated from README\.md and immutable\.d\.ts\./);
  });
});
