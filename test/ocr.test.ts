import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCanvas } from '@napi-rs/canvas';
import { PDFDocument, type PDFFont, rgb, StandardFonts } from 'pdf-lib';
import { convertPdf } from '../src/engine/convert.ts';
import { isGarbageText } from '../src/engine/extract/needs-ocr.ts';
import { renderScale } from '../src/engine/extract/ocr-page.ts';
import { loadPdf } from '../src/engine/load/pdf.ts';
import { scoreOutput } from '../src/eval/score.ts';
import ort from 'onnxruntime-node';
import { closeOcr } from '../src/ocr/index.ts';
import { MODEL_FILES, modelBytes } from '../src/ocr/models.ts';
import { simplifyModel } from '../src/ocr/simplify.ts';
import { multipart, rawRequest } from './helpers/http.ts';
import { makePdf, wrap } from './helpers/pdf.ts';
import { CORPUS, startServerProcess, type ServerProcess } from './helpers/server.ts';

// OCR with the real PP-OCRv4 models on real scans from the corpus, and on scans the tests make:
// a typeset page rendered, turned, speckled and saved as an image-only PDF, so that each test
// knows exactly what the page says. Speed is measured by `npm run bench -- ocr`, not here.

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

interface ScanOptions {
  /** Degrees the sheet is turned on the scanner (positive: clockwise). */
  angle?: number;
  dpi?: number;
  /** Grey levels of uniform noise added to every pixel (0–255). */
  noise?: number;
}

/** Each page of a PDF as a scanner would give it back: rendered, turned, noisy, as one JPEG per page. */
async function scanOf(pdfBytes: Uint8Array, { angle = 0, dpi = 200, noise = 0 }: ScanOptions = {}): Promise<Uint8Array> {
  const { pdf, close } = await loadPdf(pdfBytes);
  const out = await PDFDocument.create();
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  try {
    for (let n = 1; n <= pdf.numPages; n++) {
      const page = await pdf.getPage(n);
      const viewport = page.getViewport({ scale: dpi / 72 });
      const width = Math.floor(viewport.width);
      const height = Math.floor(viewport.height);
      const sheet = createCanvas(width, height);
      const context = sheet.getContext('2d');
      context.fillStyle = '#ffffff';
      context.fillRect(0, 0, width, height);
      // Turned about the page's centre, as the sheet lay on the scanner.
      const turn = (angle * Math.PI) / 180;
      const [cos, sin] = [Math.cos(turn), Math.sin(turn)];
      type RenderParams = Parameters<typeof page.render>[0];
      await page.render({
        canvasContext: context as unknown as RenderParams['canvasContext'],
        canvas: sheet as unknown as RenderParams['canvas'],
        viewport,
        transform: [cos, sin, -sin, cos, width / 2 - cos * (width / 2) + sin * (height / 2), height / 2 - sin * (width / 2) - cos * (height / 2)],
      }).promise;
      if (noise > 0) {
        const pixels = context.getImageData(0, 0, width, height);
        for (let i = 0; i < pixels.data.length; i += 4) {
          const v = Math.max(0, Math.min(255, pixels.data[i] + (random() - 0.5) * 2 * noise));
          pixels.data[i] = pixels.data[i + 1] = pixels.data[i + 2] = v;
        }
        context.putImageData(pixels, 0, 0);
      }
      const jpeg = await out.embedJpg(sheet.toBuffer('image/jpeg', 80));
      const { width: w, height: h } = page.getViewport({ scale: 1 });
      out.addPage([w, h]).drawImage(jpeg, { x: 0, y: 0, width: w, height: h });
      page.cleanup();
    }
  } finally {
    await close();
  }
  return out.save();
}

const PROSE = [
  'Retries are spaced out with an exponential backoff, so that a busy server gets time to recover before the next attempt is made.',
  'Each request carries its own deadline: when it passes, the attempt is abandoned and the error says which limit was reached.',
];
const CODE = [
  'const client = createClient({',
  '  retries: 3,',
  '  timeout: 5000,',
  '  onRetry: (error) => log(error),',
  '});',
  'await client.get("/status");',
];

