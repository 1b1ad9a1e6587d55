#!/usr/bin/env node
// Scans made worse on purpose, to see whether OCR holds up on pages unlike the dev scans:
// `node bench/degrade-scans.mjs [source] [out]` reads every <id>.scanned.pdf of `source`
// (test/fixtures/corpus by default) and writes, under `out` (a temp folder by default), one folder
// per kind of damage with each document's pages re-rendered that way, beside a copy of its
// <id>.scanned.txt ground truth:
//   skew    turned 2.5°
//   faded   grey paper and faded ink (contrast 0.45)
//   noisy   turned 0.8°, contrast 0.8, grain of ±40 grey levels
//   low     110 dpi instead of 200
// Then score them with the OCR bench, e.g.
//   OCR_BENCH_ONLY_SETS=1 OCR_BENCH_SETS=out/skew,out/faded,out/noisy,out/low npm run bench -- ocr
// or `docmark eval out/skew`. Deterministic: the grain comes from a fixed seed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PDFDocument } from 'pdf-lib';
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';
import { renderTurned } from './page-scan.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.resolve(process.argv[2] ?? path.join(root, 'test/fixtures/corpus'));
const out = path.resolve(process.argv[3] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-degraded-')));

const DAMAGE = {
  skew: { degrees: 2.5, dpi: 200, contrast: 1, grain: 0 },
  faded: { degrees: 0, dpi: 200, contrast: 0.45, grain: 0 },
  noisy: { degrees: 0.8, dpi: 200, contrast: 0.8, grain: 40 },
  low: { degrees: 0, dpi: 110, contrast: 1, grain: 0 },
};
/** How grey the paper turns as contrast falls (grey levels at contrast 0). */
const PAPER_GREY = 60;

const ids = fs
  .readdirSync(source)
  .filter((f) => f.endsWith('.scanned.pdf'))
  .map((f) => f.slice(0, -'.pdf'.length));
if (ids.length === 0) {
  console.error(`no <id>.scanned.pdf in ${source}`);
  process.exit(2);
}

for (const [kind, damage] of Object.entries(DAMAGE)) {
  const dir = path.join(out, kind);
  fs.mkdirSync(dir, { recursive: true });
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (const id of ids) {
    const bytes = new Uint8Array(fs.readFileSync(path.join(source, `${id}.pdf`)));
    const doc = await getDocument({ data: bytes, isEvalSupported: false }).promise;
    const damaged = await PDFDocument.create();
    for (let n = 1; n <= doc.numPages; n++) {
      const page = await doc.getPage(n);
      const { canvas: turned, context, width, height } = await renderTurned(page, damage.dpi, damage.degrees);
      // Pixels are read and written in device space (this canvas applies the transform to putImageData).
      context.setTransform(1, 0, 0, 1, 0, 0);
      const image = context.getImageData(0, 0, width, height);
      const px = image.data;
      for (let i = 0; i < px.length; i += 4) {
        const grey = (px[i] + px[i + 1] + px[i + 2]) / 3;
        let v = 255 - (255 - grey) * damage.contrast - (1 - damage.contrast) * PAPER_GREY;
        if (damage.grain) v += (random() - 0.5) * 2 * damage.grain;
        px[i] = px[i + 1] = px[i + 2] = Math.max(0, Math.min(255, v));
      }
      context.putImageData(image, 0, 0);
      const png = await damaged.embedPng(await turned.encode('png'));
      const sheet = damaged.addPage([(width * 72) / damage.dpi, (height * 72) / damage.dpi]);
      sheet.drawImage(png, { x: 0, y: 0, width: sheet.getWidth(), height: sheet.getHeight() });
      page.cleanup();
    }
    await doc.destroy();
    fs.writeFileSync(path.join(dir, `${id}.pdf`), await damaged.save());
    fs.copyFileSync(path.join(source, `${id}.txt`), path.join(dir, `${id}.txt`));
  }
  console.log(`${kind}: ${ids.length} documents in ${dir}`);
}
