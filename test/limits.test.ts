import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { multipart, rawRequest, type RawResponse } from './helpers/http.ts';
import { makePdf } from './helpers/pdf.ts';
import { CORPUS, startServerProcess, type ServerProcess } from './helpers/server.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * The worker pool's limits on a real server: time limit, heap limit, admission (503 before the
 * body is read, bounded memory), API key before the body (100-continue too), aborted uploads,
 * /health while every worker is busy, recycling. Misbehaving PDFs are made with the markers of
 * test/helpers/misbehaviour.mjs, which only the test worker entry obeys.
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

/** Peak and current resident memory of a process, in MB (Linux). */
const memoryOf = (pid: number): { peakMb: number; rssMb: number } => {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]);
  return { peakMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
};

interface Probe {
  status: number;
  code?: string;
  retryAfter?: string;
  /** Body bytes the client had handed to its socket when the answer arrived. */
  sentWhenAnswered: number;
  /** The server sent `100 Continue`. */
  continued: boolean;
  ms: number;
}

/**
 * POST `size` bytes of upload (a PDF header, then filler) and note how far the upload had got
 * when the answer came. With `expectContinue`, the body is sent only once invited.
 */
function probe(url: string, size: number, headers: Record<string, string> = {}, expectContinue = false): Promise<Probe> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let sent = 0;
    let continued = false;
    let answered = false;
    const req = http.request(
      `${url}/convert`,
      {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/pdf',
          'content-length': String(size),
          ...(expectContinue ? { expect: '100-continue' } : {}),
          ...headers,
        },
      },
      (res) => {
        answered = true;
        const sentWhenAnswered = sent;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          req.destroy();
          let code: string | undefined;
          try {
            code = JSON.parse(Buffer.concat(chunks).toString('utf8')).error?.code;
          } catch {
            code = undefined;
          }
          resolve({
            status: res.statusCode ?? 0,
            code,
            retryAfter: res.headers['retry-after'],
            sentWhenAnswered,
            continued,
            ms: performance.now() - started,
          });
        });
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (!answered) reject(err);
    });
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    const pump = (): void => {
      if (sent === 0) {
        req.write('%PDF-1.7\n');
        sent = 9;
      }
      while (sent < size && !answered && !req.destroyed) {
        const n = Math.min(chunk.length, size - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void req.once('drain', pump);
      }
      if (sent >= size && !answered) req.end();
    };
    if (expectContinue) {
      req.once('continue', () => {
        continued = true;
        pump();
      });
      req.flushHeaders();
    } else {
      pump();
    }
  });
}

let fixture: Buffer;
before(async () => {
  fixture = Buffer.from(await makePdf([{ heading: 'Pool Check', paragraphs: ['Converted by a worker thread.'] }]));
});

const assertConverted = (res: RawResponse): void => {
  assert.equal(res.status, 200, res.body);
  assert.match(res.json.output, /^# Pool Check$/m);
};

describe('time limit', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServerProcess({ DOCMARK_WORKERS: '2', DOCMARK_TIMEOUT_S: '2' }, undefined, { testHooks: true });
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
    // JavaScript that never reaches a checkpoint: its worker is replaced after the grace period.
    await waitFor(async () => (await converterStats(server)).replaced === 1, { timeoutMs: 20_000, what: 'the stuck worker to be replaced' });
    assertConverted(await post(server, fixture));
    const stats = await converterStats(server);
    assert.equal(stats.timeouts, 1);
    assert.equal(stats.workers, 2, "a fresh worker took the stuck one's place");
    assert.equal(stats.busy, 0);
    assert.equal(stats.crashes, 0);
  });
});

