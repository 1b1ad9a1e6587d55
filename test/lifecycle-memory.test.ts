import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { Lifecycle } from '../src/server/lifecycle.ts';
import { MemoryLimit } from '../src/server/memory-limit.ts';
import { startServer, type RunningServer } from '../src/server/serve.ts';
import { rawRequest, type RawResponse } from './helpers/http.ts';
import { CORPUS, startServerProcess } from './helpers/server.ts';
import { waitFor } from './helpers/wait.ts';

// The instance's own memory limit (DOCMARK_MAX_MEMORY): the RSS check with an injected reader,
// then the real server over HTTP — over its limit it refuses new work at once, lets a running
// conversion finish within the grace, ends one that does not, and exits with reason memory_limit.

const MB = 1024 * 1024;
const SMALL_PDF = fs.readFileSync(path.join(CORPUS, 'bcrypt.pdf'));
const hooked = (hook: string): Buffer => Buffer.concat([SMALL_PDF, Buffer.from(`\n%DOCMARK-TEST:${hook}\n`)]);
const post = (url: string, body: Buffer): Promise<RawResponse> =>
  rawRequest(`${url}/convert`, { headers: { 'content-type': 'application/pdf' }, body });
const HOOKED_WORKER = new URL('./helpers/hooked-worker.mjs', import.meta.url);

describe('MemoryLimit (RSS check)', () => {
  it('calls onOver once, at the first sample over the limit, and then stops sampling', () => {
    let rss = 100 * MB;
    const seen: number[] = [];
    const limit = new MemoryLimit({ limitBytes: 200 * MB, readRss: () => rss, onOver: (r) => seen.push(r) });
    limit.start();
    try {
      assert.equal(limit.check(), false);
      rss = 200 * MB; // at the limit is not over it
      assert.equal(limit.check(), false);
      assert.equal(limit.over, false);
      assert.equal(limit.status().over_since, null);
      rss = 201 * MB;
      assert.equal(limit.check(), true);
      rss = 900 * MB;
      assert.equal(limit.check(), false, 'once over, never again');
      assert.deepEqual(seen, [201 * MB]);
      const status = limit.status();
      assert.equal(status.limit_mb, 200);
      assert.equal(status.rss_mb_when_over, 201);
      assert.match(status.reason ?? '', /201 MB RSS.*DOCMARK_MAX_MEMORY = 200 MB/);
    } finally {
      limit.stop();
    }
  });

  it('samples by itself on its timer', async () => {
    let rss = 10 * MB;
    let over = 0;
    const limit = new MemoryLimit({ limitBytes: 50 * MB, sampleMs: 10, readRss: () => rss, onOver: () => over++ }).start();
    try {
      rss = 60 * MB;
      await waitFor(() => over === 1, { timeoutMs: 5000, what: 'the timer to see RSS over the limit' });
    } finally {
      limit.stop();
    }
  });

  it('is off with no limit, and off (with a warning) when the instance starts over it', () => {
    const none = new MemoryLimit({ limitBytes: 0, readRss: () => 10 * MB, onOver: () => assert.fail('no limit') }).start();
    assert.equal(none.enabled, false);
    assert.equal(none.check(), false);
    const logs: Array<Record<string, unknown>> = [];
    const below = new MemoryLimit({
      limitBytes: 40 * MB,
      readRss: () => 90 * MB,
      onOver: () => assert.fail('off'),
      log: (l) => logs.push(l),
    }).start();
    assert.equal(below.enabled, false);
    assert.equal(below.check(), false);
    assert.match(String(logs[0]?.msg), /below this instance's RSS at start/);
  });

  it('Lifecycle.stopAdmitting refuses at once, even within the drain linger, with 503 restarting', () => {
    const lifecycle = new Lifecycle({ maxConversions: 0, drainTimeoutMs: 1000, lingerMs: 60_000 });
    assert.equal(lifecycle.acquire(), true);
    lifecycle.release(false, false);
    lifecycle.stopAdmitting('memory_limit');
    assert.equal(lifecycle.acquire(), false);
    const refusal = lifecycle.refusal();
    assert.equal(refusal.code, 'restarting');
    assert.equal(refusal.status, 503);
    assert.ok(refusal.retryAfter! > 0);
    const other = new Lifecycle({ maxConversions: 0, drainTimeoutMs: 1000 });
    other.beginDrain('signal');
    assert.equal(other.refusal().code, 'draining');
  });
});

describe('over its memory limit, on a real server over HTTP', () => {
  const GRACE_S = 8;
  let server: RunningServer;
  let rss = 100 * MB;
  let dataDir: string;
  const drains: string[] = [];
  const logs: Array<Record<string, unknown>> = [];

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-memory-limit-'));
    const config = loadConfig(
      {
        DOCMARK_HOST: '127.0.0.1',
        DOCMARK_PORT: '0',
        DOCMARK_WORKERS: '2',
        DOCMARK_MAX_QUEUE: '2',
        DOCMARK_MAX_MEMORY: '1000M',
        DOCMARK_MEMORY_GRACE_S: String(GRACE_S),
        DOCMARK_DATA_DIR: dataDir,
      },
      { supervised: true },
    );
    server = await startServer({ config, workerUrl: HOOKED_WORKER, readRss: () => rss, log: (l) => logs.push(l) });
    server.lifecycle.on('drain', (reason: string) => drains.push(reason));
  });
  after(async () => {
    await server?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses new and queued work at once, lets a short conversion finish, ends a stuck one, and drains for memory_limit', async () => {
    const health = async (): Promise<any> => (await rawRequest(`${server.url}/health`, { method: 'GET' })).json;
    // Wait for both workers, so that the two conversions below run and the third queues.
    await waitFor(async () => (await health()).converter.ready === 2, { timeoutMs: 60_000, what: 'two ready workers' });
    const short = post(server.url, hooked('sleep=2500'));
    const stuck = post(server.url, hooked('hang'));
    await waitFor(async () => (await health()).converter.busy === 2, { timeoutMs: 20_000, what: 'two running conversions' });
    const queued = post(server.url, SMALL_PDF);
    await waitFor(async () => (await health()).converter.queued === 1, { timeoutMs: 20_000, what: 'a queued conversion' });

    rss = 1001 * MB;
    const overAt = Date.now();
    await waitFor(() => server.lifecycle.refusing === 'memory_limit', { timeoutMs: 5000, what: 'the RSS sample over the limit' });

    // New work: 503 restarting at once, with Retry-After.
    const fresh = await post(server.url, SMALL_PDF);
    assert.equal(fresh.status, 503);
    assert.equal(fresh.json.error.code, 'restarting');
    assert.ok(Number(fresh.headers['retry-after']) > 0);
    const job = await rawRequest(`${server.url}/jobs`, { headers: { 'content-type': 'application/pdf' }, body: SMALL_PDF });
    assert.equal(job.status, 503);
    assert.equal(job.json.error.code, 'restarting');
    // Queued, not started: answered at once so its client retries elsewhere.
    const queuedRes = await queued;
    assert.equal(queuedRes.status, 503);
    assert.equal(queuedRes.json.error.code, 'restarting');
    assert.ok(Date.now() - overAt < GRACE_S * 1000, 'the queued conversion was not held for the grace');

    // /health says why.
    const h = await health();
    assert.equal(h.status, 'draining');
    assert.equal(h.leaving, 'memory_limit');
    assert.equal(h.memory_limit.limit_mb, 1000);
    assert.equal(h.memory_limit.rss_mb_when_over, 1001);
    assert.ok(h.memory_limit.over_since);
    const metrics = await rawRequest(`${server.url}/metrics`, { method: 'GET' });
    assert.match(metrics.body, /^docmark_memory_limit_over(\{[^}]*\})? 1$/m);

    // The short conversion finishes within the grace; the stuck one is ended with a retryable 503 after it.
    const shortRes = await short;
    assert.equal(shortRes.status, 200, shortRes.body);
    const stuckRes = await stuck;
    const endedAfterMs = Date.now() - overAt;
    assert.equal(stuckRes.status, 503);
    assert.equal(stuckRes.json.error.code, 'restarting');
    assert.ok(Number(stuckRes.headers['retry-after']) > 0);
    assert.ok(endedAfterMs >= GRACE_S * 1000 - 1500, `ended after the grace (${endedAfterMs} ms)`);
    assert.ok(endedAfterMs < GRACE_S * 1000 + 10_000, `ended soon after the grace (${endedAfterMs} ms)`);
    assert.deepEqual(drains, ['memory_limit']);
    assert.ok(logs.some((l) => l.msg === 'memory limit passed: refusing new work, running conversions get a grace' && l.queued_refused === 1));
  });
});

