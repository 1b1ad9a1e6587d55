import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readSubmitted, recordSubmitted, submittedPath } from '../src/batch/submitted.ts';
import { rawRequest } from './helpers/http.ts';
import { readJsonLines } from './helpers/jsonl.ts';
import { CLI, CORPUS, ROOT, startServerProcess, type ServerProcess } from './helpers/server.ts';
import { waitFor } from './helpers/wait.ts';

// `docmark batch --jobs` stopped mid-way and run again, against a real server over HTTP with a job
// store of its own: the rerun follows the jobs the stopped batch submitted instead of submitting
// their files again (counted in the store: one job per POST /jobs), submits again only a file
// whose job is gone, and every output is what /convert answers.

/** Scans (OCR: seconds each on one worker, so jobs are still queued when the batch stops) and text PDFs. */
const FILES = [
  'fast-glob.scanned.pdf',
  'micromatch.scanned.pdf',
  'prompts.scanned.pdf',
  'sentiment.scanned.pdf',
  'passport.pdf',
  'bull.pdf',
  'got.pdf',
  'chokidar.pdf',
];
const MARKER = '.docmark-job';

interface Run {
  child: ReturnType<typeof spawn>;
  stdout: () => string;
  stderr: () => string;
  done: Promise<number | null>;
}

function cli(args: string[]): Run {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DOCMARK_API_KEY: '' },
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), 10 * 60_000);
  const done = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    }),
  );
  return { child, stdout: () => out, stderr: () => err, done };
}

interface ReportLine {
  file: string;
  status: string;
  job?: string;
}

const readReport = (out: string): ReportLine[] => readJsonLines<ReportLine>(path.join(out, '_report.jsonl'));

