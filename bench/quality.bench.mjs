#!/usr/bin/env node
// Quality and speed, docmark beside its peers in the same run: @opendocsg/pdf2md, unpdf's
// extractText (plain text, its own bundled pdfjs), the plain text of docmark's own pdfjs
// (getTextContent on every page: what structure costs on top of it) and poppler's pdftotext (one
// process per file, start-up included: the practical limit). Two sets of born-digital documents:
// the dev corpus (test/fixtures/corpus, Chromium) and, when the team's shared folder is beside the
// repository, ../shared/corpus-typeset (LaTeX and Writer), each timed over several passes in wall
// time and in CPU time (the process's, so a loaded machine counts less against it).
// Scored with docmark's own evaluation (src/eval, `docmark eval`); when ../shared/bench/score.mjs
// is there too, the shared scorer scores the same outputs and the largest difference per metric
// is printed. Prints the tables and writes bench/RESULTS.md. Needs `npm run build` first (npm run
// bench does it).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const shared = path.resolve(root, '..', 'shared');
const outRoot = path.join(here, 'out', 'quality');
/** Timed passes over each set: the first is reported as cold, the median of the rest as warm. */
const PASSES = Number(process.env.DOCMARK_BENCH_PASSES ?? 5);
const TYPESET_PASSES = Number(process.env.DOCMARK_BENCH_TYPESET_PASSES ?? 4);

const SETS = [
  { name: 'corpus', dir: path.join(root, 'test/fixtures/corpus'), passes: PASSES },
  { name: 'corpus-typeset', dir: path.join(shared, 'corpus-typeset'), passes: TYPESET_PASSES },
].filter((s) => fs.existsSync(path.join(s.dir, 'manifest.json')));

/** The speed targets (issue 15): warm, docmark at least this many times pdf2md, and at most this many times unpdf's time. */
const TARGET_OVER_PDF2MD = 2;
const TARGET_UNPDF_TIME = 1.1;

/** Each peer: name → a loader of convert(bytes, file) returning Markdown/text, or null when unavailable. */
const PEERS = {
  docmark: loadDocmark,
  pdf2md: loadPdf2md,
  'unpdf extractText': loadUnpdf,
  'pdfjs-dist getTextContent': loadPdfjsText,
  pdftotext: loadPdftotext,
};

const { listDocuments, outputPath } = await import(pathToFileURL(path.join(root, 'dist/eval/corpus.js')).href);
const { evaluate } = await import(pathToFileURL(path.join(root, 'dist/eval/evaluate.js')).href);

const RESULT_MARK = '@docmark-bench-result ';

// Each converter runs in a child process of its own: pdfjs builds patch globals (the legacy
// build's polyfills), so converters sharing a process would slow each other down.
const peerArg = process.argv.indexOf('--peer');
if (peerArg !== -1) {
  const name = process.argv[peerArg + 1];
  const set = SETS.find((s) => s.name === process.argv[process.argv.indexOf('--set') + 1]);
  const convert = await PEERS[name]();
  // On a line of its own after a marker: pdfjs builds print warnings on stdout.
  process.stdout.write(`\n${RESULT_MARK}${JSON.stringify(convert ? await runPeer(name, set, convert) : null)}\n`);
  process.exit(0);
}

/** The shared scorer's names for the same metrics. */
const SHARED_NAMES = {
  text: 'text',
  headings: 'head',
  heading_levels: 'headLvl',
  tables: 'tables',
  cells: 'cells',
  lists: 'lists',
  code: 'code',
  order: 'order',
  furniture: 'hf',
};

const COLS = ['text', 'headings', 'heading_levels', 'tables', 'cells', 'lists', 'code', 'order', 'furniture'];
const fmt = (v) => (v == null ? '-' : v.toFixed(3));
const sections = [];
const agreement = [];
const reference = await loadSharedScorer();