/** A typeset page: a heading, prose, a shaded code block in Courier, more prose. */
async function pageWithCode(): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const sans = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  const mono = await doc.embedFont(StandardFonts.Courier);
  const page = doc.addPage([612, 792]);
  let y = 700;
  page.drawText('Retrying requests', { x: 72, y, size: 20, font: bold });
  y -= 40;
  const paragraph = (text: string, font: PDFFont) => {
    for (const line of wrap(text, font, 11, 468)) {
      page.drawText(line, { x: 72, y, size: 11, font });
      y -= 15;
    }
    y -= 12;
  };
  paragraph(PROSE[0], sans);
  const top = y + 12;
  y -= 6;
  const codeTop = y;
  for (const line of CODE) {
    page.drawText(line, { x: 84, y, size: 10, font: mono });
    y -= 14;
  }
  page.drawRectangle({ x: 72, y: y + 4, width: 468, height: top - y - 8, color: rgb(0.95, 0.95, 0.95) });
  // The rectangle was drawn last: draw the code again on top of it.
  y = codeTop;
  for (const line of CODE) {
    page.drawText(line, { x: 84, y, size: 10, font: mono });
    y -= 14;
  }
  y -= 20;
  paragraph(PROSE[1], sans);
  return doc.save();
}

/** A page of scribbles: strokes and blots where a model finds regions but no text it knows. */
async function pageOfScribbles(): Promise<Uint8Array> {
  const width = 1700;
  const height = 2200;
  const canvas = createCanvas(width, height);
  const context = canvas.getContext('2d');
  context.fillStyle = '#ffffff';
  context.fillRect(0, 0, width, height);
  let seed = 99;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  context.strokeStyle = '#202020';
  for (let row = 0; row < 28; row++) {
    const baseline = 200 + row * 65;
    context.lineWidth = 2 + random() * 3;
    context.beginPath();
    context.moveTo(150, baseline);
    for (let x = 150; x < 1550; x += 6 + random() * 10) context.lineTo(x, baseline - random() * 40 + 10 * Math.sin(x / 9));
    context.stroke();
  }
  const doc = await PDFDocument.create();
  const image = await doc.embedJpg(canvas.toBuffer('image/jpeg', 85));
  doc.addPage([612, 792]).drawImage(image, { x: 0, y: 0, width: 612, height: 792 });
  return doc.save();
}

/** Two PDFs' pages, one after the other. */
async function concatenated(...pdfs: Uint8Array[]): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  for (const bytes of pdfs) {
    const source = await PDFDocument.load(bytes);
    for (const page of await doc.copyPages(source, source.getPageIndices())) doc.addPage(page);
  }
  return doc.save();
}

