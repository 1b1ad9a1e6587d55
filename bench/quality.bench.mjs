#!/usr/bin/env node
// Quality and speed on the dev corpus (test/fixtures/corpus), docmark beside its peers in the same
// run: @opendocsg/pdf2md, unpdf's extractText (plain text, its own bundled pdfjs), the plain text of
// docmark's own pdfjs (getTextContent on every page: what structure costs on top of it) and
// poppler's pdftotext (one process per file, start-up included: the practical limit). Scores with
// bench/score.mjs, prints the table and writes bench/RESULTS.md. Needs `npm run build` first (npm
// run bench does it).
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
/** Timed passes over the corpus: the first is reported as cold, the median of the rest as warm. */
const PASSES = Number(process.env.DOCMARK_BENCH_PASSES ?? 5);

/** Each peer: name → a loader of convert(bytes, file) returning Markdown/text, or null when unavailable. */
const PEERS = {
  docmark: loadDocmark,
  pdf2md: loadPdf2md,
  'unpdf extractText': loadUnpdf,
  'pdfjs-dist getTextContent': loadPdfjsText,
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
  // pdftotext starts a process per file in every pass: its cold figure is its pass time.
  const cold = name === 'pdftotext' ? run.passes[0] : run.coldSeconds;
  results.push({ name, ...run, pagesPerSecond: run.pages / run.seconds, coldPagesPerSecond: run.pages / cold, ...summary.digital });
  console.log(`${name}: ${run.pages} pages, passes ${run.passes.map((x) => x.toFixed(2)).join(' / ')} s`);
}

async function runPeer(name, convert) {
  const dir = path.join(outRoot, name.replace(/\W+/g, '-'));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const inputs = docs.map((d) => ({ d, file: path.join(corpus, d.pdf), bytes: fs.readFileSync(path.join(corpus, d.pdf)) }));
  const passes = [];
  let pages = 0;
  let coldSeconds = 0;
  for (let pass = 0; pass < PASSES; pass++) {
    let ms = 0;
    pages = 0;
    for (const { d, file, bytes } of inputs) {
      const input = new Uint8Array(bytes);
      const started = performance.now();
      const out = await convert(input, file);
      ms += performance.now() - started;
      pages += d.pages;
      if (pass === 0) fs.writeFileSync(path.join(dir, `${d.id}.md`), out);
    }
    // The first pass, timed from the process's start: start-up, module loading and a cold JIT.
    if (pass === 0) coldSeconds = performance.now() / 1000;
    passes.push(ms / 1000);
  }
  // Warm: the median of the later passes, what a long-running service sees.
  const warm = passes.length > 1 ? passes.slice(1).sort((a, b) => a - b) : passes;
  return { dir, pages, seconds: warm[Math.floor((warm.length - 1) / 2)], coldSeconds, passes };
}

const cols = ['text', 'head', 'headLvl', 'tables', 'cells', 'lists', 'code', 'order', 'hf'];
const fmt = (v) => (v == null ? '-' : v.toFixed(3));
const table = [
  `| converter | ${cols.join(' | ')} | pages/s warm | pages/s cold |`,
  `| --- | ${cols.map(() => '---:').join(' | ')} | ---: | ---: |`,
  ...results.map(
    (r) => `| ${r.name} | ${cols.map((c) => fmt(r[c])).join(' | ')} | ${r.pagesPerSecond.toFixed(1)} | ${r.coldPagesPerSecond.toFixed(1)} |`,
  ),
].join('\n');
console.log(`\n${table}\n`);

const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
fs.writeFileSync(
  path.join(here, 'RESULTS.md'),
  `# Quality and speed on the dev corpus\n\n` +
    `\`npm run bench -- quality\`, ${date} UTC, ${docs.length} born-digital documents (${results[0]?.pages ?? 0} pages) of ` +
    `\`test/fixtures/corpus\`, scored with \`bench/score.mjs\` (means over documents; see the corpus README). ` +
    `Each converter runs in a process of its own, one document at a time, ${PASSES} passes over the corpus. ` +
    `**cold**: the first pass timed from the process's start (start-up, module loading, cold JIT: one process converting the corpus once). ` +
    `**warm**: the median of the later passes (a long-running service). pdftotext starts a process per file in every pass. ` +
    `A shared 2-core machine: figures move with its load, compare within one run. ` +
    `\`pdfjs-dist getTextContent\` is docmark's own pdfjs (${pdfjsVersion()}, legacy build, same options) reading every page's text and nothing else: the floor under docmark's pages/s; unpdf bundles pdfjs ${unpdfPdfjsVersion()}.\n\n${table}\n`,
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

async function loadPdfjsText() {
  const { loadPdf } = await import(path.join(root, 'dist/engine/load/pdf.js'));
  return async (bytes) => {
    const { pdf, close } = await loadPdf(bytes);
    try {
      const pages = [];
      for (let i = 1; i <= pdf.numPages; i++) {
        const page = await pdf.getPage(i);
        const { items } = await page.getTextContent();
        pages.push(items.map((item) => ('str' in item ? item.str + (item.hasEOL ? '\n' : '') : '')).join(''));
        page.cleanup();
      }
      return pages.join('\n\n');
    } finally {
      await close();
    }
  };
}

function pdfjsVersion() {
  return JSON.parse(fs.readFileSync(path.join(root, 'node_modules/pdfjs-dist/package.json'), 'utf8')).version;
}

function unpdfPdfjsVersion() {
  const text = fs.readFileSync(path.join(root, 'node_modules/unpdf/dist/pdfjs.mjs'), 'utf8');
  return text.match(/apiVersion:"(\d+\.\d+\.\d+)"/)?.[1] ?? '(unknown)';
}

function loadPdftotext() {
  const probe = spawnSync('pdftotext', ['-v'], { encoding: 'utf8' });
  if (probe.error) return null; // not installed: `apt-get install -y poppler-utils`
  return async (_bytes, file) => {
    const res = spawnSync('pdftotext', ['-layout', '-enc', 'UTF-8', file, '-'], { encoding: 'utf8', maxBuffer: 64 << 20 });
    return res.stdout ?? '';
  };
}
