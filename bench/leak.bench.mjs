#!/usr/bin/env node
// Leak benchmark (`npm run bench:leak`): N conversions (default 1000) of the corpus PDFs
// through ONE server process (`docmark serve`, compiled dist/) with no restarts, as many
// at a time as there are workers. Prints the server's RSS and main-thread heap after a
// warm-up and at the end, and the slope per 100 conversions (least squares over samples
// taken every 25 conversions). Target: RSS growth ≤ 50 MB over the run (mean over the last
// worker-recycling cycle against the mean over the first one after the warm-up); exits 1 if missed.
//
//   LEAK_CONVERSIONS=1000  LEAK_WARMUP=200  DOCMARK_WORKERS=…  (other DOCMARK_* pass through)
//   LEAK_SNAPSHOT_DIR=/tmp/snaps  also writes heap snapshots of the server's main thread after
//   the warm-up and at the end (compare them in Chrome DevTools → Memory).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const corpusDir = path.join(root, 'test/fixtures/corpus');
const TOTAL = Number(process.env.LEAK_CONVERSIONS ?? 1000);
// Past the first worker recycling (2 workers × 100 tasks): the steady state starts there.
const WARMUP = Number(process.env.LEAK_WARMUP ?? 200);
const SAMPLE_EVERY = 25;
const TARGET_MB = 50;

const files = fs
  .readdirSync(corpusDir)
  .filter((f) => f.endsWith('.pdf') && !f.includes('.scanned.'))
  .sort()
  .map((f) => ({ name: f, bytes: fs.readFileSync(path.join(corpusDir, f)) }));

const SNAPSHOT_DIR = process.env.LEAK_SNAPSHOT_DIR;

