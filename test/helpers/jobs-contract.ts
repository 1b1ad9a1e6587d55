import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { WebhookState } from '../../src/jobs/types.ts';
import { multipart, rawRequest, type RawResponse } from './http.ts';
import { getJson } from './pm2.ts';
import { CLI, CORPUS, startServerProcess, type ServerProcess } from './server.ts';
import { waitFor } from './wait.ts';

// The jobs API contract over real HTTP: a real server process with a job store of its own (the
// embedded one in a temp folder, or Redis), real PDFs from the corpus, a real webhook receiver on
// loopback. test/jobs-api.test.ts runs it on the embedded store, test/jobs-redis.test.ts on Redis.

const SECRET = 'test-webhook-secret';
const pdf = (name: string): Buffer => fs.readFileSync(path.join(CORPUS, name));
/** Eight text pages: quick, but long enough to show progress. */
const TEXT = 'bull.pdf';
/** A scan: OCR keeps a worker busy for seconds. */
const SCAN = 'node-fetch.scanned.pdf';

interface Receiver {
  url: string;
  calls: Array<{ headers: http.IncomingHttpHeaders; body: string }>;
  close(): Promise<void>;
}

async function webhookReceiver(): Promise<Receiver> {
  const calls: Receiver['calls'] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      calls.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    calls,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** What a receiver does with X-Docmark-Signature: recompute, compare in constant time, refuse old timestamps. */
function verifySignature(header: string, body: string, secret: string, maxAgeS = 300): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=') as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > maxAgeS || !parts.v1) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Read an SSE stream to its end: the events in order. */
function readEvents(url: string, timeoutMs = 60_000): Promise<Array<{ event: string; data: any }>> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`events: HTTP ${res.statusCode}`));
      assert.match(String(res.headers['content-type']), /^text\/event-stream/);
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => {
        clearTimeout(timer);
        const events = text
          .split('\n\n')
          .map((block) => {
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            return event && data ? { event, data: JSON.parse(data) } : undefined;
          })
          .filter((e): e is { event: string; data: any } => e !== undefined);
        resolve(events);
      });
    });
    const timer = setTimeout(() => req.destroy(new Error('event stream did not end')), timeoutMs);
    req.on('error', reject);
  });
}

const withoutDuration = (json: any): any => ({ ...json, metadata: { ...json.metadata, duration_ms: 0 } });

/** What the contract checks inside a store, whatever the store keeps its jobs in. */
export interface StoreProbe {
  /** Settings the server needs for this store (besides DOCMARK_DATA_DIR). */
  env: Record<string, string>;
  /** Jobs the store holds (any state). */
  jobCount(): Promise<number>;
  /** Uploads begun and not finished (a refused upload must leave none). */
  staged(): Promise<string[]>;
  uploadExists(id: string): Promise<boolean>;
  resultExists(id: string): Promise<boolean>;
  webhookState(id: string): Promise<WebhookState | undefined>;
}

/** The embedded store: a folder per job under the data folder. */
export function fileStoreProbe(dataDir: string): StoreProbe {
  const jobFile = (id: string, name: string): string => path.join(dataDir, 'jobs', id, name);
  return {
    env: {},
    jobCount: async () => fs.readdirSync(path.join(dataDir, 'jobs')).length,
    staged: async () => fs.readdirSync(path.join(dataDir, 'incoming')),
    uploadExists: async (id) => fs.existsSync(jobFile(id, 'input.pdf')),
    resultExists: async (id) => fs.existsSync(jobFile(id, 'result.json')),
    webhookState: async (id) =>
      fs.existsSync(jobFile(id, 'webhook.json')) ? JSON.parse(fs.readFileSync(jobFile(id, 'webhook.json'), 'utf8')) : undefined,
  };
}