describe('heap limit', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServerProcess({ DOCMARK_WORKERS: '2', DOCMARK_TIMEOUT_S: '60', DOCMARK_WORKER_HEAP_MB: '96' }, undefined, {
      testHooks: true,
    });
  });
  after(async () => {
    await server?.stop();
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
    server = await startServerProcess({ DOCMARK_WORKERS: '2', DOCMARK_MAX_QUEUE: '1', DOCMARK_TIMEOUT_S: '120' }, undefined, { testHooks: true });
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

describe('admission before the upload is read', () => {
  let server: ServerProcess;
  const UPLOAD_MB = 40;
  before(async () => {
    server = await startServerProcess({ DOCMARK_WORKERS: '1', DOCMARK_MAX_QUEUE: '1', DOCMARK_MAX_UPLOAD_MB: String(UPLOAD_MB) }, undefined, {
      testHooks: true,
    });
  });
  after(async () => {
    await server?.stop();
  });

  it('answers 16 concurrent 40 MB uploads to a full pool 503 at once, without reading them', async (t) => {
    // Both places (the worker and the one queue slot) taken by slow conversions.
    const taken = [post(server, hooked(fixture, 'sleep=8000')), post(server, fixture)];
    await waitFor(
      async () => {
        const s = await converterStats(server);
        return s.busy === 1 && s.queued === 1;
      },
      { timeoutMs: 20_000, what: 'the worker and the queue slot to be taken' },
    );
    const before = memoryOf(server.child.pid!);
    const size = UPLOAD_MB * 1024 * 1024;
    const results = await Promise.all(Array.from({ length: 16 }, () => probe(server.url, size)));
    const after = memoryOf(server.child.pid!);
    t.diagnostic(
      `peak RSS ${before.peakMb.toFixed(0)} → ${after.peakMb.toFixed(0)} MB for 16 × ${UPLOAD_MB} MB refused; slowest answer ${Math.max(...results.map((r) => r.ms)).toFixed(0)} ms`,
    );
    for (const r of results) {
      assert.equal(r.status, 503);
      assert.equal(r.code, 'queue_full');
      assert.ok(Number(r.retryAfter) >= 1, 'Retry-After');
      // Answered while most of the upload was still to be sent: the server did not wait for it.
      assert.ok(r.sentWhenAnswered < size / 2, `answered after ${(r.sentWhenAnswered / 1024 / 1024).toFixed(1)} MB of ${UPLOAD_MB}`);
    }
    // Buffered whole, 16 × 40 MB would be 640 MB.
    assert.ok(after.peakMb - before.peakMb < 100, `peak RSS grew by ${(after.peakMb - before.peakMb).toFixed(0)} MB`);
    for (const res of await Promise.all(taken)) assertConverted(res);
    const stats = await converterStats(server);
    assert.equal(stats.uploading, 0);
    assert.equal(stats.busy, 0);
  });

  it('refuses an Expect: 100-continue upload to a full pool before inviting the body', async () => {
    const taken = [post(server, hooked(fixture, 'sleep=4000')), post(server, fixture)];
    await waitFor(
      async () => {
        const s = await converterStats(server);
        return s.busy === 1 && s.queued === 1;
      },
      { timeoutMs: 20_000, what: 'the worker and the queue slot to be taken' },
    );
    const refused = await probe(server.url, 10 * 1024 * 1024, {}, true);
    assert.equal(refused.status, 503);
    assert.equal(refused.continued, false, 'no 100 Continue before a refusal');
    assert.equal(refused.sentWhenAnswered, 0);
    for (const res of await Promise.all(taken)) assertConverted(res);
    // With a place free, the body is invited.
    assertConverted(await post(server, fixture, { expect: '100-continue' }));
  });

  it('an upload the client aborts is a quiet client outcome and gives its place back', async () => {
    for (const kind of ['raw', 'multipart'] as const) {
      await new Promise<void>((resolve) => {
        const { body, contentType } = kind === 'raw' ? { body: fixture, contentType: 'application/pdf' } : multipart(fixture);
        const req = http.request(`${server.url}/convert`, {
          method: 'POST',
          agent: false,
          headers: { 'content-type': contentType, 'content-length': String(body.length + 1024 * 1024) },
        });
        req.on('error', () => resolve());
        req.on('close', () => resolve());
        req.write(body.subarray(0, body.length - 10));
        // Destroy once the server holds the place for it.
        void waitFor(async () => (await converterStats(server)).uploading === 1, { what: 'the upload to take a place' }).then(() => req.destroy());
      });
      await waitFor(
        async () => {
          const h = (await getJson(server, '/health')).json;
          return h.in_flight === 0 && h.converter.uploading === 0;
        },
        { what: `the aborted ${kind} upload to leave` },
      );
    }
    // Both places free again: two conversions are admitted at once.
    for (const res of await Promise.all([post(server, fixture), post(server, fixture)])) assertConverted(res);
    assert.ok(!server.logs.some((l) => l.msg === 'unhandled error'), 'no aborted upload is logged as a server error');
    const metrics = (await getJson(server, '/metrics')).body;
    assert.doesNotMatch(metrics, /outcome="server_error"/);
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

  it('answers 401 before 100 Continue: a stranger never gets to send the body', async () => {
    const stranger = await probe(server.url, 10 * 1024 * 1024, {}, true);
    assert.equal(stranger.status, 401);
    assert.equal(stranger.continued, false);
    assert.equal(stranger.sentWhenAnswered, 0);
    const wrong = await probe(server.url, 10 * 1024 * 1024, { authorization: `Bearer ${key}x` }, true);
    assert.equal(wrong.status, 401);
    assert.equal(wrong.continued, false);
    // With the key, the body is invited (and, filler that it is, refused as a broken PDF).
    const known = await probe(server.url, 1024 * 1024, { authorization: `Bearer ${key}` }, true);
    assert.equal(known.continued, true);
    assert.equal(known.status, 422);
  });

  it("the server's own worker has no misbehaviour hooks, whatever its environment", async () => {
    const withVariable = await startServerProcess({ DOCMARK_TEST_HOOKS: '1', DOCMARK_WORKERS: '1', DOCMARK_TIMEOUT_S: '10' });
    try {
      assertConverted(await post(withVariable, hooked(fixture, 'hang')));
    } finally {
      await withVariable.stop();
    }
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
    // 2 + 5 = 7 tasks with 2 per worker: 3 workers retired.
    assert.equal(stats.recycled, Math.floor(stats.tasks_done / 2));
    assert.equal(stats.workers, 1);
    assert.equal(stats.crashes, 0);
  });
});
