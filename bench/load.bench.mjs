// `npm run bench -- load`: the service as `npm start` sets it up (ops/start.mjs: real PM2, the
// ecosystem file, every default but the port) in a throw-away PM2_HOME, under client load at
// concurrency 1, 2, 4 and 8. Two workloads: the scanned corpus (10 scans, 24 pages), and a mix of
// the scans with 10 born-digital documents. For each: pages/s, p50/p95 latency, failures (any
// answer but 200, after honouring 503 + Retry-After) and process exits (PM2 restarts, by cause
// from the restart log: planned ones, conversion limit or schedule, are part of the defaults).
//
// Targets: 0 failures and 0 unplanned exits at every concurrency; pages/s at `docmark batch`'s default
// concurrency (/health capacity.concurrency + capacity.instances) ≥ 0.9 × the best
// measured; p95 of a 3-page scan at that concurrency ≤ 3 × its median time alone (concurrency 1).
//
//   LOAD_CONCURRENCY="1,2,4,8"   LOAD_WORKLOADS="scans,mix"
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CORPUS = path.join(ROOT, 'test/fixtures/corpus');
const PM2 = path.join(ROOT, 'node_modules/.bin/pm2');
const levels = (process.env.LOAD_CONCURRENCY ?? '1,2,4,8').split(',').map(Number);
const workloads = (process.env.LOAD_WORKLOADS ?? 'scans,mix').split(',');
/** A client gives up on a request after this long (a lost request, not a slow one). */
const REQUEST_TIMEOUT_MS = 600_000;

const manifest = JSON.parse(fs.readFileSync(path.join(CORPUS, 'manifest.json'), 'utf8'));
const scans = manifest.documents.filter((d) => d.kind === 'scanned');
const digital = manifest.documents.filter((d) => d.kind === 'digital').slice(0, 10);
const load = (d) => ({ id: d.id, kind: d.kind, pages: d.pages, bytes: fs.readFileSync(path.join(CORPUS, d.pdf)) });
const WORKLOADS = {
  scans: scans.map(load),
  // Interleaved: a scan, a born-digital document, and so on.
  mix: scans.flatMap((s, i) => [load(s), ...(digital[i] ? [load(digital[i])] : [])]),
};

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-bench-load-'));
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DOCMARK_') && k !== 'pm_id' && k !== 'NODE_APP_INSTANCE'));
Object.assign(env, { PM2_HOME: home, PM2_DISABLE_VERSION_CHECK: '1', DOCMARK_PORT: String(await freePort()) });
const url = `http://127.0.0.1:${env.DOCMARK_PORT}`;

const pm2 = (args) =>
  new Promise((resolve) => execFile(PM2, args, { cwd: ROOT, env, maxBuffer: 32 * 1024 * 1024 }, (err, stdout) => resolve(err ? '' : stdout)));

async function tearDown() {
  await pm2(['kill']);
  fs.rmSync(home, { recursive: true, force: true });
}
// Stopped half-way (Ctrl-C, a timeout): the PM2 daemon of this run goes too.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.log(`\n${signal}: stopping the bench's PM2`);
    void tearDown().then(() => process.exit(1));
  });
}

async function restarts() {
  const out = await pm2(['jlist']);
  const list = JSON.parse(out.slice(out.indexOf('[')) || '[]');
  return list.filter((p) => p.name === 'docmark').reduce((n, p) => n + p.pm2_env.restart_time, 0);
}

function restartCauses() {
  const file = path.join(home, 'logs', 'docmark-restarts.jsonl');
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l).cause);
}

const PLANNED = new Set(['conversion_limit', 'cron']);

function convert(doc) {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = http.request(
      `${url}/convert`,
      {
        method: 'POST',
        agent: false,
        timeout: REQUEST_TIMEOUT_MS,
        headers: { 'content-type': 'application/pdf', 'content-length': String(doc.bytes.length) },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const retryAfter = Number(res.headers['retry-after']);
          resolve({
            status: res.statusCode,
            retryAfter,
            ms: performance.now() - started,
            body: Buffer.concat(chunks).toString('utf8').slice(0, 200),
          });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', (err) => resolve({ status: err.code ?? err.message, ms: performance.now() - started }));
    req.end(doc.bytes);
  });
}