/** The jobs API cases, on the store `openStore` prepares for a fresh data folder (one per suite). */
export function jobsApiContract(label: string, openStore: (dataDir: string) => StoreProbe | Promise<StoreProbe>): void {
  describe(`jobs API (${label})`, () => {
    let dataDir: string;
    let server: ServerProcess;
    let receiver: Receiver;
    let probe: StoreProbe;

    before(async () => {
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-jobs-api-'));
      probe = await openStore(dataDir);
      receiver = await webhookReceiver();
      const port = new URL(receiver.url).port;
      server = await startServerProcess({
        ...probe.env,
        DOCMARK_DATA_DIR: dataDir,
        DOCMARK_WEBHOOK_ALLOW: `127.0.0.1:${port}`,
        DOCMARK_WEBHOOK_SECRET: SECRET,
        DOCMARK_MAX_UPLOAD_MB: '2',
        DOCMARK_WORKERS: '1',
      });
    });
    after(async () => {
      await server?.stop();
      await receiver?.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    const submit = (file: Buffer, fields: Record<string, string> = {}, query = ''): Promise<RawResponse> => {
      const { body, contentType } = multipart(file, fields);
      return rawRequest(`${server.url}/jobs${query}`, { body, headers: { 'content-type': contentType } });
    };
    const get = (p: string, headers: Record<string, string> = {}): Promise<RawResponse> =>
      rawRequest(`${server.url}${p}`, { method: 'GET', headers });
    const finished = (id: string, timeoutMs = 120_000): Promise<any> =>
      waitFor(
        async () => {
          const res = await get(`/jobs/${id}`);
          return ['succeeded', 'failed', 'canceled'].includes(res.json?.status) ? res.json : undefined;
        },
        { timeoutMs, intervalMs: 200, what: `job ${id} to finish` },
      );
    const assertError = (res: RawResponse, status: number, code: string): void => {
      assert.equal(res.status, status, res.body);
      assert.equal(res.json?.success, false);
      assert.equal(res.json.error.code, code);
      assert.ok(res.json.error.message.length > 10);
    };

    it('answers 202 at once, then the result is exactly what /convert answers', async () => {
      const file = pdf(TEXT);
      const res = await submit(file, { output_format: 'markdown' });
      assert.equal(res.status, 202, res.body);
      const { id, status, status_url, result_url } = res.json;
      assert.match(id, /^[A-Za-z0-9_-]{22}$/);
      assert.ok(['queued', 'running'].includes(status));
      assert.equal(status_url, `/jobs/${id}`);
      assert.equal(result_url, `/jobs/${id}/result`);
      assert.equal(res.headers.location, status_url);
      const done = await finished(id);
      assert.equal(done.status, 'succeeded', JSON.stringify(done));
      assert.equal(done.pages_done, 8);
      assert.equal(done.pages_total, 8);
      assert.equal(done.queue_position, null);
      assert.equal(done.error, null);
      for (const k of ['created_at', 'started_at', 'finished_at']) assert.ok(!Number.isNaN(Date.parse(done[k])), k);

      // Format negotiation included: bare Markdown byte for byte, and the JSON envelope.
      const md = await get(result_url, { accept: 'text/markdown' });
      const direct = await rawRequest(`${server.url}/convert`, {
        body: file,
        headers: { 'content-type': 'application/pdf', accept: 'text/markdown' },
      });
      assert.equal(md.status, 200);
      assert.equal(direct.status, 200);
      assert.match(String(md.headers['content-type']), /^text\/markdown/);
      assert.equal(md.body, direct.body);
      assert.equal(md.headers['x-docmark-pages'], direct.headers['x-docmark-pages']);
      const json = await get(result_url);
      const { body, contentType } = multipart(file, { output_format: 'markdown' });
      const directJson = await rawRequest(`${server.url}/convert`, { body, headers: { 'content-type': contentType } });
      assert.deepEqual(withoutDuration(json.json), withoutDuration(directJson.json));
      assert.equal(json.json.metadata.filename, 'doc.pdf');
    });

    it('takes the raw body, and option fields that come after the file in a form', async () => {
      const file = pdf('passport.pdf');
      const raw = await rawRequest(`${server.url}/jobs?output_format=json`, { body: file, headers: { 'content-type': 'application/pdf' } });
      assert.equal(raw.status, 202, raw.body);
      // File part first, option after it: the option still applies.
      const boundary = 'xjobsboundary';
      const body = Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="late.pdf"\r\nContent-Type: application/pdf\r\n\r\n`),
        file,
        Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="output_format"\r\n\r\nhtml\r\n--${boundary}--\r\n`),
      ]);
      const late = await rawRequest(`${server.url}/jobs`, { body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
      assert.equal(late.status, 202, late.body);
      assert.equal((await finished(raw.json.id)).status, 'succeeded');
      assert.equal((await finished(late.json.id)).status, 'succeeded');
      assert.equal((await get(`/jobs/${raw.json.id}/result`)).json.output_format, 'json');
      const html = (await get(`/jobs/${late.json.id}/result`)).json;
      assert.equal(html.output_format, 'html');
      assert.equal(html.metadata.filename, 'late.pdf');
    });

    it('refuses what /convert refuses, and leaves no job behind', async () => {
      const before = await probe.jobCount();
      assertError(await submit(pdf(TEXT), { output_format: 'docx' }), 400, 'invalid_option');
      assertError(await submit(pdf(TEXT), {}, '?pages=1'), 400, 'invalid_option');
      assertError(await submit(Buffer.from('hello, not a pdf at all')), 415, 'not_a_pdf');
      assertError(
        await rawRequest(`${server.url}/jobs`, { body: Buffer.alloc(3 * 1024 * 1024, 0x25), headers: { 'content-type': 'application/pdf' } }),
        413,
        'payload_too_large',
      );
      assertError(await rawRequest(`${server.url}/jobs`, { headers: { 'content-type': 'application/pdf' } }), 400, 'no_file');
      assert.equal(await probe.jobCount(), before);
      assert.deepEqual(await probe.staged(), [], 'no half-written upload');
      // Ids are checked before the store is asked.
      assertError(await get('/jobs/..%2F..%2Fetc'), 404, 'not_found');
      assertError(await get(`/jobs/${'a'.repeat(300)}`), 404, 'not_found');
      assertError(await get('/jobs/AAAAAAAAAAAAAAAAAAAAAA'), 404, 'not_found');
      assertError(await get('/jobs/AAAAAAAAAAAAAAAAAAAAAA/result'), 404, 'not_found');
      assertError(await rawRequest(`${server.url}/jobs/AAAAAAAAAAAAAAAAAAAAAA`, { method: 'DELETE' }), 404, 'not_found');
      assertError(await rawRequest(`${server.url}/jobs/AAAAAAAAAAAAAAAAAAAAAA`, { method: 'PUT' }), 405, 'method_not_allowed');
    });

    it('answers 409 while not finished; DELETE stops the running worker and deletes the data', async () => {
      const res = await submit(pdf(SCAN));
      assert.equal(res.status, 202, res.body);
      const { id } = res.json;
      assertError(await get(`/jobs/${id}/result`), 409, 'job_not_finished');
      await waitFor(async () => (await get(`/jobs/${id}`)).json.status === 'running', { timeoutMs: 60_000, what: 'job to run' });
      await waitFor(async () => (await getJson(`${server.url}/health`)).converter.busy === 1, { timeoutMs: 30_000, what: 'a worker busy' });
      const cancelledBefore = (await getJson(`${server.url}/health`)).converter.cancelled;
      const del = await rawRequest(`${server.url}/jobs/${id}`, { method: 'DELETE' });
      assert.equal(del.status, 200, del.body);
      assert.equal(del.json.status, 'canceled');
      // The worker stops at its next checkpoint (a page, an OCR stage), long before the scan would end.
      await waitFor(async () => (await getJson(`${server.url}/health`)).converter.busy === 0, { timeoutMs: 15_000, what: 'the worker to stop' });
      const health = await getJson(`${server.url}/health`);
      assert.equal(health.converter.cancelled, cancelledBefore + 1);
      assert.equal(health.jobs.running_here, 0);
      assertError(await get(`/jobs/${id}/result`), 410, 'job_canceled');
      assert.equal(await probe.uploadExists(id), false);
      assert.equal((await get(`/jobs/${id}`)).json.status, 'canceled');
    });

    it('streams status and page progress as Server-Sent Events, ending with the final status', async () => {
      const { json } = await submit(pdf(TEXT));
      const events = await readEvents(`${server.url}/jobs/${json.id}/events`);
      assert.ok(events.length >= 2, JSON.stringify(events));
      assert.equal(events[0].event, 'status');
      assert.ok(['queued', 'running'].includes(events[0].data.status));
      const last = events[events.length - 1];
      assert.equal(last.event, 'status');
      assert.equal(last.data.status, 'succeeded');
      assert.equal(last.data.pages_done, 8);
      let done = -1;
      for (const e of events.filter((x) => x.event === 'progress')) {
        assert.equal(e.data.pages_total, 8);
        assert.ok(e.data.pages_done > done, 'progress only moves forward');
        done = e.data.pages_done;
      }
      // A finished job's stream is one status event, and ends.
      const again = await readEvents(`${server.url}/jobs/${json.id}/events`);
      assert.deepEqual(
        again.map((e) => [e.event, e.data.status]),
        [['status', 'succeeded']],
      );
    });

    it('calls the webhook, signed; refuses hosts not allowed', async () => {
      const { json } = await submit(pdf('passport.pdf'), { webhook_url: receiver.url });
      const call = await waitFor(() => receiver.calls.find((c) => JSON.parse(c.body).id === json.id), { timeoutMs: 60_000, what: 'webhook call' });
      const body = JSON.parse(call.body);
      assert.equal(body.status, 'succeeded');
      assert.equal(body.result_url, `/jobs/${json.id}/result`);
      assert.equal(call.headers['content-type'], 'application/json');
      assert.ok(verifySignature(String(call.headers['x-docmark-signature']), call.body, SECRET), String(call.headers['x-docmark-signature']));
      assert.equal(verifySignature(String(call.headers['x-docmark-signature']), call.body.replace('succeeded', 'failed'), SECRET), false);
      assert.equal(verifySignature(String(call.headers['x-docmark-signature']), call.body, 'another secret'), false);

      const before = await probe.jobCount();
      for (const url of ['http://127.0.0.1:1/hook', 'http://169.254.169.254/latest/meta-data', 'file:///etc/passwd']) {
        assertError(await submit(pdf('passport.pdf'), { webhook_url: url }), 400, 'invalid_option');
        assertError(await submit(pdf('passport.pdf'), {}, `?webhook_url=${encodeURIComponent(url)}`), 400, 'invalid_option');
      }
      assert.equal(await probe.jobCount(), before);
      // Recorded as delivered at the first attempt: no instance calls it again.
      const state = await waitFor(
        async () => {
          const w = await probe.webhookState(json.id);
          return w?.delivered_at ? w : undefined;
        },
        { timeoutMs: 10_000, what: 'delivery recorded' },
      );
      assert.equal(state.attempts, 1);
      assert.equal(state.next_at, null);
      assert.equal(receiver.calls.filter((c) => JSON.parse(c.body).id === json.id).length, 1);
    });

    it('docmark job and docmark batch --jobs give what /convert gives', async () => {
      const cli = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
        new Promise((resolve) =>
          execFile(process.execPath, [CLI, ...args], { env: { ...process.env, DOCMARK_API_KEY: '' } }, (err, stdout, stderr) =>
            resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
          ),
        );
      const file = path.join(CORPUS, 'passport.pdf');
      const direct = await rawRequest(`${server.url}/convert`, {
        body: pdf('passport.pdf'),
        headers: { 'content-type': 'application/pdf', accept: 'text/markdown' },
      });
      const waited = await cli(['job', 'submit', file, '--wait', '-s', server.url]);
      assert.equal(waited.code, 0, waited.stderr);
      assert.equal(waited.stdout, direct.body);
      const submitted = await cli(['job', 'submit', file, '-s', server.url]);
      const id = submitted.stdout.trim();
      assert.match(id, /^[A-Za-z0-9_-]{22}$/);
      assert.equal(JSON.parse((await cli(['job', 'status', id, '-s', server.url])).stdout).id, id);
      assert.equal((await cli(['job', 'result', id, '--wait', '-s', server.url])).stdout, direct.body);
      const missing = await cli(['job', 'cancel', 'AAAAAAAAAAAAAAAAAAAAAA', '-s', server.url]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /not_found/);
      assert.equal((await cli(['job', 'status', '../x', '-s', server.url])).code, 2);

      const work = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-jobs-batch-'));
      try {
        fs.mkdirSync(path.join(work, 'in'));
        fs.copyFileSync(file, path.join(work, 'in', 'passport.pdf'));
        const batch = await cli(['batch', path.join(work, 'in'), '-o', path.join(work, 'out'), '-s', server.url, '--jobs']);
        assert.equal(batch.code, 0, batch.stderr);
        assert.equal(fs.readFileSync(path.join(work, 'out', 'passport.md'), 'utf8'), direct.body);
        const again = await cli(['batch', path.join(work, 'in'), '-o', path.join(work, 'out'), '-s', server.url, '--jobs']);
        assert.match(again.stdout, /skipped 1/, 'a rerun resumes: nothing to do');
      } finally {
        fs.rmSync(work, { recursive: true, force: true });
      }
    });

    it('reports jobs in /metrics and /health', async () => {
      const metrics = (await get('/metrics')).body;
      const succeeded = Number(/^docmark_jobs\{state="succeeded"[^}]*\} (\d+)$/m.exec(metrics)?.[1]);
      assert.ok(succeeded >= 4, metrics);
      assert.match(metrics, /^docmark_jobs\{state="queued"[^}]*\} 0$/m);
      assert.match(metrics, /^docmark_jobs\{state="canceled"[^}]*\} 1$/m);
      assert.match(metrics, /^docmark_jobs_oldest_queued_seconds\{[^}]*\} 0$/m);
      assert.match(metrics, /^docmark_jobs_finished_total\{outcome="succeeded"[^}]*\} \d+$/m);
      const health = await getJson(`${server.url}/health`);
      assert.equal(health.jobs.queued, 0);
      assert.equal(health.jobs.finished.canceled, 1);
      assert.equal(health.jobs.webhooks, true);
    });
  });

  describe(`jobs API: expiry and a full store (${label})`, () => {
    let dataDir: string;
    let server: ServerProcess;
    let probe: StoreProbe;

    before(async () => {
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-jobs-ttl-'));
      probe = await openStore(dataDir);
      server = await startServerProcess({
        ...probe.env,
        DOCMARK_DATA_DIR: dataDir,
        // 3.6 s to live, then a tombstone for as long again; a store of about 1 MB.
        DOCMARK_JOB_TTL_H: '0.001',
        DOCMARK_DATA_MAX_GB: '0.001',
      });
    });
    after(async () => {
      await server?.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    const submitRaw = (file: Buffer): Promise<RawResponse> =>
      rawRequest(`${server.url}/jobs`, { body: file, headers: { 'content-type': 'application/pdf' } });

    it('answers 410 once the result expired, then forgets the job', async () => {
      const { json } = await submitRaw(fs.readFileSync(path.join(CORPUS, 'passport.pdf')));
      await waitFor(async () => (await rawRequest(`${server.url}/jobs/${json.id}`, { method: 'GET' })).json.status === 'succeeded', {
        timeoutMs: 60_000,
        what: 'job to succeed',
      });
      const gone = await waitFor(
        async () => {
          const res = await rawRequest(`${server.url}/jobs/${json.id}/result`, { method: 'GET' });
          return res.status === 410 ? res : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 200, what: 'result to expire' },
      );
      assert.equal(gone.json.error.code, 'job_expired');
      assert.equal(await probe.resultExists(json.id), false);
      await waitFor(async () => (await rawRequest(`${server.url}/jobs/${json.id}`, { method: 'GET' })).status === 404, {
        timeoutMs: 20_000,
        intervalMs: 200,
        what: 'job to be forgotten',
      });
    });

    it('refuses new jobs with 507 store_full when the store is full, never half-writing one', async () => {
      const file = fs.readFileSync(path.join(CORPUS, 'enquirer.pdf')); // 0.67 MB: the second does not fit
      const first = await submitRaw(file);
      assert.equal(first.status, 202, first.body);
      const full = await submitRaw(file);
      assert.equal(full.status, 507, full.body);
      assert.equal(full.json.error.code, 'store_full');
      assert.match(full.json.error.message, /DOCMARK_DATA_MAX_GB/);
      assert.ok(Number(full.headers['retry-after']) > 0);
      assert.equal(await probe.jobCount(), 1);
      assert.deepEqual(await probe.staged(), []);
    });
  });
}
