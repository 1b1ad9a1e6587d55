#!/usr/bin/env node
// OCR benchmark (`npm run bench -- ocr`): what a user waits for on a scanned page. Starts
// `docmark serve` as a user runs it (one worker, DOCMARK_OCR_THREADS=2 unless set), warms it up
// with one page, then posts every scanned PDF of each set once, one request at a time, and
// prints per document: seconds per page (wall, and the server's CPU), CER against the ground
// truth, and the low-confidence pages the server reported; per set: median and worst document
// s/page, mean CER; and the server process's peak RSS. Tesseract (Debian's tesseract-ocr) reads
// the same pages in the same run, document by document interleaved with docmark so that both
// see the same machine load; skipped with a message when it is not installed.
//
// Sets: test/fixtures/corpus by default; OCR_BENCH_SETS=dir1,dir2 adds (or, with
// OCR_BENCH_ONLY_SETS=1, replaces them with) folders of <id>.scanned.pdf + <id>.scanned.txt.
// OCR_BENCH_PAGES=N (default 0) then posts N more pages and prints the server's RSS growth.
// OCR_BENCH_STAGES=1 adds a profile: one warm pass over the same documents in this process, with
// the CPU time (all threads) of each OCR stage per page, from src/ocr/stages.ts.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
// Scored as `docmark eval` scores a scan: character error rate against the page's plain text.
const { scoreOutput } = await import(path.join(root, 'dist/eval/score.js'));

const extraSets = (process.env.OCR_BENCH_SETS ?? '').split(',').filter(Boolean);
const sets = [
  ...(process.env.OCR_BENCH_ONLY_SETS === '1' ? [] : [path.join(root, 'test/fixtures/corpus')]),
  ...extraSets.map((s) => path.resolve(s)),
];
const growthPages = Number(process.env.OCR_BENCH_PAGES ?? 0);
const threads = process.env.DOCMARK_OCR_THREADS ?? '2';
const TESSERACT_DPI = 300;
const CLOCK_TICKS = 100; // USER_HZ on Linux: /proc times are in 1/100 s
const mb = (kb) => (kb / 1024).toFixed(0);

