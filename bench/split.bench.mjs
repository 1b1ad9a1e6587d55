#!/usr/bin/env node
// Big documents across workers (`npm run bench -- split`): one long scanned document (the
// corpus's scans repeated to SPLIT_BENCH_PAGES pages, default 300, built in a temp folder) posted
// to a real `docmark serve` with DOCMARK_WORKERS=1, then 2 (one OCR thread each, so that both
// use the same threads per page). Prints wall time, the server's CPU time and the speed-up, and
// checks that both answers are the same. Wall time needs a quiet machine; CPU time says whether
// the split costs extra work (each worker loads the file and reads the text layer of the pages
// before its share).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { repeatPages } from './repeat-pdf.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const corpus = path.join(root, 'test/fixtures/corpus');
const pages = Number(process.env.SPLIT_BENCH_PAGES ?? 300);
const CLOCK_TICKS = 100; // USER_HZ: /proc times are in 1/100 s

const scans = fs
  .readdirSync(corpus)
  .filter((f) => f.endsWith('.scanned.pdf'))
  .sort()
  .map((f) => path.join(corpus, f));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-split-bench-'));
try {
  const bytes = await repeatPages(scans, pages);
  const warm = fs.readFileSync(scans[0]);
  console.log(
    `${pages} scanned pages (${(bytes.length / 1024 / 1024).toFixed(1)} MB, from ${scans.length} scans); ${os.cpus().length} cores, load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const runs = [];
  for (const workers of [1, 2]) {
    const server = await startServer(workers);
    try {
      // Every worker loads its OCR models before the clock starts (one conversion each, at once).
      await Promise.all(Array.from({ length: workers }, () => convert(server, warm)));
      const cpu0 = cpuSeconds(server.pid);
      const t0 = performance.now();
      const body = await convert(server, bytes);
      const wall = (performance.now() - t0) / 1000;
      const cpu = cpuSeconds(server.pid) - cpu0;
      const shared = server.logs().includes('sharing a conversion with idle workers');
      runs.push({ workers, wall, cpu, output: JSON.parse(body).output });
      console.log(
        `DOCMARK_WORKERS=${workers}: ${wall.toFixed(1)} s wall, ${cpu.toFixed(1)} s CPU (${(wall / pages).toFixed(2)} s/page)${shared ? ', shared between workers' : ''}`,
      );
    } finally {
      await server.stop();
    }
  }
  const [one, two] = runs;
  console.log(
    `speed-up with 2 workers: ${(one.wall / two.wall).toFixed(2)}× wall (target ≥ 1.7×), CPU ${(two.cpu / one.cpu).toFixed(2)}× of one worker's`,
  );
  console.log(`same output: ${one.output === two.output ? 'yes' : 'NO'}`);
  if (one.output !== two.output) process.exitCode = 1;
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

async function startServer(workers) {
  const child = spawn(process.execPath, [path.join(root, 'bin/docmark.js'), 'serve'], {
    cwd: root,
    env: {
      ...process.env,
      DOCMARK_HOST: '127.0.0.1',
      DOCMARK_PORT: '0',
      DOCMARK_WORKERS: String(workers),
      DOCMARK_OCR_THREADS: '1',
      DOCMARK_INSTANCES: '1',
      DOCMARK_TIMEOUT_S: '86400',
      DOCMARK_MAX_PAGES: String(Math.max(pages, 1000)),
      DOCMARK_DATA_DIR: path.join(tmp, `data-${workers}`),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (out += chunk));
  const url = await new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const m = out.match(/"msg":"listening","url":"([^"]+)"/);
      if (m) {
        clearInterval(timer);
        resolve(m[1]);
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`server exited (${code}) before listening`));
    });
  });
  return {
    url,
    pid: child.pid,
    logs: () => out,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

/** POST with node:http: fetch gives up waiting for headers after 5 minutes. */
function convert(server, bytes) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${server.url}/convert?output_format=markdown`,
      { method: 'POST', headers: { 'Content-Type': 'application/pdf' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c) => (body += c));
        res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}: ${body.slice(0, 300)}`))));
      },
    );
    req.on('error', reject);
    req.end(Buffer.from(bytes));
  });
}

function cpuSeconds(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
