import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repeatPages } from '../bench/repeat-pdf.mjs';
import { rawRequest } from './helpers/http.ts';
import { Pm2Sandbox } from './helpers/pm2.ts';
import { CORPUS } from './helpers/server.ts';
import { waitFor } from './helpers/wait.ts';

// Jobs survive restarts: two PM2 instances share one job store while a stream of jobs comes in and
// the instances are restarted by every cause (their conversion limit, a reload, kill -9). Every job
// must end `succeeded` exactly once, with the output /convert gives for the same PDF.

/** A long scan (OCR for tens of seconds): instances are restarted while one of these runs. */
const LONG = 'node-fetch.scanned.pdf';
const FILES = ['bull.pdf', 'passport.pdf', 'he.scanned.pdf', LONG];
const JOBS = 12;
const BOOK = 'book.scanned.pdf';
/** Longer than any answer of a live instance takes here (a /convert of the long scan included). */
const REQUEST_TIMEOUT_MS = 120_000;

const abandonAfter = (ms: number): Promise<never> =>
  new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms).unref());

describe('jobs under PM2 restarts (real daemon, isolated PM2_HOME)', { timeout: 15 * 60_000 }, () => {
  const pm2 = new Pm2Sandbox();
  const dataDir = path.join(pm2.home, 'jobs-data');
  const url = (p: string): string => `http://127.0.0.1:${pm2.port}${p}`;
  const bytes = new Map(FILES.map((f) => [f, fs.readFileSync(path.join(CORPUS, f))]));

  before(async () => {
    // The job a reload lands on must outlast the reload's replacement instance starting, however
    // fast the OCR: a dozen scanned pages.
    bytes.set(
      BOOK,
      Buffer.from(
        await repeatPages(
          [LONG, 'he.scanned.pdf'].map((f) => path.join(CORPUS, f)),
          12,
        ),
      ),
    );
    await pm2.start({
      DOCMARK_DATA_DIR: dataDir,
      DOCMARK_MAX_CONVERSIONS: '4',
      DOCMARK_CRON_RESTART: '',
      DOCMARK_WORKERS: '1',
    });
  });
  after(() => pm2.destroy());

  /** Retries what a restarting instance refuses (503 draining, a connection closed under it). */
  const request = async (p: string, opts: Parameters<typeof rawRequest>[1]): ReturnType<typeof rawRequest> => {
    return waitFor(
      async () => {
        // A connection PM2's master handed to an instance killed a moment later is never answered:
        // give up on it and ask again.
        const res = await Promise.race([rawRequest(url(p), opts), abandonAfter(REQUEST_TIMEOUT_MS)]).catch(() => undefined);
        return res && res.status !== 503 && res.status !== 0 ? res : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 200, what: `${opts?.method ?? 'POST'} ${p}` },
    );
  };
  const holderPid = (id: string): number | undefined => {
    try {
      return JSON.parse(fs.readFileSync(path.join(dataDir, 'jobs', id, 'claim'), 'utf8')).pid;
    } catch {
      return undefined;
    }
  };
  /** Phases, for whoever watches a long run (tail PM2_HOME/phases.log). */
  const phase = (what: string): void => fs.appendFileSync(path.join(pm2.home, 'phases.log'), `${new Date().toISOString()} ${what}\n`);
  const status = async (id: string): Promise<any> => (await request(`/jobs/${id}`, { method: 'GET' })).json;

  it('every job ends succeeded exactly once, with the same output as /convert', async () => {
    const expected = new Map<string, string>();
    for (const [name, file] of bytes) {
      const res = await request('/convert', { body: file, headers: { 'content-type': 'application/pdf', accept: 'text/markdown' } });
      assert.equal(res.status, 200, res.body);
      expected.set(name, res.body);
    }

    const jobs: Array<{ id: string; file: string }> = [];
    // The stream: submitted in the background while the instances are killed, reloaded and recycled.
    const submitting = (async () => {
      for (let i = 0; i < JOBS; i++) {
        const file = FILES[i % FILES.length];
        const res = await request('/jobs', { body: bytes.get(file), headers: { 'content-type': 'application/pdf' } });
        assert.equal(res.status, 202, res.body);
        jobs.push({ id: res.json.id, file });
        await new Promise((r) => setTimeout(r, 500)); // a stream, not a burst
      }
    })();

    /** Job `id` once it converts, with the pid of the live instance that holds it (read from the store's files). */
    const running = (id: string) =>
      waitFor(
        () => {
          const pid = holderPid(id);
          const dir = path.join(dataDir, 'jobs', id);
          // Converting (its first progress written), not just claimed.
          if (!pid || !fs.existsSync(path.join(dir, 'progress.json')) || fs.existsSync(path.join(dir, 'outcome.json'))) return undefined;
          try {
            process.kill(pid, 0);
            return { id, pid };
          } catch {
            return undefined; // that holder is gone; the job is being taken over
          }
        },
        { timeoutMs: 300_000, intervalMs: 50, what: `job ${id} running` },
      );
    /** Submit a long scan out of the stream's order and wait until an instance runs it. */
    const longJobRunning = async (file = LONG) => {
      const res = await request('/jobs', { body: bytes.get(file), headers: { 'content-type': 'application/pdf' } });
      assert.equal(res.status, 202, res.body);
      jobs.push({ id: res.json.id, file });
      return running(res.json.id);
    };

    // kill -9 the instance converting a scan: no drain, no goodbye.
    phase('expected outputs done');
    const victim = await longJobRunning();
    phase(`kill -9 ${victim.pid} running ${victim.id}`);
    process.kill(victim.pid, 'SIGKILL');
    const takenOver = await waitFor(
      async () => {
        const pid = holderPid(victim.id);
        const s = await status(victim.id);
        return (pid && pid !== victim.pid) || s.status === 'succeeded' ? s : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 200, what: 'the killed instance’s job to be taken over' },
    );
    assert.ok(takenOver.status !== 'failed', JSON.stringify(takenOver));

    // A reload while a job runs: the old instance gives it back instead of finishing it.
    phase('taken over');
    // Only once both instances are up (PM2 refuses to reload one it is still starting), and only the
    // instance that runs the job, so that the reload reaches it while it converts.
    // PM2 stops the old instance only once its replacement is ready, which under load (and with
    // replacements that themselves leave after 4 conversions) can take until listen_timeout: long
    // enough for the job to end first. Then a reload proves nothing, and the next rounds send the
    // holder the signal PM2's reload ends an old instance with (SIGINT) directly.
    let reloaded: { id: string; pid: number } | undefined;
    for (let round = 1; round <= 3 && !reloaded; round++) {
      await pm2.waitOnline(2, 120_000);
      const job = await longJobRunning(BOOK);
      if (round === 1) {
        const holder = (await pm2.apps()).find((p) => p.pid === job.pid);
        assert.ok(holder, `instance ${job.pid} is listed`);
        phase(`reload ${holder.pm_id} while ${job.pid} runs ${job.id}`);
        const reload = await pm2.pm2(['reload', String(holder.pm_id)]);
        assert.equal(reload.code, 0, reload.stderr);
      } else {
        phase(`SIGINT ${job.pid} while it runs ${job.id} (round ${round})`);
        process.kill(job.pid, 'SIGINT');
      }
      const dir = path.join(dataDir, 'jobs', job.id);
      const ending = await waitFor(
        () => (fs.existsSync(path.join(dir, 'released')) ? 'released' : fs.existsSync(path.join(dir, 'outcome.json')) ? 'finished' : undefined),
        { timeoutMs: 120_000, intervalMs: 100, what: `job ${job.id} given back or finished` },
      );
      if (ending === 'released') reloaded = job;
      else {
        // Not given back: only acceptable when its holder had finished it before the stop reached it.
        const outcome = JSON.parse(fs.readFileSync(path.join(dir, 'outcome.json'), 'utf8'));
        assert.equal(outcome.status, 'succeeded', `job ${job.id} neither given back nor finished: ${JSON.stringify(outcome)}`);
        phase(`job ${job.id} finished before the stop reached it`);
      }
    }
    assert.ok(reloaded, 'a planned stop landed on a running job in one of three rounds');

    phase('reloaded');
    await submitting;
    // The conversion limit restarts instances on its own (4 conversions each, staggered).
    await pm2.waitRecords((r) => r.some((x) => x.cause === 'conversion_limit'), 'a conversion_limit restart', 300_000);

    phase('conversion limit seen');
    const final = await waitFor(
      async () => {
        const all = await Promise.all(jobs.map((j) => status(j.id)));
        return all.every((s) => ['succeeded', 'failed', 'canceled'].includes(s.status)) ? all : undefined;
      },
      { timeoutMs: 600_000, intervalMs: 1000, what: 'every job to finish' },
    );
    assert.deepEqual(
      final.map((s) => s.status),
      jobs.map(() => 'succeeded'),
      JSON.stringify(final.filter((s) => s.status !== 'succeeded')),
    );
    for (const job of jobs) {
      const res = await request(`/jobs/${job.id}/result`, { method: 'GET', headers: { accept: 'text/markdown' } });
      assert.equal(res.status, 200);
      assert.equal(res.body, expected.get(job.file), `job ${job.id} (${job.file}) gives what /convert gives`);
      // Written once: one outcome, no claim left behind by a taker that lost the race.
      const dir = path.join(dataDir, 'jobs', job.id);
      assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'outcome.json'), 'utf8')).status, 'succeeded');
      assert.deepEqual(
        fs.readdirSync(dir).filter((f) => f.endsWith('.tmp') || f.startsWith('takeover-')),
        [],
      );
    }
    const attempts = (id: string): number => Number(fs.readFileSync(path.join(dataDir, 'jobs', id, 'attempts'), 'utf8'));
    assert.ok(attempts(victim.id) >= 2, 'the killed instance’s job ran again elsewhere');
    const released = Number(fs.readFileSync(path.join(dataDir, 'jobs', reloaded.id, 'released'), 'utf8')); // read after every job ended
    assert.ok(released >= 1 && attempts(reloaded.id) >= 2, 'the reloaded instance gave its job back, and it ran again');
    assert.deepEqual(fs.readdirSync(path.join(dataDir, 'queue')), [], 'nothing left queued');
    const causes = new Set(pm2.records().map((r) => r.cause));
    assert.ok(causes.has('conversion_limit'), [...causes].join(','));
  });
});