describe('OCR', () => {
  after(async () => {
    await closeOcr();
  });

  it('reads scanned documents close to their ground truth', async () => {
    // Prose and a table (jsbarcode), prose and code (immutable, sentiment).
    const bounds: Record<string, number> = { jsbarcode: 0.02, immutable: 0.02, sentiment: 0.04 };
    const rates: number[] = [];
    for (const [id, bound] of Object.entries(bounds)) {
      const result = await convertPdf(new Uint8Array(scanned(id)));
      assert.ok(result.metadata.ocr_pages.length >= 2, id);
      assert.deepEqual(result.metadata.low_confidence_pages, [], id);
      const rate = cer(truth(id), result.output);
      rates.push(rate);
      assert.ok(rate < bound, `${id}: CER ${rate.toFixed(4)} should be under ${bound}`);
      if (id === 'jsbarcode') {
        // Spaces and ASCII punctuation come out as in the source, not as the model's CJK forms.
        assert.match(result.output, /JsBarcode is a barcode generator written in JavaScript\./);
        assert.doesNotMatch(result.output, /[\u3000-\u303F\uFF00-\uFFEF\p{Script=Han}]/u);
      }
    }
    const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
    assert.ok(mean < 0.02, `mean CER ${mean.toFixed(4)} should be under 2 %`);
  });

  it('reads a turned, noisy scan into level lines: prose stays paragraphs, code stays one block', async () => {
    const scan = await scanOf(await pageWithCode(), { angle: 2, noise: 40 });
    const result = await convertPdf(scan);
    assert.deepEqual(result.metadata.ocr_pages, [0]);
    assert.deepEqual(result.metadata.low_confidence_pages, []);
    const md = result.output;
    // Indentation measured on level lines: nothing becomes a quote or a list.
    assert.doesNotMatch(md, /^\s*>/m, md);
    assert.doesNotMatch(md, /^\s*(?:[-*]|\d+[.)])\s/m, md);
    // Each paragraph is one block, its lines joined.
    assert.match(md, /so that a busy server gets time to recover/);
    assert.match(md, /the attempt is abandoned and the error says which limit was reached/);
    // The code block is one fenced block with its lines in order, indentation kept (a line the
    // model misreads on a noisy page may be missing, never moved out of the block).
    const fences = md.match(/^```/gm) ?? [];
    assert.equal(fences.length, 2, md);
    const code = md.slice(md.indexOf('```') + 3, md.lastIndexOf('```'));
    let at = 0;
    let found = 0;
    for (const line of CODE) {
      const where = code.indexOf(line.trim(), at);
      if (where < 0) continue;
      found++;
      at = where;
    }
    assert.ok(found >= CODE.length - 1, `code lines in order in:\n${code}`);
    assert.match(code, /^ {2}retries: 3,$/m);
    const rate = cer([PROSE[0], ...CODE, PROSE[1]].join('\n'), md.replace(/^#+ Retrying requests$/m, ''));
    assert.ok(rate < 0.03, `CER ${rate.toFixed(4)} on the turned scan should be under 3 %`);
  });

  it('lists the pages it cannot read in metadata.low_confidence_pages', async () => {
    const readable = await scanOf(await makePdf([{ heading: 'Delivery times', paragraphs: [PROSE[0]] }]), { noise: 20 });
    const result = await convertPdf(await concatenated(readable, await pageOfScribbles()));
    assert.deepEqual(result.metadata.ocr_pages, [0, 1]);
    assert.deepEqual(result.metadata.low_confidence_pages, [1]);
    assert.match(result.output, /exponential backoff/);
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

  it('runs the models simplified: the same outputs with far fewer operators', async () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return (seed / 0x7fffffff) * 2 - 1;
    };
    const cases = [
      { file: MODEL_FILES.recognition, dims: [2, 3, 48, 320] },
      { file: MODEL_FILES.detection, dims: [1, 3, 320, 256] },
    ];
    for (const { file, dims } of cases) {
      const original = new Uint8Array(fs.readFileSync(file));
      const simplified = simplifyModel(original);
      // Every convolution's scale, shift and hard-swish is rewritten; the rest is left as it was.
      assert.ok(simplified.operatorsAfter < simplified.operatorsBefore * 0.85, `${simplified.operatorsBefore} → ${simplified.operatorsAfter}`);
      const input = new ort.Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b) }, random), dims);
      const outputs: Float32Array[] = [];
      for (const bytes of [original, simplified.bytes]) {
        const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
        try {
          const result = await session.run({ [session.inputNames[0]]: input });
          outputs.push(result[session.outputNames[0]].data as Float32Array);
        } finally {
          await session.release();
        }
      }
      assert.equal(outputs[1].length, outputs[0].length);
      let largest = 0;
      for (let i = 0; i < outputs[0].length; i++) largest = Math.max(largest, Math.abs(outputs[0][i] - outputs[1][i]));
      assert.ok(largest < 1e-4, `${path.basename(file)}: outputs differ by up to ${largest}`);
    }
  });

  it('runs a model the rewrite cannot read as it is', () => {
    const junk = new Uint8Array([0x0a, 0xff, 0xff, 0x01]);
    assert.throws(() => simplifyModel(junk));
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-model-')), 'junk.onnx');
    try {
      fs.writeFileSync(file, junk);
      assert.deepEqual(modelBytes(file), junk);
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
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