for (const set of SETS) {
  const docs = markdownDocs(set);
  console.log(`\n--- ${set.name}: ${docs.length} born-digital documents, ${set.passes} pass(es)`);
  const results = [];
  for (const name of Object.keys(PEERS)) {
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--peer', name, '--set', set.name], {
      encoding: 'utf8',
      maxBuffer: 16 << 20,
    });
    const line = child.stdout.split('\n').findLast((l) => l.startsWith(RESULT_MARK));
    const run = child.status === 0 && line ? JSON.parse(line.slice(RESULT_MARK.length)) : null;
    if (!run) {
      console.log(`${name}: not available, skipped${child.status ? ` (${child.stderr.trim().split('\n').pop()})` : ''}`);
      continue;
    }
    const { means } = await evaluate(docs, readOutput(run.dir));
    // pdftotext starts a process per file in every pass: its cold figure is its pass time.
    const cold = name === 'pdftotext' ? run.passes[0] : run.coldSeconds;
    results.push({ name, ...run, pagesPerSecond: run.pages / run.seconds, coldPagesPerSecond: run.pages / cold, scores: means.markdown.scores });
    console.log(
      `${name}: ${run.pages} pages, passes ${run.passes.map((x) => x.toFixed(2)).join(' / ')} s, CPU ${run.cpuPasses.map((x) => x.toFixed(2)).join(' / ')} s`,
    );
    if (reference) agreement.push({ set: set.name, peer: name, ...(await compareWithShared(set, docs, run.dir)) });
  }
  const timed = set.passes > 1;
  const table = [
    `| converter | ${COLS.join(' | ')} |${timed ? ' pages/s warm | pages/s cold |' : ''}`,
    `| --- | ${COLS.map(() => '---:').join(' | ')} |${timed ? ' ---: | ---: |' : ''}`,
    ...results.map(
      (r) =>
        `| ${r.name} | ${COLS.map((c) => fmt(r.scores[c])).join(' | ')} |` +
        (timed ? ` ${r.pagesPerSecond.toFixed(1)} | ${r.coldPagesPerSecond.toFixed(1)} |` : ''),
    ),
  ].join('\n');
  const speed = timed ? speedTable(results) : '';
  console.log(`\n${table}\n${speed ? `\n${speed}\n` : ''}`);
  sections.push({ set, docs, pages: results[0]?.pages ?? 0, table, speed });
}

let agreementText = '';
if (reference) {
  const maxOf = (key) => Math.max(0, ...agreement.map((a) => a[key]));
  agreementText =
    `Agreement with the shared scorer (\`../shared/bench/score.mjs\`) on these outputs (${agreement.length} converter × set runs): ` +
    `largest difference of a mean ${maxOf('meanDiff').toExponential(1)}, of one document's score ${maxOf('docDiff').toExponential(1)} ` +
    `(${agreement.map((a) => `${a.set}/${a.peer} ${a.docDiff.toExponential(1)}`).join(', ')}).`;
  console.log(agreementText);
} else {
  console.log('(../shared/bench/score.mjs not found: agreement with the shared scorer not checked)');
}

const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
fs.writeFileSync(
  path.join(here, 'RESULTS.md'),
  `# Quality and speed\n\n` +
    `\`npm run bench -- quality\`, ${date} UTC. Born-digital documents only, scored with \`docmark eval\`'s metrics ` +
    `(src/eval; means over documents, see docs/cli.md). Each converter runs in a process of its own, one document at a time. ` +
    `**cold**: the first pass timed from the process's start (start-up, module loading, cold JIT: one process converting the set once). ` +
    `**warm**: the median of the later passes (a long-running service). pdftotext starts a process per file in every pass. ` +
    `**CPU s**: the converter process's CPU time over a warm pass (all its threads; pdftotext's children are not counted), ` +
    `steadier than wall time on a shared machine. ` +
    `A shared 2-core machine: figures move with its load, compare within one run. ` +
    `\`pdfjs-dist getTextContent\` is docmark's own pdfjs (${pdfjsVersion()}, legacy build, same options) reading every page's text and nothing else: the floor under docmark's pages/s; unpdf bundles pdfjs ${unpdfPdfjsVersion()}.\n\n` +
    sections
      .map(
        (s) =>
          `## ${s.set.name}\n\n${s.docs.length} documents (${s.pages} pages), ${s.set.passes} pass${s.set.passes > 1 ? 'es' : ''}` +
          `${s.set.name === 'corpus' ? ' (`test/fixtures/corpus`)' : ' (`../shared/corpus-typeset`)'}.\n\n${s.table}\n` +
          (s.speed ? `\n${s.speed}\n` : ''),
      )
      .join('\n') +
    (agreementText ? `\n${agreementText}\n` : ''),
);

function markdownDocs(set) {
  return listDocuments(set.dir).filter((d) => d.kind === 'markdown');
}

function readOutput(dir) {
  return async (doc) => {
    try {
      return { output: fs.readFileSync(outputPath(dir, doc), 'utf8') };
    } catch {
      return { missing: 'no output' };
    }
  };
}

