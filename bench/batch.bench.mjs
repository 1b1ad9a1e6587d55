// `npm run bench -- batch`: the batch client (`docmark batch`) against a plain local
// `docmark serve`, with tiny generated PDFs. Prints:
//   - the client's peak RSS at 100, 1000 and 5000 files (should be flat),
//   - throughput at --concurrency 1, 2 and 4,
//   - the client's overhead over converting the same files in-process.
// The client's peak RSS is its own (getrusage maxrss of the batch process, written by a
// preload at exit), not the server's.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PDFDocument, StandardFonts } from 'pdf-lib';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'bin/docmark.js');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-bench-batch-'));
const MAX_RSS_FILE = path.join(work, 'maxrss.cjs');
fs.writeFileSync(
  MAX_RSS_FILE,
  // At exit: the process's peak RSS, and its live heap after a full GC (a leak would show in both).
  `process.on('exit', () => { global.gc(); require('fs').writeSync(2, '\\nMAXRSS_KB=' + process.resourceUsage().maxRSS + ' HEAP_KB=' + Math.round(process.memoryUsage().heapUsed / 1024) + '\\n'); });\n`,
);

async function tinyPdf(i) {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const page = doc.addPage([612, 792]);
  page.drawText(`Bench document ${i}`, { x: 72, y: 720, size: 18, font });
  page.drawText(`A line of text that differs per file: item ${(i * 7919) % 10007}.`, { x: 72, y: 690, size: 11, font });
  return doc.save();
}

/** `count` PDFs in a two-level tree, hard-linked from one pool so only 5000 are generated. */
async function folder(name, count, pool) {
  const dir = path.join(work, name);
  for (let i = 0; i < count; i++) {
    const file = path.join(dir, `d${i % 10}`, `f${i}.pdf`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.linkSync(pool[i], file);
  }
  return dir;
}

function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'serve'], {
      env: { ...process.env, DOCMARK_HOST: '127.0.0.1', DOCMARK_PORT: '0', DOCMARK_CRON_RESTART: '' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let buf = '';
    child.stdout.setEncoding('utf8').on('data', (c) => {
      buf += c;
      const line = buf.split('\n').find((l) => l.includes('"listening"'));
      if (line) resolve({ child, url: JSON.parse(line).url });
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
}

function runBatch(input, out, server, concurrency) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(
      process.execPath,
      ['--expose-gc', '-r', MAX_RSS_FILE, CLI, 'batch', input, '--out', out, '--server', server, '--concurrency', String(concurrency)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
    child.once('exit', (code) => {
      const seconds = (performance.now() - started) / 1000;
      const rssKb = Number(/MAXRSS_KB=(\d+)/.exec(stderr)?.[1] ?? NaN);
      const heapKb = Number(/HEAP_KB=(\d+)/.exec(stderr)?.[1] ?? NaN);
      const converted = Number(/converted (\d+)/.exec(stdout)?.[1] ?? NaN);
      if (code !== 0) reject(new Error(`batch exited ${code}: ${stdout}${stderr}`));
      else resolve({ seconds, rssMb: rssKb / 1024, heapMb: heapKb / 1024, converted });
    });
  });
}

const fmt = (n, d = 1) => n.toFixed(d);

try {
  const t0 = performance.now();
  const pool = [];
  fs.mkdirSync(path.join(work, 'pool'));
  for (let i = 0; i < 5000; i++) {
    const file = path.join(work, 'pool', `p${i}.pdf`);
    fs.writeFileSync(file, await tinyPdf(i));
    pool.push(file);
  }
  console.log(`generated 5000 tiny PDFs in ${fmt((performance.now() - t0) / 1000)} s`);
  const server = await startServer();
  try {
    // Warm the server (first conversions load pdfjs in each worker thread).
    const warm = await folder('warm', 20, pool);
    await runBatch(warm, path.join(work, 'out-warm'), server.url, 4);

    console.log('\nclient peak RSS (getrusage maxrss of the batch process alone), --concurrency 4:');
    for (const n of [100, 1000, 5000]) {
      const input = await folder(`n${n}`, n, pool);
      const r = await runBatch(input, path.join(work, `out-n${n}`), server.url, 4);
      console.log(
        `  ${String(n).padStart(5)} files: peak RSS ${fmt(r.rssMb)} MB, live heap at exit ${fmt(r.heapMb)} MB, ${fmt(r.seconds)} s, ${fmt(r.converted / r.seconds)} files/s`,
      );
    }

    console.log('\nthroughput vs --concurrency (300 files, 1 page each):');
    const input = await folder('t300', 300, pool);
    let sequential;
    for (const c of [1, 2, 4]) {
      const r = await runBatch(input, path.join(work, `out-c${c}`), server.url, c);
      if (c === 1) sequential = r;
      console.log(`  concurrency ${c}: ${fmt(r.seconds)} s, ${fmt(r.converted / r.seconds)} files/s (= pages/s)`);
    }

    // In-process: the same 300 files, one after another, in this process.
    const { convertPdf } = await import(pathToFileURL(path.join(ROOT, 'dist/engine/convert.js')).href);
    await convertPdf(fs.readFileSync(pool[0])); // load pdfjs first, as the warm server has
    const s0 = performance.now();
    for (let i = 0; i < 300; i++) await convertPdf(fs.readFileSync(pool[i]));
    const inProcess = (performance.now() - s0) / 1000;
    const perFile = ((sequential.seconds - inProcess) / 300) * 1000;
    console.log(`\nin-process, sequential: 300 files in ${fmt(inProcess)} s (${fmt(300 / inProcess)} files/s)`);
    console.log(
      `client+HTTP overhead at --concurrency 1: ${fmt(perFile)} ms per file (${fmt(sequential.seconds)} s vs ${fmt(inProcess)} s, includes CLI start-up)`,
    );
  } finally {
    server.child.kill('SIGTERM');
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