/** One pass over `docs` at `concurrency`; 503s are retried after Retry-After, as clients should. */
async function pass(docs, concurrency) {
  const queue = [...docs];
  const results = [];
  let retried = 0;
  const started = performance.now();
  const loop = async () => {
    for (let doc = queue.shift(); doc; doc = queue.shift()) {
      const first = performance.now();
      let r = await convert(doc);
      while (r.status === 503) {
        retried++;
        await new Promise((resolve) => setTimeout(resolve, (r.retryAfter || 1) * 1000));
        r = await convert(doc);
      }
      results.push({ doc, ...r, ms: performance.now() - first });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { results, retried, seconds: (performance.now() - started) / 1000 };
}

const quantile = (values, q) => {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
};
const s = (ms) => (ms / 1000).toFixed(1);

try {
  const start = spawn(process.execPath, [path.join(ROOT, 'ops/start.mjs')], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const code = await new Promise((resolve) => start.once('exit', resolve));
  if (code !== 0) throw new Error(`ops/start.mjs exited ${code}`);
  const health = await (await fetch(`${url}/health`)).json();
  const capacity = health.capacity ?? { concurrency: health.converter.workers };
  console.log(`npm start's defaults on ${os.availableParallelism()} cores: ${JSON.stringify(capacity)}`);
  // Warm-up: every instance converts a scan once (workers load pdfjs, then the OCR models).
  await pass([...WORKLOADS.scans.slice(0, 2), ...WORKLOADS.scans.slice(0, 2)], 2);

  for (const name of workloads) {
    const docs = WORKLOADS[name];
    const pages = docs.reduce((n, d) => n + d.pages, 0);
    console.log(`\n${name}: ${docs.length} documents, ${pages} pages`);
    const rows = [];
    for (const concurrency of levels) {
      const restartsBefore = await restarts();
      const causesBefore = restartCauses().length;
      const r = await pass(docs, concurrency);
      const exits = (await restarts()) - restartsBefore;
      const causes = restartCauses().slice(causesBefore);
      const unplanned = causes.filter((c) => !PLANNED.has(c));
      const failed = r.results.filter((x) => x.status !== 200);
      const latencies = r.results.map((x) => x.ms);
      const threePage = r.results.filter((x) => x.doc.kind === 'scanned' && x.doc.pages === 3).map((x) => x.ms);
      const row = { concurrency, pagesPerS: pages / r.seconds, threePage, failed, exits, unplanned };
      rows.push(row);
      console.log(
        `  concurrency ${concurrency}: ${(pages / r.seconds).toFixed(3)} pages/s, ${r.seconds.toFixed(0)} s; latency p50 ${s(quantile(latencies, 0.5))} s, p95 ${s(quantile(latencies, 0.95))} s; ` +
          `3-page scans p50 ${s(quantile(threePage, 0.5))} s, p95 ${s(quantile(threePage, 0.95))} s; failures ${failed.length}; 503 retried ${r.retried}; ` +
          `exits ${exits} (${causes.join(', ') || 'none'})`,
      );
      for (const f of failed) console.log(`    failed: ${f.doc.id} ${f.status} ${f.body ?? ''}`);
    }
    const best = rows.reduce((a, b) => (b.pagesPerS > a.pagesPerS ? b : a));
    // docmark batch's default: one request waiting per instance beside those it converts.
    const batchDefault = capacity.concurrency + (capacity.instances ?? 1);
    const byDefault = rows.find((x) => x.concurrency === batchDefault);
    const alone = rows.find((x) => x.concurrency === 1);
    console.log(
      `  targets: failures ${rows.reduce((n, x) => n + x.failed.length, 0)} (0), unplanned exits ${rows.reduce((n, x) => n + x.unplanned.length, 0)} (0)`,
    );
    if (byDefault) {
      console.log(
        `  default concurrency ${batchDefault}: ${byDefault.pagesPerS.toFixed(3)} pages/s = ${(byDefault.pagesPerS / best.pagesPerS).toFixed(2)} × the best (concurrency ${best.concurrency}) (≥ 0.9)`,
      );
    }
    // PM2 hands connections to the instances in turn, whatever their load: with exactly one request
    // per worker in flight, a request can land on a busy instance while another idles.
    const onePerWorker = rows.find((x) => x.concurrency === capacity.concurrency);
    if (onePerWorker && onePerWorker !== byDefault) {
      console.log(
        `  concurrency ${onePerWorker.concurrency} (capacity.concurrency alone): ${onePerWorker.pagesPerS.toFixed(3)} pages/s = ${(onePerWorker.pagesPerS / best.pagesPerS).toFixed(2)} × the best`,
      );
    }
    if (byDefault && alone?.threePage.length) {
      const ratio = quantile(byDefault.threePage, 0.95) / quantile(alone.threePage, 0.5);
      console.log(`  3-page scan: p95 at the default concurrency = ${ratio.toFixed(2)} × its median alone (≤ 3)`);
    }
  }
} finally {
  await tearDown();
}
