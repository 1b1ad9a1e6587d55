#!/usr/bin/env node
// Quality and speed on the dev corpus (test/fixtures/corpus), docmark beside its peers in the same
// run: @opendocsg/pdf2md, unpdf's extractText (plain text) and poppler's pdftotext (one process per
// file, start-up included: the practical limit). Scores with bench/score.mjs, prints the table and
// writes bench/RESULTS.md. Needs `npm run build` first (npm run bench does it).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { scoreCorpus } from './score.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const corpus = path.join(root, 'test/fixtures/corpus');
const outRoot = path.join(here, 'out', 'quality');
const manifest = JSON.parse(fs.readFileSync(path.join(corpus, 'manifest.json'), 'utf8'));
const docs = manifest.documents.filter((d) => d.kind === 'digital');
const ids = docs.map((d) => d.id);

/** Each peer: name → a loader of convert(bytes, file) returning Markdown/text, or null when unavailable. */
const PEERS = {
  docmark: loadDocmark,
  pdf2md: loadPdf2md,
  'unpdf extractText': loadUnpdf,
  pdftotext: loadPdftotext,
};

// Each converter runs in a child process of its own: pdfjs builds patch globals (the legacy
// build's polyfills), so converters sharing a process would slow each other down.
const peerArg = process.argv.indexOf('--peer');
if (peerArg !== -1) {
  const name = process.argv[peerArg + 1];
  const convert = await PEERS[name]();
  process.stdout.write(JSON.stringify(convert ? await runPeer(name, convert) : null));
  process.exit(0);
}

const results = [];
for (const name of Object.keys(PEERS)) {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--peer', name], { encoding: 'utf8', maxBuffer: 16 << 20 });
  const run = child.status === 0 ? JSON.parse(child.stdout || 'null') : null;
  if (!run) {
    console.log(`${name}: not available, skipped${child.status ? ` (${child.stderr.trim().split('\n').pop()})` : ''}`);
    continue;
  }
  const { summary } = scoreCorpus(corpus, run.dir, { only: ids });
  results.push({ name, ...run, pagesPerSecond: (run.pages / run.seconds), ...summary.digital });
  console.log(`${name}: ${run.pages} pages in ${run.seconds.toFixed(1)} s`);
}

async function runPeer(name, convert) {
  const dir = path.join(outRoot, name.replace(/\W+/g, '-'));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  // One untimed conversion first: module loading and JIT warm-up are not per-page costs.
  if (name !== 'pdftotext') await convert(new Uint8Array(fs.readFileSync(path.join(corpus, docs[0].pdf))), path.join(corpus, docs[0].pdf));
  let pages = 0;
  let ms = 0;
  for (const d of docs) {
    const file = path.join(corpus, d.pdf);
    const bytes = new Uint8Array(fs.readFileSync(file));
    const started = performance.now();
    const out = await convert(bytes, file);
    ms += performance.now() - started;
    pages += d.pages;
    fs.writeFileSync(path.join(dir, `${d.id}.md`), out);
  }
  return { dir, pages, seconds: ms / 1000 };
}

const cols = ['text', 'head', 'headLvl', 'tables', 'cells', 'lists', 'code', 'order', 'hf'];
const fmt = (v) => (v == null ? '-' : v.toFixed(3));
const table = [
  `| converter | ${cols.join(' | ')} | pages/s |`,
  `| --- | ${cols.map(() => '---:').join(' | ')} | ---: |`,
  ...results.map((r) => `| ${r.name} | ${cols.map((c) => fmt(r[c])).join(' | ')} | ${r.pagesPerSecond.toFixed(1)} |`),
].join('\n');
console.log(`\n${table}\n`);

const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
fs.writeFileSync(
  path.join(here, 'RESULTS.md'),
  `# Quality and speed on the dev corpus\n\n` +
    `\`npm run bench -- quality\`, ${date} UTC, ${docs.length} born-digital documents (${results[0]?.pages ?? 0} pages) of ` +
    `\`test/fixtures/corpus\`, scored with \`bench/score.mjs\` (means over documents; see the corpus README). ` +
    `pages/s: one document at a time, each converter in a process of its own after one untimed warm-up document (pdftotext: one process per file, start-up included), on a shared 2-core machine; figures move with the machine's load, compare within one run.\n\n${table}\n`,
);

async function loadDocmark() {
  const { convertPdf } = await import(path.join(root, 'dist/engine/convert.js'));
  return async (bytes) => (await convertPdf(bytes, {})).output;
}

async function loadPdf2md() {
  try {
    const mod = await import('@opendocsg/pdf2md');
    const pdf2md = mod.default ?? mod;
    return async (bytes) => pdf2md(bytes);
  } catch {
    return null;
  }
}

async function loadUnpdf() {
  try {
    const { extractText, getDocumentProxy } = await import('unpdf');
    return async (bytes) => {
      const pdf = await getDocumentProxy(bytes);
      try {
        return (await extractText(pdf, { mergePages: true })).text;
      } finally {
        await pdf.destroy();
      }
    };
  } catch {
    return null;
  }
}

function loadPdftotext() {
  const probe = spawnSync('pdftotext', ['-v'], { encoding: 'utf8' });
  if (probe.error) return null; // not installed: `apt-get install -y poppler-utils`
  return async (_bytes, file) => {
    const res = spawnSync('pdftotext', ['-layout', '-enc', 'UTF-8', file, '-'], { encoding: 'utf8', maxBuffer: 64 << 20 });
    return res.stdout ?? '';
  };
}