describe('docmark batch --jobs: a stopped batch resumes its jobs', { timeout: 20 * 60_000 }, () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-jobs-batch-'));
  const input = path.join(work, 'in');
  const out = path.join(work, 'out');
  const dataDir = path.join(work, 'data');
  let server: ServerProcess;

  before(async () => {
    fs.mkdirSync(input);
    fs.mkdirSync(dataDir);
    for (const f of FILES) fs.copyFileSync(path.join(CORPUS, f), path.join(input, f));
    // One worker: the jobs run one after the other, so most wait in the queue.
    server = await startServerProcess({ DOCMARK_DATA_DIR: dataDir, DOCMARK_WORKERS: '1' });
  });
  after(async () => {
    await server?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  /** Jobs the store holds: every POST /jobs the server accepted (nothing expires during the test). */
  const jobsInStore = (): number => fs.readdirSync(path.join(dataDir, 'jobs')).length;
  const markerOf = (file: string): string => path.join(out, file.replace(/\.pdf$/, '.md') + MARKER);
  const recorded = (): Map<string, { id: string; server: string }> =>
    new Map(FILES.filter((f) => fs.existsSync(markerOf(f))).map((f) => [f, JSON.parse(fs.readFileSync(markerOf(f), 'utf8'))]));
  const status = async (id: string): Promise<string> => (await rawRequest(`${server.url}/jobs/${id}`, { method: 'GET' })).json?.status;
  const args = (): string[] => ['batch', input, '-o', out, '-s', server.url, '--jobs', '-c', String(FILES.length)];

  it('follows the recorded jobs after SIGKILL and after SIGTERM, submits again only files whose job is gone', async () => {
    // 1. Every file submitted at once, each job recorded beside its output; then the client is
    //    killed outright, with jobs still queued on the server.
    const first = cli(args());
    await waitFor(
      () => {
        const done = new Set(readReport(out).map((l) => l.file));
        return jobsInStore() === FILES.length && FILES.every((f) => done.has(f) || fs.existsSync(markerOf(f)));
      },
      { timeoutMs: 120_000, what: 'every file submitted and its job recorded' },
    );
    const beforeKill = recorded();
    assert.ok(beforeKill.size >= 2, `jobs in flight: ${beforeKill.size}`);
    for (const job of beforeKill.values()) assert.equal(job.server, server.url);
    first.child.kill('SIGKILL');
    await first.done;
    assert.equal(jobsInStore(), FILES.length, 'one job per file');
    const afterKill = recorded();
    const unfinished = await Promise.all([...afterKill.values()].map(async (j) => ['queued', 'running'].includes(await status(j.id))));
    assert.ok(unfinished.some(Boolean), 'the client was killed while jobs were queued or running');

    // 2. The rerun follows those jobs (no new one), and is stopped with SIGTERM once it has saved a
    //    result: it leaves the other jobs running, recorded, and says so.
    const reportedBefore = readReport(out).length;
    const second = cli(args());
    await waitFor(() => readReport(out).length > reportedBefore, { timeoutMs: 300_000, intervalMs: 20, what: 'the rerun to save a result' });
    second.child.kill('SIGTERM');
    assert.equal(await second.done, 143, second.stderr());
    assert.equal(jobsInStore(), FILES.length, 'the rerun submitted nothing: it followed the recorded jobs');
    for (const line of readReport(out).slice(reportedBefore)) {
      assert.equal(line.job, afterKill.get(line.file)?.id, `${line.file}: the job recorded by the killed batch`);
    }
    const left = recorded();
    assert.ok(left.size >= 2, `jobs left after SIGTERM: ${left.size}`);
    assert.match(second.stdout(), new RegExp(`jobs left on the servers ${left.size}: a rerun follows them`));
    for (const [file, job] of left) assert.equal(job.id, afterKill.get(file)?.id, 'the same job, still recorded');

    // 3. Two jobs go away before the next run: one canceled on the server, one forgotten (an id the
    //    server does not know: expired, or another store). Those two files are submitted again; the
    //    others are followed.
    const [[canceledFile, canceledJob], [lostFile]] = left;
    const del = await rawRequest(`${server.url}/jobs/${canceledJob.id}`, { method: 'DELETE' });
    assert.equal(del.status, 200, del.body);
    const reallyCanceled = del.json.status === 'canceled' ? 1 : 0;
    fs.writeFileSync(
      markerOf(lostFile),
      JSON.stringify({ ...JSON.parse(fs.readFileSync(markerOf(lostFile), 'utf8')), id: 'AAAAAAAAAAAAAAAAAAAAAA' }),
    );
    const third = cli(args());
    assert.equal(await third.done, 0, third.stderr());
    assert.match(third.stdout(), new RegExp(`converted ${left.size}, skipped ${FILES.length - left.size} \\(already done\\), failed 0`));
    assert.equal(jobsInStore(), FILES.length + reallyCanceled + 1, 'only the canceled and the forgotten job were submitted again');
    const thirdLines = readReport(out).slice(-left.size);
    for (const line of thirdLines) {
      if (line.file === lostFile || (line.file === canceledFile && reallyCanceled)) assert.notEqual(line.job, left.get(line.file)?.id, line.file);
      else assert.equal(line.job, left.get(line.file)?.id, `${line.file}: followed, not submitted again`);
    }

    // Every file once in the report, no record left behind, every output what /convert answers.
    const report = readReport(out);
    assert.deepEqual(report.map((l) => l.file).sort(), [...FILES].sort());
    assert.ok(report.every((l) => l.status === 'converted'));
    assert.deepEqual(
      fs.readdirSync(out).filter((f) => f.includes('.docmark-')),
      [],
    );
    for (const f of FILES) {
      const direct = await rawRequest(`${server.url}/convert`, {
        body: fs.readFileSync(path.join(input, f)),
        headers: { 'content-type': 'application/pdf', accept: 'text/markdown' },
      });
      assert.equal(direct.status, 200, direct.body);
      assert.equal(fs.readFileSync(path.join(out, f.replace(/\.pdf$/, '.md')), 'utf8'), direct.body, f);
    }
  });

  it('submits a file again when it changed since its job was recorded', async () => {
    const changedOut = path.join(work, 'out-changed');
    const file = 'passport.pdf';
    const target = path.join(changedOut, 'passport.md');
    fs.mkdirSync(changedOut);
    // A record from an earlier run, for a job that exists, but of the PDF as it was before.
    const old = await rawRequest(`${server.url}/jobs`, {
      body: fs.readFileSync(path.join(CORPUS, 'bull.pdf')),
      headers: { 'content-type': 'application/pdf' },
    });
    assert.equal(old.status, 202, old.body);
    const single = path.join(work, 'in-changed');
    fs.mkdirSync(single);
    fs.copyFileSync(path.join(CORPUS, file), path.join(single, file));
    const stat = fs.statSync(path.join(single, file));
    fs.writeFileSync(
      target + MARKER,
      JSON.stringify({ id: old.json.id, server: server.url, size: stat.size, mtimeMs: stat.mtimeMs - 1000, at: new Date().toISOString() }),
    );
    const before = jobsInStore();
    const run = cli(['batch', single, '-o', changedOut, '-s', server.url, '--jobs']);
    assert.equal(await run.done, 0, run.stderr());
    assert.equal(jobsInStore(), before + 1, 'submitted again');
    const [line] = readReport(changedOut);
    assert.notEqual(line.job, old.json.id);
    const direct = await rawRequest(`${server.url}/convert`, {
      body: fs.readFileSync(path.join(single, file)),
      headers: { 'content-type': 'application/pdf', accept: 'text/markdown' },
    });
    assert.equal(fs.readFileSync(target, 'utf8'), direct.body, 'the PDF as it is now, not the old job');
    assert.equal(fs.existsSync(target + MARKER), false);
  });
});

describe('the record of a submitted job', () => {
  it('is written whole, and read back only for the very PDF, with an id the server could have given', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-submitted-'));
    try {
      const target = path.join(dir, 'a', 'b.md');
      const pdf = { path: path.join(dir, 'b.pdf'), rel: 'b.pdf', size: 1234, mtimeMs: 1_765_000_000_000.5 };
      const job = { id: 'YF8t_k30OcGmXwEfttfy-w', server: 'http://127.0.0.1:8002', size: 1234, mtimeMs: pdf.mtimeMs, at: new Date().toISOString() };
      await recordSubmitted(target, job);
      assert.deepEqual(fs.readdirSync(path.dirname(target)), ['b.md.docmark-job'], 'nothing left aside');
      assert.deepEqual(await readSubmitted(target, pdf), job);
      assert.equal(await readSubmitted(target, { ...pdf, size: 1235 }), undefined, 'another size');
      assert.equal(await readSubmitted(target, { ...pdf, mtimeMs: pdf.mtimeMs + 1 }), undefined, 'changed since');
      for (const bad of [
        '{',
        '[]',
        JSON.stringify({ ...job, id: '../../jobs' }),
        JSON.stringify({ ...job, id: 7 }),
        JSON.stringify({ ...job, server: null }),
      ]) {
        fs.writeFileSync(submittedPath(target), bad);
        assert.equal(await readSubmitted(target, pdf), undefined, bad);
      }
      fs.writeFileSync(submittedPath(target), JSON.stringify({ ...job, pad: 'x'.repeat(5000) }));
      assert.equal(await readSubmitted(target, pdf), undefined, 'not a record: too big');
      assert.equal(await readSubmitted(path.join(dir, 'none.md'), pdf), undefined);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
