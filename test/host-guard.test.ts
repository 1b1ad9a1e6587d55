import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rawRequest, type RawResponse } from './helpers/http.ts';
import { CORPUS, startServerProcess, type ServerProcess } from './helpers/server.ts';
import { waitFor } from './helpers/wait.ts';

// The host guard on the real server over HTTP. Its marks are set above any machine's memory
// (16 TB), so they fire here whatever else runs on the host: the admission mark refuses real
// uploads before their body is read, and the critical mark ends real running conversions.

const ABOVE_ANY_HOST_MB = '16000000';

interface Probe {
  status: number;
  code?: string;
  retryAfter?: string;
  /** Body bytes the client had handed to its socket when the answer came. */
  sentWhenAnswered: number;
  continued: boolean;
}

/** POST `size` bytes (a PDF header, then filler), noting how much was sent when the answer came. */
function probe(url: string, size: number, expectContinue = false): Promise<Probe> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    let continued = false;
    const req = http.request(
      `${url}/convert`,
      {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/pdf', 'content-length': String(size), ...(expectContinue ? { expect: '100-continue' } : {}) },
      },
      (res) => {
        answered = true;
        const sentWhenAnswered = sent;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          req.destroy();
          const json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          resolve({ status: res.statusCode ?? 0, code: json.error?.code, retryAfter: res.headers['retry-after'], sentWhenAnswered, continued });
        });
      },
    );
    req.on('error', (err) => {
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

const postPdf = (url: string, file: string, query = ''): Promise<RawResponse> =>
  rawRequest(`${url}/convert${query}`, { headers: { 'content-type': 'application/pdf' }, body: fs.readFileSync(path.join(CORPUS, file)) });

const health = async (url: string): Promise<RawResponse> => rawRequest(`${url}/health`, { method: 'GET' });

describe('host guard: below DOCMARK_MIN_FREE_MB', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServerProcess({ DOCMARK_MIN_FREE_MB: ABOVE_ANY_HOST_MB, DOCMARK_CRITICAL_FREE_MB: '0', DOCMARK_WORKERS: '1' });
    await waitFor(async () => (await health(server.url)).json?.host_guard?.sampled_at, { what: 'the first host guard sample' });
  });
  after(() => server?.stop());

  it('refuses uploads with 503 low_memory and Retry-After before reading their body', async () => {
    const size = 40 * 1024 * 1024;
    const files = ['bull.pdf', 'he.scanned.pdf', 'got.pdf', 'enquirer.pdf'];
    const [big, invited, ...real] = await Promise.all([
      probe(server.url, size),
      probe(server.url, size, true),
      ...files.map((f) => postPdf(server.url, f)),
    ]);
    for (const p of [big, invited]) {
      assert.equal(p.status, 503);
      assert.equal(p.code, 'low_memory');
      assert.ok(Number(p.retryAfter) >= 1, `Retry-After: ${p.retryAfter}`);
    }
    // Answered while most of the 40 MB was still unsent: the server did not read it.
    assert.ok(big.sentWhenAnswered < size / 2, `sent ${big.sentWhenAnswered} of ${size} bytes before the answer`);
    assert.equal(invited.continued, false, 'no 100 Continue for a refused upload');
    assert.equal(invited.sentWhenAnswered, 0);
    for (const res of real) {
      assert.equal(res.status, 503, res.body);
      assert.equal(res.json.error.code, 'low_memory');
      assert.match(res.json.error.message, /DOCMARK_MIN_FREE_MB/);
      assert.ok(res.headers['retry-after']);
    }
  });

  it('checks the request itself first: a bad option is still a 400', async () => {
    const res = await postPdf(server.url, 'bull.pdf', '?output_format=nonsense');
    assert.equal(res.status, 400);
    assert.equal(res.json.error.code, 'invalid_option');
  });

  it('keeps /health at 200 and says why it refuses; counts refusals in /metrics', async () => {
    const res = await health(server.url);
    assert.equal(res.status, 200, 'a healthy instance on a short host must not be restarted by its supervisor');
    assert.equal(res.json.status, 'low_memory');
    assert.equal(res.json.host_guard.state, 'refusing');
    assert.match(res.json.host_guard.reason, /below DOCMARK_MIN_FREE_MB/);
    assert.ok(res.json.host_guard.available_mb > 0);
    assert.ok(res.json.host_guard.refused >= 6, `refused: ${res.json.host_guard.refused}`);
    assert.equal(res.json.converter.busy, 0, 'nothing was converted');
    assert.equal(res.json.converter.tasks_done, 0);
    const metrics = await rawRequest(`${server.url}/metrics`, { method: 'GET' });
    const refused = /docmark_host_guard_events\{event="refused"[^}]*\} (\d+)/.exec(metrics.body);
    assert.ok(refused && Number(refused[1]) >= 6, 'docmark_host_guard_events{event="refused"}');
    assert.match(metrics.body, /docmark_host_available_bytes\{[^}]*\} \d+/);
  });
});

describe('host guard: below DOCMARK_CRITICAL_FREE_MB', () => {
  let server: ServerProcess;
  before(async () => {
    // Admission stays open (0 = off) so that conversions run and the critical mark ends them.
    server = await startServerProcess({ DOCMARK_MIN_FREE_MB: '0', DOCMARK_CRITICAL_FREE_MB: ABOVE_ANY_HOST_MB, DOCMARK_WORKERS: '2' });
  });
  after(() => server?.stop());

  it('ends the biggest running conversion first, with 503 low_memory, and the process lives on', async () => {
    const bigger = 'node-fetch.scanned.pdf';
    const smaller = 'jsbarcode.scanned.pdf';
    const order: string[] = [];
    const answers = await Promise.all(
      [bigger, smaller].map(async (f) => {
        const res = await postPdf(server.url, f);
        order.push(f);
        return res;
      }),
    );
    assert.equal(order[0], bigger, 'the bigger PDF is ended first');
    const [first] = answers;
    assert.equal(first.status, 503, first.body);
    assert.equal(first.json.error.code, 'low_memory');
    assert.match(first.json.error.message, /critically low on memory/);
    assert.ok(first.headers['retry-after']);
    const ended = server.logs.filter((l) => l.msg === 'host memory critical: ended the biggest running conversion');
    assert.equal(ended[0]?.pdf_bytes, fs.statSync(path.join(CORPUS, bigger)).size);

    assert.equal(server.child.exitCode, null, 'the server process is alive');
    const res = await health(server.url);
    assert.equal(res.status, 200);
    assert.equal(res.json.host_guard.state, 'critical');
    assert.ok(res.json.host_guard.ended >= 1);
    assert.equal(res.json.converter.crashes, 0);
    // The ended conversions' workers stop at their next checkpoint and are free again.
    await waitFor(async () => (await health(server.url)).json.converter.busy === 0, { timeoutMs: 30_000, what: 'workers to be free' });
    assert.equal((await health(server.url)).json.converter.workers, 2);
  });
});
