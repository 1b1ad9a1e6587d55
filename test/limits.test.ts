import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rawRequest, type RawResponse } from './helpers/http.ts';
import { makePdf } from './helpers/pdf.ts';
import { CORPUS, startServerProcess, type ServerProcess } from './helpers/server.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * The worker pool's limits on a real server: time limit, heap limit, bounded queue,
 * API key, /health while every worker is busy, recycling. Misbehaving PDFs are made with
 * the test-only markers of src/server/pool/test-hooks.ts (DOCMARK_TEST_HOOKS=1).
 */

/** A PDF that makes its worker misbehave (hang, heap-bomb, sleep=ms, spin=ms). */
const hooked = (pdf: Buffer, hook: string): Buffer => Buffer.concat([pdf, Buffer.from(`\n%DOCMARK-TEST:${hook}\n`)]);

const post = (server: ServerProcess, body: Buffer, headers: Record<string, string> = {}): Promise<RawResponse> =>
  rawRequest(`${server.url}/convert`, { body, headers: { 'content-type': 'application/pdf', ...headers } });

const getJson = async (server: ServerProcess, route: string): Promise<RawResponse> => rawRequest(`${server.url}${route}`, { method: 'GET' });

const converterStats = async (server: ServerProcess): Promise<Record<string, number>> => (await getJson(server, '/health')).json.converter;

const assertError = (res: RawResponse, status: number, code: string): void => {
  assert.equal(res.status, status, res.body);
  assert.equal(res.json?.success, false);
  assert.equal(res.json.error.code, code);
  assert.ok(typeof res.json.error.message === 'string' && res.json.error.message.length > 10);
};

let fixture: Buffer;
before(async () => {
  fixture = Buffer.from(await makePdf([{ heading: 'Pool Check', paragraphs: ['Converted by a worker thread.'] }]));
});

const assertConverted = (res: RawResponse): void => {
  assert.equal(res.status, 200, res.body);
  assert.match(res.json.output, /^# Pool Check$/m);
};

describe('time and heap limits', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServerProcess({
      DOCMARK_TEST_HOOKS: '1',
      DOCMARK_WORKERS: '2',
      DOCMARK_TIMEOUT_S: '2',
      DOCMARK_WORKER_HEAP_MB: '96',
    });
  });
  after(async () => {
    await server?.stop();
  });

  it('ends a stuck conversion with 504 and keeps converting meanwhile and afterwards', async () => {
    const started = Date.now();
    const stuck = post(server, hooked(fixture, 'hang'));
    // The other worker keeps serving while one is stuck.
    await waitFor(async () => (await converterStats(server)).busy === 1, { timeoutMs: 20_000, what: 'the stuck conversion to start' });
    assertConverted(await post(server, fixture));
    const res = await stuck;
    const elapsed = Date.now() - started;
    assertError(res, 504, 'timeout');
    assert.match(res.json.error.message, /longer than the limit of 2 s/);
    assert.ok(elapsed >= 1_900, `answered after ${elapsed} ms, before the limit`);
    assertConverted(await post(server, fixture));
    const stats = await converterStats(server);
    assert.equal(stats.timeouts, 1);
    assert.equal(stats.workers, 2, "a fresh worker took the stuck one's place");
    assert.equal(stats.busy, 0);
  });

  it('a PDF that exhausts the heap ends only its worker; the client is told why', async () => {
    const res = await post(server, hooked(fixture, 'heap-bomb'));
    assertError(res, 422, 'out_of_memory');
    assert.match(res.json.error.message, /ran out of memory/);
    assert.match(res.json.error.message, /96 MB heap limit/);
    assertConverted(await post(server, fixture));
    const stats = await converterStats(server);
    assert.equal(stats.out_of_memory, 1);
    assert.equal(stats.crashes, 0);
    assert.equal(stats.workers, 2);
    assert.equal(server.child.exitCode, null, 'the server process is still running');
    assert.ok(
      server.logs.some((l) => l.msg === 'worker ran out of memory'),
      'the cause is logged',
    );
  });
});

