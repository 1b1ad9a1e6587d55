#!/usr/bin/env node
// OCR benchmark (`npm run bench -- ocr`): the scanned corpus through the real pipeline.
// Prints: cold start (model load), CER per document (`docmark eval`), s/page, peak RSS,
// RSS growth over OCR_BENCH_PAGES (default 300) OCR'd pages after warm-up, and the same
// corpus read by Debian's tesseract (300 dpi) when it is installed.
// Run after `npm run build`; `node --expose-gc` makes the RSS figures steadier.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const corpus = path.join(root, 'test/fixtures/corpus');
const growthPages = Number(process.env.OCR_BENCH_PAGES ?? 300);
const mb = (bytes) => (bytes / 1024 / 1024).toFixed(0);
const rss = () => process.memoryUsage().rss;
const gc = () => {
  for (let i = 0; i < 3; i++) globalThis.gc?.();
};

const ids = fs
  .readdirSync(corpus)
  .filter((f) => f.endsWith('.scanned.pdf'))
  .map((f) => f.replace(/\.pdf$/, ''))
  .sort();
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-ocr-bench-'));

// Cold start: loading the two ONNX sessions (and the modules), before any page.
let t = performance.now();
const { loadOcr, closeOcr } = await import(path.join(root, 'dist/ocr/index.js'));
await loadOcr();
const coldMs = performance.now() - t;
const { convertPdf } = await import(path.join(root, 'dist/engine/convert.js'));
console.log(`threads: ${process.env.DOCMARK_OCR_THREADS ?? 2} per session; cold start (model load): ${(coldMs / 1000).toFixed(2)} s`);

// Quality and speed on the scanned corpus.
const pdfs = new Map(ids.map((id) => [id, new Uint8Array(fs.readFileSync(path.join(corpus, `${id}.pdf`)))]));
let pages = 0;
let ms = 0;
const perDoc = new Map();
for (const id of ids) {
  t = performance.now();
  const result = await convertPdf(pdfs.get(id));
  const took = performance.now() - t;
  ms += took;
  pages += result.metadata.pages;
  perDoc.set(id, { pages: result.metadata.pages, seconds: took / 1000 });
  fs.writeFileSync(path.join(out, `${id}.md`), result.output);
}
const scores = score(out);
console.log('\ndocmark OCR (PP-OCRv4 on onnxruntime-node, 200 dpi):');
console.log('document'.padEnd(32) + 'pages   s/page   cer');
for (const id of ids) {
  const d = perDoc.get(id);
  console.log(id.padEnd(32) + String(d.pages).padEnd(8) + (d.seconds / d.pages).toFixed(2).padEnd(9) + scores.get(id).toFixed(4));
}
const meanCer = [...scores.values()].reduce((a, b) => a + b, 0) / scores.size;
console.log(`overall: mean cer ${meanCer.toFixed(4)} over ${ids.length} documents, ${(ms / pages / 1000).toFixed(2)} s/page over ${pages} pages`);

// Memory: RSS after warm-up vs after N more OCR'd pages in this process. Warm-up is the pass
// above plus WARMUP_PAGES more: native allocators (onnxruntime, canvas) reach their working
// set only after a few dozen pages of varied sizes; a leak shows as growth after that.
const WARMUP_PAGES = 50;
gc();
const afterCorpus = rss();
let before = 0;
let done = 0;
t = performance.now();
while (done < WARMUP_PAGES + growthPages) {
  for (const id of ids) {
    if (done >= WARMUP_PAGES + growthPages) break;
    const result = await convertPdf(pdfs.get(id));
    const previous = done;
    done += result.metadata.pages;
    if (previous < WARMUP_PAGES && done >= WARMUP_PAGES) {
      gc();
      before = rss();
      t = performance.now();
      console.log(`  warm-up done (${done} pages after the corpus pass): rss ${mb(before)} MB (${mb(afterCorpus)} MB right after the corpus pass)`);
    } else if (Math.floor(done / 50) > Math.floor(previous / 50)) {
      gc();
      console.log(`  ${done} pages: rss ${mb(rss())} MB`);
    }
  }
}
const measured = done - WARMUP_PAGES;
const growthSeconds = (performance.now() - t) / 1000;
gc();
const afterPages = rss();
console.log(
  `\nmemory: rss after warm-up ${mb(before)} MB, after ${measured} more OCR'd pages ${mb(afterPages)} MB ` +
    `(growth ${mb(afterPages - before)} MB; ${(growthSeconds / measured).toFixed(2)} s/page); ` +
    `peak rss ${mb(process.resourceUsage().maxRSS * 1024)} MB`,
);
await closeOcr();

// Tesseract, side by side on the same pages (300 dpi renders), when installed.
const tesseract = spawnSync('tesseract', ['--version'], { encoding: 'utf8' });
if (tesseract.status !== 0) {
  console.log('\ntesseract: not installed (apt-get install -y tesseract-ocr), skipped');
} else {
  const tessOut = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-tess-bench-'));
  let tessMs = 0;
  let tessPages = 0;
  for (const id of ids) {
    const texts = [];
    for await (const png of renderPagePng(pdfs.get(id), 300)) {
      const file = path.join(tessOut, 'page.png');
      fs.writeFileSync(file, png);
      t = performance.now();
      texts.push(execFileSync('tesseract', [file, 'stdout', '-l', 'eng'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
      tessMs += performance.now() - t;
      tessPages++;
    }
    fs.writeFileSync(path.join(tessOut, `${id}.md`), texts.join('\n'));
  }
  const tessScores = score(tessOut);
  const tessMean = [...tessScores.values()].reduce((a, b) => a + b, 0) / tessScores.size;
  console.log(
    `\n${tesseract.stdout.split('\n')[0]} (eng, 300 dpi): mean cer ${tessMean.toFixed(4)}, ${(tessMs / tessPages / 1000).toFixed(2)} s/page`,
  );
  console.log(ids.map((id) => `${id} ${tessScores.get(id).toFixed(4)}`).join(', '));
  fs.rmSync(tessOut, { recursive: true, force: true });
}
fs.rmSync(out, { recursive: true, force: true });

/** Every page of a PDF as a PNG at `dpi` (tesseract reads images). */
async function* renderPagePng(bytes, dpi) {
  const { createCanvas } = await import('@napi-rs/canvas');
  const { loadPdf } = await import(path.join(root, 'dist/engine/load/pdf.js'));
  const { pdf, close } = await loadPdf(bytes);
  try {
    for (let i = 1; i <= pdf.numPages; i++) {
      const page = await pdf.getPage(i);
      const viewport = page.getViewport({ scale: dpi / 72 });
      const canvas = createCanvas(Math.floor(viewport.width), Math.floor(viewport.height));
      const context = canvas.getContext('2d');
      context.fillStyle = '#ffffff';
      context.fillRect(0, 0, canvas.width, canvas.height);
      await page.render({ canvasContext: context, canvas, viewport }).promise;
      yield canvas.toBuffer('image/png');
      page.cleanup();
    }
  } finally {
    await close();
  }
}

/** CER per scanned document, from `docmark eval` (exit 1 when an output is missing: read its JSON anyway). */
function score(predDir) {
  const res = spawnSync(process.execPath, [path.join(root, 'bin/docmark.js'), 'eval', corpus, predDir, '--json', '--only', ids.join(',')], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const json = JSON.parse(res.stdout);
  return new Map(json.documents.filter((d) => d.kind === 'text' && !d.missing).map((d) => [d.id, d.scores.cer]));
}
