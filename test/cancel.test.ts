import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PDFDocument } from 'pdf-lib';
import { rawRequest, type RawResponse } from './helpers/http.ts';
import { makePdf } from './helpers/pdf.ts';
import { CORPUS, startServerProcess, type ServerProcess } from './helpers/server.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * Ending conversions on a real server with the real worker, real scans and the real OCR models:
 * a time limit that lands in the middle of OCR (where ending the thread used to abort the whole
 * process), and clients that leave (their conversions stop; a retry does not leave the first
 * attempt running).
 */

const scan = (id: string): Buffer => fs.readFileSync(path.join(CORPUS, `${id}.scanned.pdf`));

/** A scan's pages repeated: long enough to outlast the time limit on a fast, quiet machine too. */
async function longScan(id: string, times: number): Promise<Buffer> {
  const source = await PDFDocument.load(scan(id));
  const out = await PDFDocument.create();
  for (let i = 0; i < times; i++) for (const page of await out.copyPages(source, source.getPageIndices())) out.addPage(page);
  return Buffer.from(await out.save());
}

const post = (server: ServerProcess, body: Buffer): Promise<RawResponse> =>
  rawRequest(`${server.url}/convert`, { body, headers: { 'content-type': 'application/pdf' } });

const health = async (server: ServerProcess): Promise<Record<string, any>> => (await rawRequest(`${server.url}/health`, { method: 'GET' })).json;

/** A request whose client can walk away: `leave()` destroys its connection. */
function leavable(server: ServerProcess, body: Buffer): { leave: () => void; settled: Promise<string> } {
  const req = http.request(`${server.url}/convert`, {
    method: 'POST',
    agent: false,
    headers: { 'content-type': 'application/pdf', 'content-length': String(body.length) },
  });
  const settled = new Promise<string>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      resolve(`answered ${res.statusCode}`);
    });
    req.on('error', () => resolve('left'));
  });
  req.end(body);
  return { leave: () => req.destroy(), settled };
}

let digital: Buffer;
before(async () => {
  digital = Buffer.from(await makePdf([{ heading: 'Still Served', paragraphs: ['Converted while scans time out next to it.'] }]));
});

describe('a time limit that lands in OCR', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServerProcess({ DOCMARK_WORKERS: '3', DOCMARK_TIMEOUT_S: '8', DOCMARK_OCR_PAGE_S: '0', DOCMARK_OCR_THREADS: '1' });
  });
  after(async () => {
    await server?.stop();
  });

  it('ends the conversions, never the process; the requests beside them all succeed', async (t) => {
    const long = [await longScan('eslint-plugin-import', 5), await longScan('node-fetch', 5)];
    for (let round = 0; round < 3; round++) {
      const ocrBefore = (await health(server)).converter.ocr_pages;
      const scans = long.map((pdf) => post(server, pdf));
      await waitFor(async () => (await health(server)).converter.ocr_pages > ocrBefore, {
        timeoutMs: 60_000,
        what: `round ${round}: OCR to start`,
      });
      const beside: RawResponse[] = [];
      for (let i = 0; i < 3; i++) beside.push(await post(server, digital));
      for (const res of beside) {
        assert.equal(res.status, 200, res.body);
        assert.match(res.json.output, /^# Still Served$/m);
      }
      for (const res of await Promise.all(scans)) {
        assert.equal(res.status, 504, res.body);
        assert.equal(res.json.error.code, 'timeout');
      }
      assert.equal(server.child.exitCode, null, `the process is alive after round ${round}`);
    }
    const timeouts = server.logs.filter((l) => l.msg === 'conversion timed out; cancelling it');
    t.diagnostic(`timeouts: ${timeouts.length}, inside onnxruntime: ${timeouts.filter((l) => l.in_native).length}`);
    // Each of these would have aborted the process when the thread was ended at once.
    assert.ok(
      timeouts.some((l) => l.in_native),
      'at least one time limit landed inside an onnxruntime call',
    );
    await waitFor(async () => (await health(server)).converter.busy === 0, { timeoutMs: 60_000, what: 'the cancelled conversions to stop' });
    const h = await health(server);
    assert.equal(h.converter.crashes, 0);
    assert.equal(h.converter.workers, 3);
    assert.ok(!server.logs.some((l) => l.msg === 'worker exited unexpectedly'));
    assert.equal((await post(server, digital)).status, 200);
    assert.equal(server.child.exitCode, null);
    assert.doesNotMatch(server.stderr(), /terminate called|Napi::Error/);
  });
});

describe('abandoned work stops', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServerProcess({ DOCMARK_WORKERS: '1', DOCMARK_MAX_QUEUE: '2', DOCMARK_OCR_THREADS: '1' });
  });
  after(async () => {
    await server?.stop();
  });

  it('a client that leaves cancels its queued conversion at once and its running one at the next page', async () => {
    const running = leavable(server, scan('sentiment'));
    await waitFor(async () => (await health(server)).converter.ocr_pages >= 1, { timeoutMs: 60_000, what: 'OCR of the first page to start' });
    const queued = leavable(server, scan('immutable'));
    await waitFor(async () => (await health(server)).converter.queued === 1, { what: 'the second scan to be queued' });

    queued.leave();
    assert.equal(await queued.settled, 'left');
    await waitFor(
      async () => {
        const h = await health(server);
        return h.converter.queued === 0 && h.converter.cancelled === 1;
      },
      { timeoutMs: 2_000, what: 'the queued conversion to be dropped' },
    );

    const pagesWhenLeft = (await health(server)).converter.ocr_pages;
    running.leave();
    assert.equal(await running.settled, 'left');
    await waitFor(
      async () => {
        const h = await health(server);
        return h.converter.busy === 0 && h.in_flight === 0 && h.converter.cancelled === 2;
      },
      { timeoutMs: 60_000, what: 'the running conversion to stop' },
    );
    // It stopped at the page it was reading: the 3-page scan was not read to its end.
    const h = await health(server);
    assert.ok(h.converter.ocr_pages <= pagesWhenLeft + 1, `${h.converter.ocr_pages} OCR pages after leaving at ${pagesWhenLeft}`);
    assert.equal(h.converter.crashes, 0);
    assert.equal((await post(server, digital)).status, 200);
  });

  it('a retried request does not leave its first attempt running', async () => {
    const before = (await health(server)).converter;
    const first = leavable(server, scan('fast-glob'));
    await waitFor(async () => (await health(server)).converter.ocr_pages > before.ocr_pages, {
      timeoutMs: 60_000,
      what: 'the first attempt to reach OCR',
    });
    // The client gives up (say, its own timeout) and sends the same PDF again.
    first.leave();
    const retry = post(server, scan('fast-glob'));
    await waitFor(async () => (await health(server)).converter.cancelled === before.cancelled + 1, { what: 'the first attempt to be cancelled' });
    const res = await retry;
    assert.equal(res.status, 200, res.body);
    assert.match(res.json.output, /glob/i);
    const after = (await health(server)).converter;
    assert.equal(after.busy, 0);
    // The first attempt ended: stopped at a checkpoint (a task done), or its worker replaced.
    assert.equal(after.tasks_done - before.tasks_done + (after.replaced - before.replaced), 2);
  });
});