describe('back-pressure and /health under full load', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServerProcess({
      DOCMARK_TEST_HOOKS: '1',
      DOCMARK_WORKERS: '2',
      DOCMARK_MAX_QUEUE: '1',
      DOCMARK_TIMEOUT_S: '120',
    });
  });
  after(async () => {
    await server?.stop();
  });

  it('answers /health and /metrics fast while every worker is busy, then refuses over the queue with 503 + Retry-After', async (t) => {
    // Two CPU-bound conversions occupy both workers (long enough for every check below).
    const busy = [post(server, hooked(fixture, 'spin=10000')), post(server, hooked(fixture, 'spin=10000'))];
    await waitFor(async () => (await converterStats(server)).busy === 2, { timeoutMs: 20_000, what: 'both workers to be busy' });

    const latencies: number[] = [];
    for (let i = 0; i < 10; i++) {
      for (const route of ['/health', '/metrics']) {
        const t0 = performance.now();
        const res = await getJson(server, route);
        latencies.push(performance.now() - t0);
        assert.equal(res.status, 200);
      }
    }
    latencies.sort((a, b) => a - b);
    const median = latencies[Math.floor(latencies.length / 2)];
    t.diagnostic(`/health+/metrics under full load: median ${median.toFixed(1)} ms, max ${latencies[latencies.length - 1].toFixed(1)} ms`);
    assert.ok(median < 50, `median /health+/metrics latency ${median.toFixed(1)} ms while all workers are busy`);
    // A loaded CI machine may stall any single request a little; none may wait for a conversion.
    assert.ok(latencies[latencies.length - 1] < 1_000, `slowest ${latencies[latencies.length - 1].toFixed(1)} ms`);

    const queued = post(server, fixture);
    await waitFor(async () => (await converterStats(server)).queued === 1, { timeoutMs: 20_000, what: 'a conversion to be queued' });
    const refused = await post(server, fixture);
    assertError(refused, 503, 'queue_full');
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After: ${refused.headers['retry-after']}`);

    for (const res of await Promise.all([...busy, queued])) assertConverted(res);
    const stats = await converterStats(server);
    assert.equal(stats.busy, 0);
    assert.equal(stats.queued, 0);
    assert.equal(stats.tasks_done, 3);
  });
});

describe('API key and recycling', () => {
  let server: ServerProcess;
  const key = 'test-key-0123456789';
  const corpusPdf = fs.readFileSync(path.join(CORPUS, 'bcrypt.pdf'));
  before(async () => {
    server = await startServerProcess({ DOCMARK_API_KEY: key, DOCMARK_WORKERS: '1', DOCMARK_WORKER_MAX_TASKS: '2' });
  });
  after(async () => {
    await server?.stop();
  });

  it('needs the bearer key on /convert only', async () => {
    const none = await post(server, fixture);
    assertError(none, 401, 'unauthorized');
    assert.match(String(none.headers['www-authenticate']), /^Bearer/);
    assertError(await post(server, fixture, { authorization: `Bearer ${key}x` }), 401, 'unauthorized');
    assertError(await post(server, fixture, { authorization: `Basic ${Buffer.from(`u:${key}`).toString('base64')}` }), 401, 'unauthorized');
    assertConverted(await post(server, fixture, { authorization: `Bearer ${key}` }));
    assertConverted(await post(server, fixture, { authorization: `bearer  ${key}` }));
    assert.equal((await getJson(server, '/health')).status, 200);
    assert.equal((await getJson(server, '/metrics')).status, 200);
  });

  it('ignores test markers unless DOCMARK_TEST_HOOKS=1', async () => {
    assertConverted(await post(server, hooked(fixture, 'hang'), { authorization: `Bearer ${key}` }));
  });

  it('recycles workers after DOCMARK_WORKER_MAX_TASKS and keeps converting', async () => {
    const before = await converterStats(server);
    const outputs: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await post(server, corpusPdf, { authorization: `Bearer ${key}` });
      assert.equal(res.status, 200, res.body);
      outputs.push(res.json.output);
    }
    assert.ok(outputs[0].length > 1000);
    assert.ok(
      outputs.every((o) => o === outputs[0]),
      'every worker converts the same way',
    );
    const stats = await converterStats(server);
    assert.equal(stats.tasks_done - before.tasks_done, 5);
    // 3 + 5 = 8 tasks with 2 per worker: 4 workers retired.
    assert.equal(stats.recycled, Math.floor(stats.tasks_done / 2));
    assert.equal(stats.workers, 1);
    assert.equal(stats.crashes, 0);
  });
});

describe('render size cap (src/engine/limits.ts)', () => {
  it('keeps ordinary pages at the asked resolution, shrinks big ones to the pixel budget, refuses absurd ones', async () => {
    const { MAX_RENDER_PIXELS, renderScaleFor, renderSize, assertRenderable } = await import('../src/engine/limits.ts');
    assert.equal(renderScaleFor(612, 792, 200), 200 / 72);
    // An A0 poster at 300 dpi would be 140 Mpx: rendered within the budget instead.
    const scale = renderScaleFor(2384, 3370, 300);
    assert.ok(scale < 300 / 72 && scale * 72 >= 72);
    const { width, height } = renderSize(2384, 3370, scale);
    assert.ok(width * height <= MAX_RENDER_PIXELS * 1.001);
    // corpus/bad/huge-page.pdf: 14400 × 14400 pt cannot be rasterised legibly.
    assert.throws(
      () => renderScaleFor(14400, 14400, 150),
      (e: any) => e.code === 'page_too_large' && e.status === 422 && /14400 × 14400 pt/.test(e.message),
    );
    assert.throws(
      () => assertRenderable(Number.NaN, 792),
      (e: any) => e.code === 'page_too_large',
    );
    assert.doesNotThrow(() => assertRenderable(612, 792));
  });
});
