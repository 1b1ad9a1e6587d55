import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { advertisedConcurrency, totalConcurrency } from '../src/batch/preflight.ts';
import { parseRetryAfter, retryDelayMs } from '../src/batch/retry.ts';
import { ServerRotation } from '../src/batch/servers.ts';
import { convertPdf } from '../src/engine/convert.ts';
import { readJsonLines } from './helpers/jsonl.ts';
import { makePdf } from './helpers/pdf.ts';
import { freePort } from './helpers/pm2.ts';
import { CLI, CORPUS, ROOT, startServerProcess, type ServerProcess } from './helpers/server.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * `docmark batch` against the real service: the compiled CLI as a child process, the
 * server over HTTP on 127.0.0.1 — under a real PM2 (own PM2_HOME, own small ecosystem
 * file, 2 cluster instances recycled by conversion count and by memory) for the big run.
 */

const PM2_BIN = path.join(ROOT, 'node_modules/.bin/pm2');
const APP = 'docmark-batch-test';

interface ReportLine {
  file: string;
  output?: string;
  status: 'converted' | 'failed';
  pages?: number;
  failed_pages?: number[];
  attempts: number;
  retried?: Array<{ code: string; http_status?: number }>;
  server: string;
  error?: { code: string; message: string; http_status?: number };
}

interface BatchRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  done: Promise<number | null>;
}

/** Run the compiled `docmark batch …` (not a TTY: plain progress lines). */
function batch(args: string[], timeoutMs = 8 * 60_000): BatchRun {
  const child = spawn(process.execPath, [CLI, 'batch', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    }),
  );
  return { child, stdout: () => out, stderr: () => err, done };
}

const readReport = (outDir: string): ReportLine[] => readJsonLines<ReportLine>(path.join(outDir, '_report.jsonl'));

/** Every file under `dir`, relative, with `/` separators. */
function listFiles(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => fs.statSync(path.join(dir, f)).isFile())
    .map((f) => f.split(path.sep).join('/'))
    .sort();
}

const mdName = (rel: string): string => rel.replace(/\.pdf$/i, '') + '.md';

/**
 * `count` tiny PDFs with distinct text in a nested tree; every 200th has no .pdf name
 * (found by its signature). Returns rel path → bytes.
 */
async function makeCorpus(dir: string, count: number, prefix = 'doc'): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for (let i = 0; i < count; i++) {
    const rel = `set-${i % 7}/part-${i % 3}/${prefix}-${i}${i % 200 === 0 ? '.bin' : '.pdf'}`;
    const bytes = await makePdf([
      { heading: `${prefix} number ${i}`, paragraphs: [`This is ${prefix} ${i}, about item ${(i * 7919) % 10007} of the inventory.`] },
    ]);
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), bytes);
    files.set(rel, bytes);
  }
  return files;
}