function startServer() {
  const flags = SNAPSHOT_DIR ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${SNAPSHOT_DIR}`] : [];
  const child = spawn(process.execPath, [...flags, path.join(root, 'bin/docmark.js'), 'serve'], {
    cwd: root,
    env: { ...process.env, DOCMARK_HOST: '127.0.0.1', DOCMARK_PORT: '0', DOCMARK_MAX_CONVERSIONS: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error('server did not start within 60 s')), 60_000);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      buffered += chunk;
      for (let nl; (nl = buffered.indexOf('\n')) !== -1; ) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let msg;
        try {
          msg = JSON.parse(line);
        } catch {
          continue;
        }
        if (msg.msg === 'listening') {
          clearTimeout(timer);
          resolve({ child, url: msg.url });
        } else if (msg.level === 'error' || msg.level === 'warn') {
          console.log(`server ${msg.level}: ${msg.msg}`);
        }
      }
    });
  });
}

function request(url, method, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: body ? { 'content-type': 'application/pdf', 'content-length': body.length } : {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const health = async (url) => JSON.parse((await request(`${url}/health`, 'GET')).body);
const mb = (n) => n.toFixed(1).padStart(7);

function slopePer100(points) {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const num = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const den = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 100;
}

/** SIGUSR2 → the server writes Heap.<date>.<pid>…heapsnapshot (after a full GC). */
async function snapshot(at) {
  fs.mkdirSync(SNAPSHOT_DIR, { recursive: true });
  const before = new Set(fs.readdirSync(SNAPSHOT_DIR));
  child.kill('SIGUSR2');
  const deadline = Date.now() + 120_000;
  for (;;) {
    const fresh = fs.readdirSync(SNAPSHOT_DIR).filter((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
    // Written in one go at the end; wait until its size settles.
    if (fresh.length) {
      const file = path.join(SNAPSHOT_DIR, fresh[0]);
      const size = fs.statSync(file).size;
      await new Promise((r) => setTimeout(r, 500));
      if (size > 0 && fs.statSync(file).size === size) {
        console.log(`heap snapshot after ${at}: ${file}`);
        return;
      }
    }
    if (Date.now() > deadline) throw new Error('no heap snapshot within 120 s');
    await new Promise((r) => setTimeout(r, 200));
  }
}

const { child, url } = await startServer();
const first = await health(url);
const concurrency = Number(first.converter.workers ?? 1);
console.log(
  `server pid ${first.pid}, ${concurrency} workers (recycled every ${process.env.DOCMARK_WORKER_MAX_TASKS ?? 100} tasks), ${files.length} corpus PDFs, ${TOTAL} conversions, warm-up ${WARMUP}`,
);
console.log(`start:            rss ${mb(first.memory.rss_mb)} MB   heap ${mb(first.memory.heap_used_mb)} MB`);

const samples = [];
let done = 0;
let failures = 0;
let started = 0;
const t0 = Date.now();

async function loop() {
  while (started < TOTAL) {
    const file = files[started++ % files.length];
    const res = await request(`${url}/convert`, 'POST', file.bytes);
    if (res.status !== 200) {
      failures++;
      console.log(`${file.name}: ${res.status} ${res.body.slice(0, 200)}`);
    }
    const at = ++done; // the other loops go on while this one samples
    if (at % SAMPLE_EVERY === 0) {
      if (SNAPSHOT_DIR && (at === WARMUP || at === TOTAL)) await snapshot(at);
      const h = await health(url);
      samples.push({ at, rss: h.memory.rss_mb, heap: h.memory.heap_used_mb, converter: h.converter });
      if (at % 100 === 0) {
        const workerHeaps = h.converter.worker_heap_mb ? `   worker heaps ${h.converter.worker_heap_mb.join('/')} MB` : '';
        console.log(
          `after ${String(at).padStart(5)}:      rss ${mb(h.memory.rss_mb)} MB   heap ${mb(h.memory.heap_used_mb)} MB   recycled ${h.converter.recycled}${workerHeaps}`,
        );
      }
    }
  }
}

try {
  await Promise.all(Array.from({ length: concurrency }, loop));
} finally {
  child.kill('SIGTERM');
}
const seconds = (Date.now() - t0) / 1000;
samples.sort((a, b) => a.at - b.at);
const steady = samples.filter((s) => s.at >= WARMUP);
const warm = steady[0];
const end = samples[samples.length - 1];
const rssSlope = slopePer100(steady.map((s) => ({ x: s.at, y: s.rss })));
const heapSlope = slopePer100(steady.map((s) => ({ x: s.at, y: s.heap })));
// RSS rises and falls with each worker recycling, so single samples depend on where in the
// cycle they fall (right after a recycling vs half-way): compare the mean over one recycling
// cycle after the warm-up with the mean over the last one (halves of the run when workers are
// recycled less often than that).
const recycleEvery = concurrency * Number(process.env.DOCMARK_WORKER_MAX_TASKS || 100);
const cycle = Math.max(SAMPLE_EVERY, Math.min(recycleEvery, Math.floor((TOTAL - WARMUP) / 2)));
const meanRss = (from, to) => {
  const window = steady.filter((s) => s.at > from && s.at <= to);
  return window.reduce((sum, s) => sum + s.rss, 0) / Math.max(1, window.length);
};
const firstCycle = meanRss(WARMUP, WARMUP + cycle);
const lastCycle = meanRss(end.at - cycle, end.at);
const growth = Math.round(lastCycle - firstCycle);
const peak = Math.max(...steady.map((s) => s.rss));

console.log('');
console.log(
  `conversions:      ${done} in ${seconds.toFixed(0)} s (${(done / seconds).toFixed(1)}/s), ${failures} failed, workers recycled ${end.converter.recycled}`,
);
console.log(`after warm-up (${warm.at}): rss ${mb(warm.rss)} MB   heap ${mb(warm.heap)} MB`);
console.log(`at the end (${end.at}):  rss ${mb(end.rss)} MB   heap ${mb(end.heap)} MB   (peak rss ${peak} MB)`);
console.log(
  `cycle means:      rss ${firstCycle.toFixed(0)} MB over ${WARMUP}–${WARMUP + cycle}, ${lastCycle.toFixed(0)} MB over ${end.at - cycle}–${end.at}`,
);
console.log(
  `slope per 100:    rss ${rssSlope >= 0 ? '+' : ''}${rssSlope.toFixed(2)} MB   heap ${heapSlope >= 0 ? '+' : ''}${heapSlope.toFixed(2)} MB`,
);
console.log(
  `rss growth:       ${growth >= 0 ? '+' : ''}${growth} MB (target ≤ ${TARGET_MB} MB): ${growth <= TARGET_MB && failures === 0 ? 'PASS' : 'FAIL'}`,
);
process.exit(growth <= TARGET_MB && failures === 0 ? 0 : 1);