async function runPeer(name, set, convert) {
  const dir = path.join(outRoot, set.name, name.replace(/\W+/g, '-'));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const manifest = JSON.parse(fs.readFileSync(path.join(set.dir, 'manifest.json'), 'utf8'));
  const pagesOf = new Map(manifest.documents.map((d) => [d.id, d.pages]));
  const inputs = markdownDocs(set).map((d) => ({ d, bytes: fs.readFileSync(d.pdf) }));
  const passes = [];
  const cpuPasses = [];
  let pages = 0;
  let coldSeconds = 0;
  for (let pass = 0; pass < set.passes; pass++) {
    let ms = 0;
    let cpu = 0;
    pages = 0;
    for (const { d, bytes } of inputs) {
      const input = new Uint8Array(bytes);
      const started = performance.now();
      const cpuStarted = process.cpuUsage();
      const out = await convert(input, d.pdf);
      const used = process.cpuUsage(cpuStarted);
      ms += performance.now() - started;
      cpu += (used.user + used.system) / 1e6;
      pages += pagesOf.get(d.id) ?? 0;
      if (pass === 0) fs.writeFileSync(outputPath(dir, d), out);
    }
    // The first pass, timed from the process's start: start-up, module loading and a cold JIT.
    if (pass === 0) coldSeconds = performance.now() / 1000;
    passes.push(ms / 1000);
    cpuPasses.push(cpu);
  }
  // Warm: the median of the later passes, what a long-running service sees.
  return { dir, pages, seconds: warmOf(passes), cpuSeconds: warmOf(cpuPasses), coldSeconds, passes, cpuPasses };
}

/** The median of the passes after the first (the only one when there is one). */
function warmOf(passes) {
  const warm = passes.length > 1 ? passes.slice(1).sort((a, b) => a - b) : passes;
  return warm[Math.floor((warm.length - 1) / 2)];
}

/**
 * Warm speed in wall time and in CPU time (this process's; pdftotext's runs in its children and is
 * not counted), and docmark's against the targets: at least TARGET_OVER_PDF2MD times pdf2md's
 * pages/s, and at most TARGET_UNPDF_TIME times unpdf's time.
 */
function speedTable(results) {
  const docmark = results.find((r) => r.name === 'docmark');
  const ratio = (a, b) => (a && b ? `${a.toFixed(2)}×` : '-');
  const rows = results.map((r) => {
    const cpu = r.name === 'pdftotext' ? null : r.cpuSeconds;
    const versus = docmark && r !== docmark;
    return (
      `| ${r.name} | ${r.seconds.toFixed(2)} | ${r.pagesPerSecond.toFixed(1)} | ${cpu == null ? '-' : cpu.toFixed(2)} | ` +
      `${cpu == null ? '-' : (r.pages / cpu).toFixed(1)} | ${versus ? ratio(r.seconds / docmark.seconds, 1) : ''} | ` +
      `${versus && cpu != null ? ratio(cpu / docmark.cpuSeconds, 1) : ''} |`
    );
  });
  const lines = [
    "| converter (warm) | s | pages/s | CPU s | pages per CPU s | its time over docmark's | its CPU over docmark's |",
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
  ];
  const peer = (name) => results.find((r) => r.name === name);
  const pdf2md = peer('pdf2md');
  const unpdf = peer('unpdf extractText');
  if (docmark && pdf2md) {
    lines.push(
      '',
      `docmark against pdf2md (target ≥ ${TARGET_OVER_PDF2MD}×): ${(pdf2md.seconds / docmark.seconds).toFixed(2)}× its speed, ` +
        `${(pdf2md.cpuSeconds / docmark.cpuSeconds).toFixed(2)}× in CPU time.`,
    );
  }
  if (docmark && unpdf) {
    lines.push(
      '',
      `docmark's time over unpdf extractText's (target ≤ ${TARGET_UNPDF_TIME}): ${(docmark.seconds / unpdf.seconds).toFixed(2)} in wall time, ` +
        `${(docmark.cpuSeconds / unpdf.cpuSeconds).toFixed(2)} in CPU time.`,
    );
  }
  return lines.join('\n');
}

async function loadSharedScorer() {
  const file = path.join(shared, 'bench', 'score.mjs');
  return fs.existsSync(file) ? import(pathToFileURL(file).href) : null;
}

/** Largest |ours − shared| over the means and over single documents, every metric. */
async function compareWithShared(set, docs, dir) {
  const ids = docs.map((d) => d.id);
  const theirs = reference.scoreCorpus(set.dir, dir, { only: ids });
  const ours = await evaluate(docs, readOutput(dir));
  let meanDiff = 0;
  let docDiff = 0;
  for (const [mine, name] of Object.entries(SHARED_NAMES)) {
    meanDiff = Math.max(meanDiff, Math.abs((ours.means.markdown.scores[mine] ?? 0) - (theirs.summary.digital[name] ?? 0)));
    for (const row of theirs.rows) {
      const doc = ours.documents.find((d) => d.id === row.id);
      const a = doc?.scores[mine] ?? null;
      const b = row[name] ?? null;
      docDiff = Math.max(docDiff, a === null || b === null ? (a === b ? 0 : 1) : Math.abs(a - b));
    }
  }
  return { meanDiff, docDiff };
}

async function loadDocmark() {
  const { convertPdf } = await import(pathToFileURL(path.join(root, 'dist/engine/convert.js')).href);
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
  const { loadPdf } = await import(pathToFileURL(path.join(root, 'dist/engine/load/pdf.js')).href);
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