/** POST one PDF as the raw body on a fresh connection; resolves to the status code. */
function postPdf(port: number, body: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/convert',
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/pdf', 'content-length': String(body.length) },
      },
      (res) => {
        res.resume().on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A real PM2 daemon in a throw-away PM2_HOME, running our own small ecosystem file. */
class Pm2Home {
  readonly home = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-batch-pm2-'));
  readonly appLog = path.join(this.home, 'app-out.log');
  port = 0;
  private readonly env: NodeJS.ProcessEnv;

  constructor() {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('DOCMARK_') || k === 'pm_id' || k === 'NODE_APP_INSTANCE') delete env[k];
    this.env = { ...env, PM2_HOME: this.home, PM2_WORKER_INTERVAL: '1000', PM2_DISABLE_VERSION_CHECK: '1' };
  }

  pm2(args: string[], timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(PM2_BIN, args, { cwd: ROOT, env: this.env, timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      });
    });
  }

  /** Start the app (2 cluster instances) with this memory limit; resolves when both serve. */
  async start(maxMemory: string, maxConversions: number): Promise<void> {
    this.port ||= await freePort();
    const file = path.join(this.home, `ecosystem-${Date.now()}.json`);
    const app = {
      name: APP,
      script: path.join(ROOT, 'dist/cli/main.js'),
      args: 'serve',
      cwd: ROOT,
      exec_mode: 'cluster',
      instances: 2,
      wait_ready: true,
      listen_timeout: 60_000,
      kill_timeout: 45_000,
      min_uptime: 1000,
      max_restarts: 50,
      max_memory_restart: maxMemory,
      merge_logs: true,
      out_file: this.appLog,
      error_file: path.join(this.home, 'app-err.log'),
      env: {
        DOCMARK_HOST: '127.0.0.1',
        DOCMARK_PORT: String(this.port),
        DOCMARK_MAX_CONVERSIONS: String(maxConversions),
        DOCMARK_INSTANCES: '2',
        DOCMARK_WORKERS: '1',
        DOCMARK_MIN_UPTIME_S: '2',
        DOCMARK_DRAIN_TIMEOUT_S: '30',
        DOCMARK_CRON_RESTART: '',
        DOCMARK_HOST_SAMPLE_S: '60',
        DOCMARK_PM2_NAME: APP,
        DOCMARK_RESTART_LOG: path.join(this.home, 'restarts.jsonl'),
        // The instances' recycle baton lives in os.tmpdir(): keep it in this folder.
        TMPDIR: this.home,
      },
    };
    fs.writeFileSync(file, JSON.stringify({ apps: [app] }, null, 2));
    const res = await this.pm2(['start', file]);
    if (res.code !== 0) throw new Error(`pm2 start failed: ${res.stderr || res.stdout}`);
    await this.waitOnline();
  }

  async instances(): Promise<Array<{ pid: number; status: string; memory: number }>> {
    const res = await this.pm2(['jlist']);
    const list = JSON.parse(res.stdout.slice(res.stdout.indexOf('['))) as Array<{
      name: string;
      pid: number;
      monit?: { memory: number };
      pm2_env: { status: string };
    }>;
    const apps = list.filter((p) => p.name === APP).map((p) => ({ pid: p.pid, status: p.pm2_env.status, memory: p.monit?.memory ?? 0 }));
    return apps;
  }

  waitOnline(): Promise<Array<{ pid: number; status: string; memory: number }>> {
    return waitFor(
      async () => {
        const online = (await this.instances()).filter((p) => p.status === 'online' && p.pid > 0);
        return online.length === 2 && this.listeningPids().filter((pid) => online.some((p) => p.pid === pid)).length === 2 ? online : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 300, what: 'two docmark instances online' },
    );
  }

  /** Pids that logged "listening" (the app writes JSON lines to stdout). */
  listeningPids(): number[] {
    return this.appLines()
      .filter((l) => l.msg === 'listening')
      .map((l) => Number(l.pid));
  }

  appLines(): Array<Record<string, unknown>> {
    if (!fs.existsSync(this.appLog)) return [];
    return fs
      .readFileSync(this.appLog, 'utf8')
      .split('\n')
      .flatMap((l) => {
        try {
          return [JSON.parse(l.slice(l.indexOf('{'))) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  }

  daemonLog(): string {
    const file = path.join(this.home, 'pm2.log');
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  }

  /** `pm2 kill` in this home, then SIGKILL what is left of ours, then remove the folder. */
  async destroy(): Promise<void> {
    // Only the instances alive right now: older pids may belong to someone else by now.
    const current = (await this.instances().catch(() => [])).map((p) => p.pid);
    await this.pm2(['kill'], 60_000);
    const pidFile = path.join(this.home, 'pm2.pid');
    const daemon = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8')) : 0;
    for (const pid of [daemon, ...current]) {
      try {
        if (pid > 0) process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    fs.rmSync(this.home, { recursive: true, force: true });
  }
}

describe('docmark batch under PM2 (2 cluster instances recycled by count and memory)', { timeout: 20 * 60_000 }, () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-batch-'));
  const input = path.join(work, 'pdfs');
  const out = path.join(work, 'out');
  const pm2 = new Pm2Home();
  const expected = new Map<string, string>(); // rel → Markdown of a direct in-process conversion
  let corpus: Map<string, Uint8Array>;
  let server = '';
  let memoryLimitMb = 0;

  before(async () => {
    corpus = await makeCorpus(input, 1020);
    fs.writeFileSync(path.join(input, 'notes.txt'), 'not a PDF, and not named like one\n');
    for (const [rel, bytes] of corpus) expected.set(rel, (await convertPdf(bytes)).output);

    // Measure an instance idle, then warm (after its first conversions), with no memory limit.
    await pm2.start('4000M', 0);
    const idle = Math.max(...(await pm2.instances()).map((p) => p.memory));
    const samples = [...corpus.values()].slice(0, 10);
    for (const pdf of samples) assert.equal(await postPdf(pm2.port, pdf), 200);
    const warm = Math.max(...(await pm2.instances()).map((p) => p.memory));
    assert.ok(warm - idle > 8 * 1024 * 1024, `converting should cost memory (idle ${idle}, warm ${warm})`);
    // An instance's RSS keeps creeping up a little with each conversion: a limit just above
    // "warm after ~5 conversions" is passed mid-life (before the conversion limit, usually),
    // not right after the first conversion, which would restart instances non-stop.
    memoryLimitMb = Math.round(warm / 1024 / 1024) + 4;
    assert.equal((await pm2.pm2(['delete', APP])).code, 0);
    await pm2.start(`${memoryLimitMb}M`, 20);
    server = `http://127.0.0.1:${pm2.port}`;
  });

  /** What the instances logged as errors (shown when a run fails). */
  const serverErrors = (): string =>
    pm2
      .appLines()
      .filter((l) => l.level === 'error' || l.level === 'warn')
      .map((l) => JSON.stringify(l))
      .join('\n');

  after(async () => {
    await pm2.destroy();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('converts 1020 PDFs exactly once while instances restart, each output equal to a direct conversion', async () => {
    const run = batch([input, '--out', out, '--server', server, '--concurrency', '4']);
    const code = await run.done;
    assert.equal(code, 0, `exit ${code}\n${run.stdout()}\n${run.stderr().slice(-3000)}\n${serverErrors()}`);

    const report = readReport(out);
    assert.equal(report.length, corpus.size, 'one report line per PDF');
    assert.deepEqual(
      report.filter((l) => l.status !== 'converted'),
      [],
    );
    assert.deepEqual(report.map((l) => l.file).sort(), [...corpus.keys()].sort(), 'every PDF exactly once, none lost');
    assert.deepEqual(listFiles(out), ['_report.jsonl', ...[...corpus.keys()].map(mdName)].sort(), 'only complete outputs, mirroring the tree');
    for (const [rel, md] of expected) assert.equal(fs.readFileSync(path.join(out, mdName(rel)), 'utf8'), md, rel);
    assert.ok(report.every((l) => l.pages === 1));
    assert.match(run.stdout(), /converted 1020, skipped 0 \(already done\), failed 0\n/);
    assert.match(run.stderr(), /docmark batch: 1020 PDFs to convert/);

    // The service really was recycled under the batch, both ways.
    const exits = pm2.appLines().filter((l) => l.msg === 'exiting' && l.reason === 'conversion_limit');
    assert.ok(exits.length >= 1, `conversion-limit exits: ${exits.length}`);
    const memoryRestarts = pm2.daemonLog().match(/exceeds --max-memory-restart value/g)?.length ?? 0;
    assert.ok(memoryRestarts >= 1, `memory restarts at ${memoryLimitMb}M: ${memoryRestarts}`);
    console.log(
      `# ${run.stdout().split('\n')[0]}; ${exits.length} conversion-limit exits, ${memoryRestarts} memory restarts (limit ${memoryLimitMb}M), ${report.filter((l) => l.attempts > 1).length} files retried`,
    );
  });

  it('a rerun converts nothing; after deleting 10 outputs it converts exactly those 10', async () => {
    const rerun = batch([input, '--out', out, '--server', server]);
    assert.equal(await rerun.done, 0, rerun.stderr());
    assert.match(rerun.stdout(), /converted 0, skipped 1020 \(already done\), failed 0\n/);
    assert.equal(readReport(out).length, corpus.size, 'nothing appended');

    const removed = [...corpus.keys()].filter((_, i) => i % 101 === 3).slice(0, 10);
    assert.equal(removed.length, 10);
    for (const rel of removed) fs.rmSync(path.join(out, mdName(rel)));
    const partial = batch([input, '--out', out, '--server', server]);
    assert.equal(await partial.done, 0, partial.stderr());
    assert.match(partial.stdout(), /converted 10, skipped 1010 \(already done\), failed 0\n/);
    const appended = readReport(out).slice(corpus.size);
    assert.deepEqual(appended.map((l) => l.file).sort(), removed.sort());
    assert.ok(appended.every((l) => l.status === 'converted'));
    for (const rel of removed) assert.equal(fs.readFileSync(path.join(out, mdName(rel)), 'utf8'), expected.get(rel));
  });

  it('kill -9 of an instance mid-batch: the batch still completes with 0 failures', async () => {
    // 300 of the PDFs (hard links), into a fresh output folder.
    const subset = path.join(work, 'subset');
    const chosen = [...corpus.keys()].slice(0, 300);
    for (const rel of chosen) {
      fs.mkdirSync(path.dirname(path.join(subset, rel)), { recursive: true });
      fs.linkSync(path.join(input, rel), path.join(subset, rel));
    }
    const killOut = path.join(work, 'out-kill');
    const run = batch([subset, '--out', killOut, '--server', server, '--concurrency', '4']);
    await waitFor(() => readReport(killOut).length >= 60, { timeoutMs: 180_000, intervalMs: 100, what: '60 files converted' });
    const victim = await waitFor(async () => (await pm2.instances()).find((p) => p.status === 'online' && p.pid > 0), {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: 'an online instance to kill',
    });
    process.kill(victim.pid, 'SIGKILL');
    const progressAtKill = readReport(killOut).length;
    const code = await run.done;
    assert.equal(code, 0, `exit ${code}\n${run.stdout()}\n${run.stderr().slice(-3000)}\n${serverErrors()}`);
    assert.ok(progressAtKill < chosen.length, `the kill happened mid-batch (${progressAtKill} done)`);
    const report = readReport(killOut);
    assert.equal(report.length, chosen.length);
    assert.ok(report.every((l) => l.status === 'converted'));
    assert.deepEqual(report.map((l) => l.file).sort(), chosen.sort());
    for (const rel of chosen) assert.equal(fs.readFileSync(path.join(killOut, mdName(rel)), 'utf8'), expected.get(rel), rel);
    // PM2 replaced the killed instance.
    await pm2.waitOnline();
    assert.ok(!(await pm2.instances()).some((p) => p.pid === victim.pid));
  });

  it('bad PDFs in the folder are failed with their 4xx reason (never retried); the rest convert', async () => {
    const mixed = path.join(work, 'mixed');
    const mixedOut = path.join(work, 'out-mixed');
    const good = [...corpus.entries()].slice(0, 20);
    for (const [rel, bytes] of good) {
      fs.mkdirSync(path.dirname(path.join(mixed, rel)), { recursive: true });
      fs.writeFileSync(path.join(mixed, rel), bytes);
    }
    const badNames = fs.readdirSync(path.join(CORPUS, 'bad')).filter((f) => f.endsWith('.pdf'));
    fs.mkdirSync(path.join(mixed, 'bad'));
    for (const f of badNames) fs.copyFileSync(path.join(CORPUS, 'bad', f), path.join(mixed, 'bad', f));

    const run = batch([mixed, '--out', mixedOut, '--server', server, '--concurrency', '3']);
    assert.equal(await run.done, 1, 'exit 1: some PDFs failed');
    const report = readReport(mixedOut);
    assert.equal(report.length, good.length + badNames.length);
    for (const [rel] of good) assert.equal(report.find((l) => l.file === rel)?.status, 'converted', rel);
    const bad = (name: string) => report.find((l) => l.file === `bad/${name}`)!;
    assert.equal(bad('not-a-pdf.pdf').error?.code, 'not_a_pdf');
    assert.equal(bad('not-a-pdf.pdf').error?.http_status, 415);
    assert.equal(bad('encrypted-user-password.pdf').error?.code, 'encrypted_pdf');
    assert.equal(bad('encrypted-user-password.pdf').error?.http_status, 422);
    assert.match(bad('empty.pdf').error?.code ?? '', /^(empty_file|no_file)$/);
    // Converted, except the page it could not read: recorded, and counted in the summary.
    assert.equal(bad('cyclic-page-tree.pdf').status, 'converted');
    assert.deepEqual(bad('cyclic-page-tree.pdf').failed_pages, [1]);
    assert.match(run.stdout(), /unreadable pages 1 in 1 converted files/);
    const failed = report.filter((l) => l.status === 'failed');
    assert.ok(failed.length >= 3);
    for (const l of failed) {
      assert.ok(l.file.startsWith('bad/'), `${l.file} should have converted`);
      assert.ok(l.error && l.error.http_status! >= 400 && l.error.http_status! < 500 && l.error.message.length > 0, JSON.stringify(l));
      // Instances restart under this batch, so an attempt may be cut off and retried first; the
      // 4xx itself ends the file's attempts.
      assert.equal(l.attempts, 1 + (l.retried?.length ?? 0), `${l.file}: attempts = retries + the 4xx`);
      for (const cause of l.retried ?? []) {
        assert.ok(cause.http_status === undefined || cause.http_status >= 500, `${l.file}: retried after ${JSON.stringify(cause)}`);
      }
      assert.ok(!fs.existsSync(path.join(mixedOut, mdName(l.file))), `${l.file}: no output for a failure`);
    }
    for (const l of report.filter((x) => x.status === 'converted')) assert.ok(fs.existsSync(path.join(mixedOut, l.output!)));
    const byCode: Record<string, number> = {};
    for (const l of failed) byCode[l.error!.code] = (byCode[l.error!.code] ?? 0) + 1;
    assert.match(run.stdout(), new RegExp(`failed ${failed.length} \\(`));
    for (const [c, n] of Object.entries(byCode)) assert.match(run.stdout(), new RegExp(`${c} ${n}`));
  });
});

/**
 * A front for `target` that passes its first connection through (the batch's /health check)
 * and then stops listening: a server that went away after the batch started.
 */
async function vanishingFront(target: string): Promise<{ url: string; connections: () => number }> {
  let connections = 0;
  const front = net.createServer((socket) => {
    connections++;
    front.close();
    const upstream = net.connect(Number(new URL(target).port), '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    const close = () => (socket.destroy(), upstream.destroy());
    socket.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(front.address() as net.AddressInfo).port}`, connections: () => connections };
}

describe('docmark batch against a plain server', { timeout: 10 * 60_000 }, () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-batch-plain-'));
  const input = path.join(work, 'pdfs');
  let corpus: Map<string, Uint8Array>;
  let srv: ServerProcess;

  before(async () => {
    corpus = await makeCorpus(input, 240, 'note');
    srv = await startServerProcess({ DOCMARK_WORKERS: '1' });
  });

  after(async () => {
    await srv?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('takes a server that goes away out of rotation and sends the work to the other one', async () => {
    const out = path.join(work, 'out-rotation');
    const front = await vanishingFront(srv.url);
    const run = batch([input, '-o', out, '--server', front.url, '--server', srv.url, '--concurrency', '4']);
    assert.equal(await run.done, 0, run.stderr());
    assert.equal(front.connections(), 1, 'the front answered the /health check, then went away');
    assert.match(run.stderr(), new RegExp(`server ${front.url.replace(/[.:/]/g, '\\$&')} is unreachable: out of rotation for \\d+ s`));
    const report = readReport(out);
    assert.equal(report.length, corpus.size);
    assert.ok(report.every((l) => l.status === 'converted' && l.server === srv.url));
    // Out of rotation means most files never tried the dead server at all.
    const retried = report.filter((l) => l.attempts > 1);
    assert.ok(retried.length >= 1 && retried.length < corpus.size / 4, `the dead server was tried, then skipped: ${retried.length} retried`);
    // Each retry is on the line with its cause: here, the dead server refusing the connection.
    for (const l of retried) assert.deepEqual(l.retried, Array(l.attempts - 1).fill({ code: 'ECONNREFUSED' }), JSON.stringify(l));
    assert.ok(report.filter((l) => l.attempts === 1).every((l) => l.retried === undefined));
  });

  it('asks every server first and stops at once when one does not answer', async () => {
    const out = path.join(work, 'out-preflight');
    const dead = `http://127.0.0.1:${await freePort()}`;
    const started = Date.now();
    const run = batch([input, '-o', out, '--server', srv.url, '--server', dead]);
    assert.equal(await run.done, 1, run.stderr());
    assert.ok(Date.now() - started < 15_000, `stopped after ${Date.now() - started} ms`);
    assert.equal(run.stderr(), `docmark: no docmark server at ${dead} (ECONNREFUSED) — start one with \`npm start\` or pass --server\n`);
    assert.ok(!fs.existsSync(out), 'nothing written');
    // Something that is not a docmark server is no server either.
    const other = http.createServer((_req, res) => res.writeHead(404).end('<html>not here</html>'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(other.address() as net.AddressInfo).port}`;
      const wrong = batch([input, '-o', out, '--server', url]);
      assert.equal(await wrong.done, 1);
      assert.match(wrong.stderr(), /no docmark server at .* \(its \/health answered HTTP 404, not JSON\)/);
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it('gives up when no server can be reached for --give-up seconds, leaving the files for a rerun', async () => {
    const out = path.join(work, 'out-give-up');
    const front = await vanishingFront(srv.url);
    const started = Date.now();
    const run = batch([input, '-o', out, '--server', front.url, '--give-up', '2']);
    assert.equal(await run.done, 1, run.stderr());
    assert.ok(Date.now() - started < 60_000, `gave up after ${Date.now() - started} ms`);
    assert.match(run.stdout(), /docmark batch: gave up after [\d.]+ s: no server could be reached for 2 s/);
    assert.match(run.stdout(), new RegExp(`converted 0, skipped 0 \\(already done\\), failed 0, left for a rerun ${corpus.size}`));
    assert.deepEqual(readReport(out), [], 'no file is failed for the server being away');
  });

  it('default concurrency: what the server advertises in /health, printed; --concurrency overrides it', async () => {
    const few = path.join(work, 'few-concurrency');
    for (const [rel, bytes] of [...corpus.entries()].slice(0, 2)) {
      fs.mkdirSync(path.dirname(path.join(few, rel)), { recursive: true });
      fs.writeFileSync(path.join(few, rel), bytes);
    }
    const run = batch([few, '-o', path.join(work, 'out-concurrency'), '--server', srv.url]);
    assert.equal(await run.done, 0, run.stderr());
    // One worker in one instance: that conversion, plus one request waiting for the instance.
    assert.match(
      run.stderr(),
      new RegExp(
        `^docmark batch: concurrency 2 \\(${srv.url.replace(/[.:/]/g, '\\$&')}: 1 at once \\(as it advertises\\) \\+ 1 waiting, one per instance\\)$`,
        'm',
      ),
    );
    const explicit = batch([few, '-o', path.join(work, 'out-concurrency-3'), '--server', srv.url, '-c', '3']);
    assert.equal(await explicit.done, 0, explicit.stderr());
    assert.match(explicit.stderr(), /^docmark batch: concurrency 3 \(--concurrency\)$/m);
  });

  it('report.pdf, report.PDF and an extension-less report: report.pdf keeps report.md, the others fail loudly, on every run', async () => {
    const clash = path.join(work, 'clash');
    fs.mkdirSync(clash);
    const [a, b, c] = [...corpus.values()];
    fs.writeFileSync(path.join(clash, 'report.PDF'), b);
    fs.writeFileSync(path.join(clash, 'report.pdf'), a);
    fs.writeFileSync(path.join(clash, 'report'), c);
    const out = path.join(work, 'out-clash');
    for (const pass of [1, 2]) {
      const run = batch([clash, '-o', out, '--server', srv.url]);
      assert.equal(await run.done, 1, run.stderr());
      assert.match(
        run.stdout(),
        new RegExp(`converted ${pass === 1 ? 1 : 0}, skipped ${pass === 1 ? 0 : 1} \\(already done\\), failed 2 \\(output_name_taken 2\\)`),
      );
    }
    assert.deepEqual(listFiles(out), ['_report.jsonl', 'report.md']);
    assert.equal(fs.readFileSync(path.join(out, 'report.md'), 'utf8'), (await convertPdf(a)).output);
    const failed = readReport(out).filter((l) => l.status === 'failed');
    assert.equal(failed.length, 4);
    assert.deepEqual(failed.map((l) => l.file).sort(), ['report', 'report', 'report.PDF', 'report.PDF']);
    assert.ok(
      failed.every(
        (l) => l.error?.code === 'output_name_taken' && / would be written to report\.md, like report\.pdf: rename one/.test(l.error.message),
      ),
    );
  });

  it('a request that timed out is abandoned (its connection closed) before it is sent again', async () => {
    // A server that never answers the first request: the client's --timeout ends it.
    const events: string[] = [];
    let requests = 0;
    const slow = http.createServer((req, res) => {
      if (req.url === '/health') return void res.end(JSON.stringify({ status: 'ok', converter: { workers: 1 } }));
      const n = ++requests;
      events.push(`request ${n}`);
      req.socket.once('close', () => events.push(`closed ${n}`));
      req.resume();
      if (n > 1) req.on('end', () => res.writeHead(200, { 'content-type': 'text/markdown', 'x-docmark-pages': '1' }).end('# ok\n'));
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    try {
      const one = path.join(work, 'one-timeout');
      fs.mkdirSync(one);
      fs.writeFileSync(path.join(one, 'a.pdf'), corpus.values().next().value!);
      const out = path.join(work, 'out-timeout');
      const run = batch([one, '-o', out, '--server', `http://127.0.0.1:${(slow.address() as net.AddressInfo).port}`, '--timeout', '1']);
      assert.equal(await run.done, 0, run.stderr());
      assert.deepEqual(readReport(out)[0].retried, [{ code: 'UND_ERR_HEADERS_TIMEOUT' }]);
      assert.ok(events.indexOf('closed 1') !== -1 && events.indexOf('closed 1') < events.indexOf('request 2'), events.join(', '));
    } finally {
      slow.closeAllConnections();
      await new Promise((resolve) => slow.close(resolve));
    }
  });

  it('the server sends 102 Processing heartbeats only to a client that asks for them', async () => {
    const pdf = corpus.values().next().value!;
    const post = (headers: Record<string, string>) =>
      new Promise<{ status: number; interim: number[] }>((resolve, reject) => {
        const interim: number[] = [];
        const req = http.request(`${srv.url}/convert`, { method: 'POST', headers: { 'content-type': 'application/pdf', ...headers } }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, interim }));
        });
        req.on('information', (info) => interim.push(info.statusCode));
        req.on('error', reject);
        req.end(Buffer.from(pdf));
      });
    assert.deepEqual(await post({ 'x-docmark-heartbeat': '1' }), { status: 200, interim: [102] });
    assert.deepEqual(await post({}), { status: 200, interim: [] });
  });

  it('a request lost on its way (no answer, no heartbeat) is sent again after --stall, not after --timeout', async () => {
    // A front that passes connections to the server but swallows the third one: accepted, never
    // answered, never closed, as PM2's cluster master does with a connection it was handing to
    // an instance that died.
    const held: net.Socket[] = [];
    let connections = 0;
    const front = net.createServer((socket) => {
      if (++connections === 3) return void held.push(socket);
      const upstream = net.connect(Number(new URL(srv.url).port), '127.0.0.1');
      socket.pipe(upstream).pipe(socket);
      const close = () => (socket.destroy(), upstream.destroy());
      socket.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    try {
      const few = path.join(work, 'few-stall');
      for (const [rel, bytes] of [...corpus.entries()].slice(0, 40)) {
        fs.mkdirSync(path.dirname(path.join(few, rel)), { recursive: true });
        fs.writeFileSync(path.join(few, rel), bytes);
      }
      const out = path.join(work, 'out-stall');
      const started = Date.now();
      const url = `http://127.0.0.1:${(front.address() as net.AddressInfo).port}`;
      const run = batch([few, '--out', out, '--server', url, '--concurrency', '4', '--stall', '2', '--timeout', '120']);
      assert.equal(await run.done, 0, run.stderr());
      assert.ok(Date.now() - started < 60_000, `finished long before --timeout (${Date.now() - started} ms)`);
      assert.equal(held.length, 1, 'one connection was swallowed');
      const report = readReport(out);
      assert.equal(report.length, 40);
      assert.ok(report.every((l) => l.status === 'converted'));
      const lost = report.filter((l) => l.attempts > 1);
      assert.equal(lost.length, 1, JSON.stringify(lost));
      assert.deepEqual(lost[0].retried, [{ code: 'stalled' }]);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => front.close(resolve));
    }
  });

  it('SIGTERM stops cleanly (no partial outputs, a summary); a rerun finishes the rest', async () => {
    const out = path.join(work, 'out-stop');
    const run = batch([input, '--out', out, '--server', srv.url, '--concurrency', '4']);
    await waitFor(() => readReport(out).length >= 20, { timeoutMs: 120_000, intervalMs: 20, what: '20 files converted' });
    run.child.kill('SIGTERM');
    assert.equal(await run.done, 143);
    assert.match(run.stdout(), /docmark batch: interrupted after/);
    const done = readReport(out);
    assert.ok(done.length < corpus.size, 'stopped before the end');
    assert.deepEqual(listFiles(out), ['_report.jsonl', ...done.map((l) => l.output!)].sort(), 'exactly the reported outputs, nothing partial');

    const rerun = batch([input, '--out', out, '--server', srv.url, '--concurrency', '4']);
    assert.equal(await rerun.done, 0, rerun.stderr());
    assert.match(rerun.stdout(), new RegExp(`converted ${corpus.size - done.length}, skipped ${done.length} \\(already done\\), failed 0\\n`));
    const all = readReport(out);
    assert.deepEqual(all.map((l) => l.file).sort(), [...corpus.keys()].sort(), 'each file converted once over the two runs');
  });

  it('writes JSON and HTML outputs and --force redoes them', async () => {
    const few = path.join(work, 'few');
    for (const [rel, bytes] of [...corpus.entries()].slice(0, 3)) {
      fs.mkdirSync(path.dirname(path.join(few, rel)), { recursive: true });
      fs.writeFileSync(path.join(few, rel), bytes);
    }
    for (const format of ['json', 'html'] as const) {
      const out = path.join(work, `out-${format}`);
      const run = batch([few, '--out', out, '--server', srv.url, '--format', format]);
      assert.equal(await run.done, 0, run.stderr());
      for (const [rel, bytes] of [...corpus.entries()].slice(0, 3)) {
        const target = path.join(out, rel.replace(/\.pdf$/i, '') + `.${format}`);
        assert.equal(fs.readFileSync(target, 'utf8'), (await convertPdf(bytes, { outputFormat: format })).output);
      }
      const forced = batch([few, '--out', out, '--server', srv.url, '--format', format, '--force']);
      assert.equal(await forced.done, 0);
      assert.match(forced.stdout(), /converted 3, skipped 0/);
    }
  });

  it('refuses wrong arguments with exit code 2', async () => {
    for (const [args, message] of [
      [[input], /needs an output folder: -o <out-dir>/],
      [[input, '--out', work, '--format', 'docx'], /--format must be/],
      [[input, '--out', work, '--server', 'ftp://x'], /--server must be http/],
      [[input, '--out', work, '--concurrency', '0'], /--concurrency must be/],
      [[path.join(work, 'nope'), '--out', work], /no such folder/],
      [[input, '--out', work, '--give-up', '0'], /--give-up must be a whole number from 1/],
    ] as const) {
      const run = batch([...args]);
      assert.equal(await run.done, 2, args.join(' '));
      assert.match(run.stderr(), message);
    }
  });
});

describe('batch retry timing, server rotation and default concurrency', () => {
  it('keeps what a host runs at once plus one request per instance in flight; else its worker threads + 1, else 2 + 1; sums the servers', () => {
    // npm start's default on two cores: 2 instances × 1 worker.
    assert.deepEqual(advertisedConcurrency({ status: 'ok', capacity: { concurrency: 2, instances: 2 }, converter: { workers: 1 } }), {
      runsAtOnce: 2,
      instances: 2,
      concurrency: 4,
      source: 'capacity',
    });
    assert.equal(advertisedConcurrency({ status: 'ok', capacity: { concurrency: 8, instances: 2 } }).concurrency, 10);
    // Without (believable) instances: one.
    assert.equal(advertisedConcurrency({ status: 'ok', capacity: { concurrency: 4 } }).concurrency, 5);
    assert.equal(advertisedConcurrency({ status: 'ok', capacity: { concurrency: 4, instances: 9 } }).concurrency, 5);
    assert.equal(advertisedConcurrency({ status: 'ok', capacity: { concurrency: 4, instances: -1 } }).concurrency, 5);
    assert.deepEqual(advertisedConcurrency({ status: 'ok', converter: { workers: 3 } }), {
      runsAtOnce: 3,
      instances: 1,
      concurrency: 4,
      source: 'workers',
    });
    assert.deepEqual(advertisedConcurrency({ status: 'ok', capacity: { concurrency: 1e9 }, converter: { workers: 'x' } }), {
      runsAtOnce: 2,
      instances: 1,
      concurrency: 3,
      source: 'default',
    });
    assert.equal(advertisedConcurrency({ status: 'ok', capacity: { concurrency: 256, instances: 256 } }).concurrency, 256, 'bounded');
    const servers = [
      { url: 'a', runsAtOnce: 4, instances: 2, concurrency: 6, source: 'capacity' as const },
      { url: 'b', runsAtOnce: 2, instances: 1, concurrency: 3, source: 'default' as const },
    ];
    assert.equal(totalConcurrency(servers), 9);
    assert.equal(
      totalConcurrency(
        Array.from({ length: 10 }, (_, i) => ({ url: String(i), runsAtOnce: 100, instances: 1, concurrency: 101, source: 'capacity' as const })),
      ),
      256,
    );
  });

  it('backs off exponentially with jitter, capped, and never sooner than Retry-After', () => {
    const low = () => 0;
    const high = () => 1;
    assert.equal(retryDelayMs(1, undefined, undefined, low), 125);
    assert.equal(retryDelayMs(1, undefined, undefined, high), 250);
    assert.equal(retryDelayMs(4, undefined, undefined, high), 2000);
    assert.equal(retryDelayMs(30, undefined, undefined, high), 30_000);
    assert.equal(retryDelayMs(1, 2000, undefined, low), 2000);
    assert.ok(retryDelayMs(1, 2000, undefined, high) <= 2400);
    assert.equal(parseRetryAfter('3'), 3000);
    assert.ok(parseRetryAfter(new Date(Date.now() + 5000).toUTCString())! > 3000);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });

  it('takes a server out after 3 connection failures, longer each outage, and puts it back on success', () => {
    const events: string[] = [];
    const rotation = new ServerRotation(['http://a', 'http://b'], {
      onChange: (e) => events.push(`${e.url} ${e.down ? `down ${e.pauseMs}` : 'up'}`),
    });
    const [a, b] = rotation.servers;
    const t = 1_000_000;
    const picks = (n: number, now: number) =>
      Array.from({ length: n }, () => {
        const p = rotation.pick(now);
        return 'server' in p ? p.server.url : `wait ${p.waitMs}`;
      });
    assert.deepEqual(picks(4, t), ['http://a', 'http://b', 'http://a', 'http://b']);
    for (let i = 0; i < 3; i++) rotation.unreachable(a, t);
    assert.deepEqual(picks(3, t), ['http://b', 'http://b', 'http://b']);
    rotation.unreachable(b, t);
    rotation.unreachable(b, t);
    rotation.unreachable(b, t);
    assert.deepEqual(picks(1, t + 1000), ['wait 1000']);
    assert.equal(picks(1, t + 2000)[0], 'http://a');
    rotation.unreachable(a, t + 2000); // still down: out again, for twice as long
    rotation.succeeded(b);
    assert.deepEqual(events, ['http://a down 2000', 'http://b down 2000', 'http://a down 4000', 'http://b up']);
    assert.equal(picks(1, t + 3000)[0], 'http://b');
    assert.equal(
      picks(2, t + 6000)
        .sort()
        .join(),
      'http://a,http://b',
    );
  });
});