describe('`docmark serve` past its memory limit (ballast test hook)', () => {
  it('ends what runs after the grace and exits 0 with reason memory_limit', async () => {
    const server = await startServerProcess(
      { DOCMARK_MAX_MEMORY: '700M', DOCMARK_MEMORY_GRACE_S: '2', DOCMARK_TEST_CRASH_HOOK: '1', DOCMARK_WORKERS: '1', DOCMARK_MIN_UPTIME_S: '0' },
      60_000,
      { testHooks: true },
    );
    try {
      await waitFor(async () => (await rawRequest(`${server.url}/health`, { method: 'GET' })).json?.converter?.ready === 1, {
        timeoutMs: 60_000,
        what: 'a ready worker',
      });
      const stuck = post(server.url, hooked('hang'));
      await waitFor(async () => (await rawRequest(`${server.url}/health`, { method: 'GET' })).json?.in_flight === 1, {
        timeoutMs: 20_000,
        what: 'a running conversion',
      });
      server.child.kill('SIGWINCH');
      const res = await stuck;
      assert.equal(res.status, 503, res.body);
      assert.equal(res.json.error.code, 'restarting');
      const exiting = await waitFor(() => server.logs.find((l) => l.msg === 'exiting'), { timeoutMs: 30_000, what: 'the exit' });
      assert.equal(exiting.reason, 'memory_limit');
      assert.ok(Number(exiting.rss_mb) > 700, `RSS ${exiting.rss_mb} MB at exit`);
      const ballast = server.logs.find((l) => l.msg === 'test ballast held');
      assert.ok(ballast && Number(ballast.rss_mb) > 700, JSON.stringify(ballast));
      assert.equal(await server.stop(), 0);
    } finally {
      await server.stop();
    }
  });
});