const server = await startServer();
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => server.stop().then(() => process.exit(130)));
try {
  const warm = fs.readFileSync(path.join(sets[0], scannedIds(sets[0])[0] + '.pdf'));
  await convert(warm, '0');
  const tesseract = tesseractVersion();
  console.log(
    `docmark serve: 1 worker, DOCMARK_OCR_THREADS=${threads}, warm; ${os.cpus().length} cores, load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  console.log(
    tesseract
      ? `reference: ${tesseract} (eng, ${TESSERACT_DPI} dpi renders, its own threads)`
      : 'tesseract: not installed (apt-get install -y tesseract-ocr), skipped',
  );
  for (const dir of sets) await benchSet(dir, tesseract);
  if (growthPages > 0) await memoryGrowth(sets[0]);
  if (process.env.OCR_BENCH_STAGES === '1') for (const dir of sets) await stageProfile(dir);
  console.log(`\nserver process peak RSS (one worker, whole process): ${mb(procStatus(server.pid, 'VmHWM'))} MB`);
} finally {
  await server.stop();
}

async function benchSet(dir, tesseract) {
  const ids = scannedIds(dir);
  console.log(`\n${dir} (${ids.length} scanned documents)`);
  console.log(`${'document'.padEnd(30)}pages  s/page  cpu s/page  cer     low-confidence${tesseract ? '   tesseract s/page  cpu s/page  cer' : ''}`);
  const rows = [];
  for (const id of ids) {
    const bytes = fs.readFileSync(path.join(dir, `${id}.pdf`));
    const truth = fs.readFileSync(path.join(dir, `${id}.txt`), 'utf8');
    const cpu0 = procCpu(server.pid);
    const t0 = performance.now();
    const result = await convert(bytes);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = procCpu(server.pid) - cpu0;
    const pages = result.metadata.pages;
    const row = {
      id,
      pages,
      perPage: seconds / pages,
      cpuPerPage: cpu / pages,
      cer: cer(truth, result.output),
      low: result.metadata.low_confidence_pages ?? [],
    };
    if (tesseract) Object.assign(row, await runTesseract(bytes, truth));
    rows.push(row);
    console.log(
      `${id.padEnd(30)}${String(pages).padEnd(7)}${row.perPage.toFixed(2).padEnd(8)}${row.cpuPerPage.toFixed(2).padEnd(12)}${row.cer.toFixed(4).padEnd(8)}${(JSON.stringify(row.low) || '').padEnd(17)}` +
        (tesseract ? `${row.tessPerPage.toFixed(2).padEnd(18)}${row.tessCpuPerPage.toFixed(2).padEnd(12)}${row.tessCer.toFixed(4)}` : ''),
    );
  }
  const pages = rows.reduce((s, r) => s + r.pages, 0);
  const summary = (key) => `median ${median(rows.map((r) => r[key])).toFixed(2)}, worst ${Math.max(...rows.map((r) => r[key])).toFixed(2)}`;
  const total = (key) => rows.reduce((s, r) => s + r[key] * r.pages, 0) / pages;
  console.log(
    `docmark: ${pages} pages, s/page by document ${summary('perPage')} (all pages ${total('perPage').toFixed(2)}); ` +
      `cpu s/page ${summary('cpuPerPage')}; mean cer ${mean(rows.map((r) => r.cer)).toFixed(4)}`,
  );
  if (tesseract) {
    console.log(
      `tesseract: s/page by document ${summary('tessPerPage')} (all pages ${total('tessPerPage').toFixed(2)}); cpu s/page ${summary('tessCpuPerPage')}; ` +
        `mean cer ${mean(rows.map((r) => r.tessCer)).toFixed(4)}; docmark/tesseract time ${(total('perPage') / total('tessPerPage')).toFixed(2)}`,
    );
  }
}

/** CPU seconds per page in each OCR stage, in this process (warm), over every scanned document of a set. */
async function stageProfile(dir) {
  const { convertPdf } = await import(path.join(root, 'dist/engine/convert.js'));
  const { setStageSink } = await import(path.join(root, 'dist/ocr/stages.js'));
  const { setOcrThreads } = await import(path.join(root, 'dist/ocr/threads.js'));
  setOcrThreads(Number(threads));
  const ids = scannedIds(dir);
  await convertPdf(new Uint8Array(fs.readFileSync(path.join(dir, `${ids[0]}.pdf`))), { pageRange: [0] });
  const totals = new Map();
  setStageSink((stage, cpuMicros) => totals.set(stage, (totals.get(stage) ?? 0) + cpuMicros / 1e6));
  let pages = 0;
  const cpu0 = process.cpuUsage();
  try {
    for (const id of ids) pages += (await convertPdf(new Uint8Array(fs.readFileSync(path.join(dir, `${id}.pdf`))))).metadata.pages;
  } finally {
    setStageSink(undefined);
  }
  const used = process.cpuUsage(cpu0);
  const all = (used.user + used.system) / 1e6 / pages;
  console.log(`\nstage profile, ${dir}: ${pages} pages in this process, CPU s/page (all threads), DOCMARK_OCR_THREADS=${threads}`);
  for (const [stage, seconds] of totals)
    console.log(`  ${stage.padEnd(18)}${(seconds / pages).toFixed(3)}  ${((100 * seconds) / pages / all).toFixed(1).padStart(5)} %`);
  const staged = [...totals.values()].reduce((a, b) => a + b, 0) / pages;
  console.log(`  ${'rest (layout...)'.padEnd(18)}${(all - staged).toFixed(3)}  ${((100 * (all - staged)) / all).toFixed(1).padStart(5)} %`);
  console.log(`  ${'total'.padEnd(18)}${all.toFixed(3)}`);
}

/** RSS of the server after N more OCR'd pages: a leak shows as growth once the working set is reached. */
async function memoryGrowth(dir) {
  const pdfs = scannedIds(dir).map((id) => fs.readFileSync(path.join(dir, `${id}.pdf`)));
  const before = procStatus(server.pid, 'VmRSS');
  let done = 0;
  for (let i = 0; done < growthPages; i++) done += (await convert(pdfs[i % pdfs.length])).metadata.pages;
  const after = procStatus(server.pid, 'VmRSS');
  console.log(`\nmemory: server RSS ${mb(before)} MB before ${done} more OCR'd pages, ${mb(after)} MB after (growth ${mb(after - before)} MB)`);
}

async function convert(bytes, pageRange) {
  const url = `${server.url}/convert${pageRange === undefined ? '' : `?page_range=${pageRange}`}`;
  const res = await fetch(url, { method: 'POST', body: bytes, headers: { 'content-type': 'application/pdf' } });
  const body = await res.json();
  if (!res.ok || !body.success) throw new Error(`convert failed: ${res.status} ${JSON.stringify(body.error ?? body)}`);
  return body;
}

async function runTesseract(bytes, truth) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-tess-'));
  try {
    const pngs = await renderPages(bytes, TESSERACT_DPI, dir);
    const texts = [];
    const cpu0 = childrenCpu();
    const t0 = performance.now();
    for (const png of pngs)
      texts.push(execFileSync('tesseract', [png, 'stdout', '-l', 'eng'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = childrenCpu() - cpu0;
    return { tessPerPage: seconds / pngs.length, tessCpuPerPage: cpu / pngs.length, tessCer: cer(truth, texts.join('\n')) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Every page of a PDF as a PNG file at `dpi` (tesseract reads images), rendered by docmark's pdfjs. */
async function renderPages(bytes, dpi, dir) {
  const { createCanvas } = await import('@napi-rs/canvas');
  const { loadPdf } = await import(path.join(root, 'dist/engine/load/pdf.js'));
  const { pdf, close } = await loadPdf(new Uint8Array(bytes));
  const files = [];
  try {
    for (let i = 1; i <= pdf.numPages; i++) {
      const page = await pdf.getPage(i);
      const viewport = page.getViewport({ scale: dpi / 72 });
      const canvas = createCanvas(Math.floor(viewport.width), Math.floor(viewport.height));
      const context = canvas.getContext('2d');
      context.fillStyle = '#ffffff';
      context.fillRect(0, 0, canvas.width, canvas.height);
      await page.render({ canvasContext: context, canvas, viewport }).promise;
      const file = path.join(dir, `page-${i}.png`);
      fs.writeFileSync(file, canvas.toBuffer('image/png'));
      files.push(file);
      page.cleanup();
    }
  } finally {
    await close();
  }
  return files;
}

function tesseractVersion() {
  const res = spawnSync('tesseract', ['--version'], { encoding: 'utf8' });
  return res.status === 0 ? (res.stdout || res.stderr).split('\n')[0] : undefined;
}

function scannedIds(dir) {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.scanned.pdf') && fs.existsSync(path.join(dir, f.replace(/\.pdf$/, '.txt'))))
    .map((f) => f.replace(/\.pdf$/, ''))
    .sort();
}

/** CPU seconds (user + system) a process has used, all its threads. */
function procCpu(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** CPU seconds used by this process's finished children (tesseract runs). */
function childrenCpu() {
  const fields = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
}

/** A /proc/<pid>/status field in kB (VmRSS, VmHWM). */
function procStatus(pid, field) {
  const line = fs
    .readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return Number(line?.match(/\d+/)?.[0] ?? 0);
}

function cer(truth, predicted) {
  return scoreOutput(truth, predicted, 'text').cer;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function mean(values) {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** `docmark serve` on a free loopback port, one worker; resolves once it listens. */
async function startServer() {
  const child = spawn(process.execPath, [path.join(root, 'bin/docmark.js'), 'serve'], {
    cwd: root,
    env: {
      ...process.env,
      DOCMARK_HOST: '127.0.0.1',
      DOCMARK_PORT: '0',
      DOCMARK_WORKERS: '1',
      DOCMARK_OCR_THREADS: threads,
      DOCMARK_TIMEOUT_S: process.env.DOCMARK_TIMEOUT_S ?? '600',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error('server did not start within 60 s')), 60_000);
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before listening`)));
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      buffered += chunk;
      for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const log = JSON.parse(line);
          if (log.msg === 'listening') {
            clearTimeout(timer);
            resolve(log.url);
          }
        } catch {
          // not a JSON log line
        }
      }
    });
  });
  return {
    url,
    pid: child.pid,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
