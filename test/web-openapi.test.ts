import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { loadConfig } from '../src/config.ts';
import { statusOf } from '../src/errors.ts';
import { ERROR_CODES, OPENAPI } from '../src/server/routes/openapi.ts';
import { CONTENT_SECURITY_POLICY } from '../src/server/routes/web.ts';
import { startServer, type RunningServer } from '../src/server/serve.ts';
import type { Converter } from '../src/server/converter.ts';
import { multipart, rawRequest, type RawResponse } from './helpers/http.ts';
import { makePdf } from './helpers/pdf.ts';
import { CORPUS, startServerProcess, type ServerProcess } from './helpers/server.ts';
import { waitFor } from './helpers/wait.ts';

// /openapi.json against the real server: every status the document lists for an operation is
// produced here by a real request, and every answer validates against the schema the document
// gives for that status and content type. Misbehaving conversions use the pool's test hooks
// (the test-only worker of test/helpers/hooked-worker.mjs); only the 500 comes from a stand-in
// converter, in-process.

const hooked = (pdf: Buffer, hook: string): Buffer => Buffer.concat([pdf, Buffer.from(`\n%DOCMARK-TEST:${hook}\n`)]);

const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addFormat('date-time', (s: string) => /^\d{4}-\d\d-\d\dT/.test(s) && !Number.isNaN(Date.parse(s)));
ajv.addSchema(OPENAPI as object, 'openapi');

const pointerPart = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');

/** Operations and statuses the document promises, as "METHOD path status". */
function documented(): Set<string> {
  const out = new Set<string>();
  for (const [p, methods] of Object.entries(OPENAPI.paths)) {
    for (const [method, op] of Object.entries(methods as Record<string, { responses: Record<string, unknown> }>)) {
      for (const status of Object.keys(op.responses)) out.add(`${method.toUpperCase()} ${p} ${status}`);
    }
  }
  return out;
}

const seen = new Set<string>();

/** Validate an answer against the document and record that its status was produced. */
function check(method: string, docPath: string, res: RawResponse): void {
  const op = (OPENAPI.paths as Record<string, any>)[docPath]?.[method.toLowerCase()];
  assert.ok(op, `${method} ${docPath} is documented`);
  const response = op.responses[String(res.status)];
  assert.ok(response, `${method} ${docPath} ${res.status} is documented (body: ${res.body.slice(0, 200)})`);
  seen.add(`${method} ${docPath} ${res.status}`);
  if (!response.content) return;
  const type = String(res.headers['content-type'] ?? '')
    .split(';')[0]
    .trim();
  const contentType = response.content[type] ? type : response.content['*/*'] ? '*/*' : undefined;
  assert.ok(contentType, `${method} ${docPath} ${res.status}: content type ${type} is documented`);
  if (contentType !== 'application/json') return;
  const pointer = `openapi#/paths/${pointerPart(docPath)}/${method.toLowerCase()}/responses/${res.status}/content/${pointerPart(contentType)}/schema`;
  const validate = ajv.getSchema(pointer);
  assert.ok(validate, `schema at ${pointer}`);
  assert.ok(
    validate(res.json),
    `${method} ${docPath} ${res.status} matches its schema: ${ajv.errorsText(validate.errors)}\n${res.body.slice(0, 300)}`,
  );
}

/** An error answer outside any operation (404, 405): it still has the Error shape. */
function checkError(res: RawResponse, status: number, code: string): void {
  assert.equal(res.status, status);
  const validate = ajv.getSchema('openapi#/components/schemas/Error')!;
  assert.ok(validate(res.json), ajv.errorsText(validate.errors));
  assert.equal(res.json.error.code, code);
}

const get = (url: string, headers: Record<string, string> = {}): Promise<RawResponse> => rawRequest(url, { method: 'GET', headers });
const postPdf = (url: string, body: Buffer, headers: Record<string, string> = {}): Promise<RawResponse> =>
  rawRequest(`${url}/convert`, { body, headers: { 'content-type': 'application/pdf', ...headers } });

describe('OpenAPI document', () => {
  it('is OpenAPI 3.1 and lists every error code with its status', () => {
    assert.equal(OPENAPI.openapi, '3.1.0');
    const listed = OPENAPI['x-error-codes'];
    assert.deepEqual(listed.map((c) => c.code).sort(), Object.keys(ERROR_CODES).sort());
    for (const c of listed) assert.equal(c.status, statusOf(c.code));
    // The per-status error schemas of /convert cover every code a conversion can end with.
    const convert = OPENAPI.paths['/convert'].post.responses as Record<string, unknown>;
    for (const c of listed) {
      // Answered on any route (404, 405, 408), or never sent (499: the client has left).
      if (['not_found', 'method_not_allowed', 'request_timeout', 'cancelled', 'not_ready'].includes(c.code)) continue;
      // The codes of /jobs' own answers.
      if (c.code.startsWith('job_') || c.code === 'store_full') continue;
      assert.ok(convert[String(c.status)], `/convert documents status ${c.status} (${c.code})`);
    }
  });
});

describe('every documented answer, produced and validated', () => {
  let server: ServerProcess;
  let stand: RunningServer;
  let pdf: Buffer;

  before(async () => {
    pdf = Buffer.from(await makePdf([{ heading: 'Contract Check', paragraphs: ['One page for the contract test.'] }]));
    server = await startServerProcess(
      {
        DOCMARK_WORKERS: '1',
        DOCMARK_MAX_QUEUE: '0',
        DOCMARK_TIMEOUT_S: '2',
        DOCMARK_MAX_UPLOAD_MB: '1',
      },
      undefined,
      { testHooks: true },
    );
    // With no queue, a request that comes before the worker thread is up is refused: wait for it.
    await waitFor(async () => (await postPdf(server.url, pdf)).status === 200, { timeoutMs: 30_000, what: 'the worker to be ready' });
    // A converter that fails as a bug would (500 internal_error), behind an API key (401).
    const broken: Converter = {
      admit: () => ({ convert: () => Promise.reject(new Error('stand-in converter: a bug')), release: () => undefined }),
      // And no worker ready: /ready answers 503 not_ready.
      stats: () => ({ kind: 'broken', busy: 0, queued: 0, ready: 0 }),
      close: () => Promise.resolve(),
    };
    stand = await startServer({
      config: { ...loadConfig({ DOCMARK_PORT: '0' }), apiKey: 'sesame' },
      converter: broken,
      jobs: false,
      log: () => undefined,
    });
  });
  after(async () => {
    await server?.stop();
    await stand?.close();
  });

  it('POST /convert: 200 as JSON and as bare Markdown', async () => {
    const res = await postPdf(server.url, pdf);
    check('POST', '/convert', res);
    assert.match(res.json.output, /^# Contract Check$/m, res.body);
    // The one-page PDF: this server's time limit is 2 s (for the 504 below), short for a loaded machine.
    const md = await postPdf(server.url, pdf, { accept: 'text/markdown' });
    check('POST', '/convert', md);
    assert.match(md.headers['content-type'] ?? '', /^text\/markdown/, md.body.slice(0, 300));
    const form = multipart(pdf, { output_format: 'json', paginate_output: 'true' });
    const tree = await rawRequest(`${server.url}/convert`, { body: form.body, headers: { 'content-type': form.contentType } });
    check('POST', '/convert', tree);
    assert.equal(tree.json.output_format, 'json');
  });

  it('POST /convert: 400, 413, 415, 422, 431', async () => {
    const none = multipart(undefined, { output_format: 'markdown' });
    const res400 = await rawRequest(`${server.url}/convert`, { body: none.body, headers: { 'content-type': none.contentType } });
    check('POST', '/convert', res400);
    assert.equal(res400.json.error.code, 'no_file');
    check(
      'POST',
      '/convert',
      await rawRequest(`${server.url}/convert?page_range=abc`, { body: pdf, headers: { 'content-type': 'application/pdf' } }),
    );
    const big = await postPdf(server.url, Buffer.concat([pdf, Buffer.alloc(2 * 1024 * 1024)]), { expect: '100-continue' });
    check('POST', '/convert', big);
    assert.equal(big.json.error.code, 'payload_too_large');
    const longQuery = await rawRequest(`${server.url}/convert?page_range=${'0,'.repeat(10_000)}0`, {
      body: pdf,
      headers: { 'content-type': 'application/pdf' },
    });
    check('POST', '/convert', longQuery);
    assert.equal(longQuery.json.error.code, 'headers_too_large');
    const text = await postPdf(server.url, Buffer.from('hello, not a PDF'));
    check('POST', '/convert', text);
    assert.equal(text.json.error.code, 'not_a_pdf');
    const locked = await postPdf(server.url, fs.readFileSync(path.join(CORPUS, 'bad/encrypted-user-password.pdf')));
    check('POST', '/convert', locked);
    assert.equal(locked.json.error.code, 'encrypted_pdf');
  });

  it('POST /convert: 503 with Retry-After when the queue is full, 504 when a conversion is too slow', async () => {
    const stuck = postPdf(server.url, hooked(pdf, 'hang'));
    await waitFor(async () => (await get(`${server.url}/health`)).json.converter.busy === 1, { timeoutMs: 20_000, what: 'the worker to be busy' });
    const full = await postPdf(server.url, pdf);
    check('POST', '/convert', full);
    assert.equal(full.json.error.code, 'queue_full');
    assert.ok(Number(full.headers['retry-after']) >= 1);
    const slow = await stuck;
    check('POST', '/convert', slow);
    assert.equal(slow.json.error.code, 'timeout');
  });

  it('POST /convert: 401 without the key, 500 when the converter fails', async () => {
    const denied = await postPdf(stand.url, pdf);
    check('POST', '/convert', denied);
    assert.ok(denied.headers['www-authenticate']);
    const failed = await postPdf(stand.url, pdf, { authorization: 'Bearer sesame' });
    check('POST', '/convert', failed);
    assert.equal(failed.json.error.code, 'internal_error');
  });

  it('/jobs: 202, 400, 415; status 200 and 404; result 409, 200 and 410; events; DELETE', async () => {
    const submit = (body: Buffer, type = 'application/pdf') => rawRequest(`${server.url}/jobs`, { body, headers: { 'content-type': type } });
    // A conversion that takes a while (a test-only hook): its result is asked for before it ends.
    const slow = await submit(hooked(pdf, 'sleep=1500'));
    check('POST', '/jobs', slow);
    assert.equal(slow.status, 202, slow.body);
    const id = slow.json.id as string;
    const early = await get(`${server.url}/jobs/${id}/result`);
    check('GET', '/jobs/{id}/result', early);
    assert.equal(early.json.error.code, 'job_not_finished');
    const events = await get(`${server.url}/jobs/${id}/events`);
    check('GET', '/jobs/{id}/events', events);
    assert.match(events.body, /event: status/);
    const done = await waitFor(
      async () => {
        const res = await get(`${server.url}/jobs/${id}`);
        return res.json?.status === 'succeeded' ? res : undefined;
      },
      { timeoutMs: 60_000, what: 'the job to succeed' },
    );
    check('GET', '/jobs/{id}', done);
    const result = await get(`${server.url}/jobs/${id}/result`);
    check('GET', '/jobs/{id}/result', result);
    assert.match(result.json.output, /^# Contract Check$/m);
    const unknown = await get(`${server.url}/jobs/no-such-job`);
    check('GET', '/jobs/{id}', unknown);
    assert.equal(unknown.json.error.code, 'not_found');
    check('DELETE', '/jobs/{id}', await rawRequest(`${server.url}/jobs/no-such-job`, { method: 'DELETE' }));
    // Canceled before it runs to its end: its result is gone (410).
    const doomed = await submit(hooked(pdf, 'sleep=3000'));
    const canceled = await rawRequest(`${server.url}/jobs/${doomed.json.id}`, { method: 'DELETE' });
    check('DELETE', '/jobs/{id}', canceled);
    assert.equal(canceled.json.status, 'canceled');
    const gone = await get(`${server.url}/jobs/${doomed.json.id}/result`);
    check('GET', '/jobs/{id}/result', gone);
    assert.equal(gone.json.error.code, 'job_canceled');
    const none = multipart(undefined, { output_format: 'markdown' });
    check('POST', '/jobs', await rawRequest(`${server.url}/jobs`, { body: none.body, headers: { 'content-type': none.contentType } }));
    check('POST', '/jobs', await submit(Buffer.from('hello, not a PDF')));
  });

  it('GET /health, /ready, /metrics, /status.json, /openapi.json', async () => {
    check('GET', '/health', await get(`${server.url}/health`));
    check('GET', '/ready', await get(`${server.url}/ready`));
    const notReady = await get(`${stand.url}/ready`);
    checkError(notReady, 503, 'not_ready');
    check('GET', '/ready', notReady);
    const metrics = await get(`${server.url}/metrics`);
    check('GET', '/metrics', metrics);
    assert.match(metrics.body, /docmark_conversions_total/);
    const status = await get(`${server.url}/status.json`);
    check('GET', '/status.json', status);
    assert.equal(status.json.instances.length, 1);
    const doc = await get(`${server.url}/openapi.json`);
    check('GET', '/openapi.json', doc);
    assert.deepEqual(doc.json, JSON.parse(JSON.stringify(OPENAPI)));
  });

  it('the pages: HTML with the CSP, no inline script, every script and style they load served', async () => {
    for (const page of ['/', '/status', '/docs']) {
      const res = await get(`${server.url}${page}`);
      check('GET', page, res);
      assert.equal(res.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
      assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe/);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      // Scripts only by src=, no inline handlers or styles (the CSP would block them anyway).
      assert.doesNotMatch(res.body, /<script(?![^>]*\bsrc=)[^>]*>/i);
      assert.doesNotMatch(res.body, /\son[a-z]+=|\sstyle=/i);
      for (const [, url] of res.body.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) {
        const asset = await get(`${server.url}${url}`);
        assert.equal(asset.status, 200, url);
      }
    }
  });

  it('GET /assets/{file}: 200 with caching headers and the right type, 304 on a matching ETag, 404 for anything else', async () => {
    const js = await get(`${server.url}/assets/try.js`);
    check('GET', '/assets/{file}', js);
    assert.match(js.headers['content-type'] ?? '', /^text\/javascript/);
    assert.equal(js.headers['cache-control'], 'no-cache');
    assert.match(String(js.headers.etag), /^"[\w-]+"$/);
    const worker = await get(`${server.url}/assets/pdfjs/pdf.worker.mjs`);
    assert.equal(worker.status, 200);
    assert.match(worker.headers['content-type'] ?? '', /^text\/javascript/);
    const css = await get(`${server.url}/assets/lib/uPlot.min.css`);
    assert.match(css.headers['content-type'] ?? '', /^text\/css/);
    const again = await get(`${server.url}/assets/try.js`, { 'if-none-match': String(js.headers.etag) });
    check('GET', '/assets/{file}', again);
    assert.equal(again.status, 304);
    assert.equal(again.body, '');
    for (const probe of [
      '/assets/nope.js',
      '/assets/../package.json',
      '/assets/%2e%2e/%2e%2e/package.json',
      '/assets/pdfjs/../../../package.json',
      '/assets/pdfjs/cmaps/',
    ]) {
      const res = await get(`${server.url}${probe}`);
      assert.ok(res.status === 404, `${probe}: ${res.status}`);
      assert.doesNotMatch(res.body, /"name":\s*"docmark"/);
      if (probe === '/assets/nope.js') check('GET', '/assets/{file}', res);
    }
  });

  it('404 and 405 outside any operation have the Error shape', async () => {
    checkError(await get(`${server.url}/nope`), 404, 'not_found');
    checkError(await rawRequest(`${server.url}/status.json`, { method: 'POST', body: Buffer.from('x') }), 405, 'method_not_allowed');
  });

  it('produced every documented status of every operation', () => {
    const missing = [...documented()].filter((k) => !seen.has(k));
    assert.deepEqual(missing, []);
  });
});
