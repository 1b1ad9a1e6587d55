import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { multipart, rawRequest } from './helpers/http.ts';
import { makePdf } from './helpers/pdf.ts';
import { CORPUS, startServerProcess, type ServerProcess } from './helpers/server.ts';

const bad = (name: string): Buffer => fs.readFileSync(path.join(CORPUS, 'bad', name));

describe('HTTP API', () => {
  let server: ServerProcess;
  let fixture: Buffer;
  const tmpBefore = new Set(fs.readdirSync(os.tmpdir()));

  before(async () => {
    server = await startServerProcess({ DOCMARK_MAX_UPLOAD_MB: '2', DOCMARK_MAX_PAGES: '500' });
    fixture = Buffer.from(
      await makePdf([
        {
          heading: 'Quarterly Report',
          paragraphs: ['The first paragraph talks about revenue and costs in some detail.', 'A second paragraph follows it.'],
        },
        { heading: 'Appendix', paragraphs: ['Closing remarks on the second page.'] },
      ]),
    );
  });
  after(async () => {
    await server?.stop();
  });

  const postFile = (file: Buffer | undefined, fields: Record<string, string> = {}, query = '', headers: Record<string, string> = {}) => {
    const { body, contentType } = multipart(file, fields);
    return rawRequest(`${server.url}/convert${query}`, { body, headers: { 'content-type': contentType, ...headers } });
  };
  const postRaw = (body: Buffer, query = '', headers: Record<string, string> = {}) =>
    rawRequest(`${server.url}/convert${query}`, { body, headers: { 'content-type': 'application/pdf', ...headers } });

  const assertError = (res: { status: number; json: any }, status: number, code: string) => {
    assert.equal(res.status, status, JSON.stringify(res.json));
    assert.equal(res.json?.success, false);
    assert.equal(res.json.error.code, code);
    assert.ok(typeof res.json.error.message === 'string' && res.json.error.message.length > 10);
  };

  it('converts a multipart upload to Markdown with metadata', async () => {
    const res = await postFile(fixture);
    assert.equal(res.status, 200);
    assert.equal(res.json.success, true);
    assert.equal(res.json.output_format, 'markdown');
    assert.match(res.json.output, /^# Quarterly Report$/m);
    assert.match(res.json.output, /The first paragraph talks about revenue and costs in some detail\./);
    assert.match(res.json.output, /^# Appendix$/m);
    assert.equal(res.json.metadata.pages, 2);
    assert.equal(typeof res.json.metadata.duration_ms, 'number');
    assert.equal(res.json.metadata.filename, 'doc.pdf');
  });

  it('converts a raw application/pdf body and answers bare Markdown for Accept: text/markdown', async () => {
    const res = await postRaw(fixture, '', { accept: 'text/markdown' });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/markdown/);
    assert.match(res.body, /^# Quarterly Report$/m);
    assert.equal(res.headers['x-docmark-pages'], '2');
  });

  it('honours output_format, page_range and paginate_output, from query or form fields', async () => {
    const json = await postFile(fixture, { output_format: 'json' });
    assert.equal(json.status, 200);
    const tree = JSON.parse(json.json.output);
    assert.ok(tree.blocks.some((b: any) => b.type === 'heading' && b.text === 'Quarterly Report' && b.page === 0));
    const html = await postRaw(fixture, '?output_format=html');
    assert.match(html.json.output, /<h1>Quarterly Report<\/h1>/);
    const one = await postRaw(fixture, '?page_range=1');
    assert.equal(one.json.metadata.pages, 1);
    assert.doesNotMatch(one.json.output, /Quarterly/);
    assert.match(one.json.output, /Appendix/);
    const paged = await postFile(fixture, { paginate_output: 'true' });
    assert.match(paged.json.output, /\{1\}-{10,}/);
  });

  it('converts a corpus document', async () => {
    const res = await postRaw(fs.readFileSync(path.join(CORPUS, 'passport.pdf')));
    assert.equal(res.status, 200);
    assert.match(res.json.output, /Passport is \[?Express\]?(\([^)]*\))?-compatible authentication middleware for \[?Node\.js/);
    assert.ok(res.json.metadata.pages >= 2);
  });

  it('400 for no file, an empty file and bad option values', async () => {
    assertError(await postFile(undefined, { output_format: 'markdown' }), 400, 'no_file');
    assertError(await rawRequest(`${server.url}/convert`, { headers: { 'content-type': 'application/pdf', 'content-length': '0' } }), 400, 'no_file');
    assertError(await postFile(Buffer.alloc(0)), 400, 'empty_file');
    assertError(await postFile(bad('empty.pdf')), 400, 'empty_file');
    assertError(await postRaw(fixture, '?page_range=abc'), 400, 'invalid_option');
    assertError(await postRaw(fixture, '?output_format=doc'), 400, 'invalid_option');
    assertError(await postFile(fixture, { output_format: 'doc' }), 400, 'invalid_option');
    assertError(await postRaw(fixture, '?force_ocr=maybe'), 400, 'invalid_option');
    const outside = await postRaw(fixture, '?page_range=0,7');
    assertError(outside, 400, 'invalid_option');
    assert.match(outside.json.error.message, /2 pages/);
  });

  it('413 when the upload is over the limit, without reading it all', async () => {
    const big = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(5 * 1024 * 1024, 0x20)]);
    // Expect: 100-continue (as curl sends for large bodies): refused before the body is sent.
    assertError(await postRaw(big, '', { expect: '100-continue' }), 413, 'payload_too_large');
    assertError(await postFile(big, {}, '', { expect: '100-continue' }), 413, 'payload_too_large');
    // Within the limit, the body is invited and converted.
    assert.equal((await postRaw(fixture, '', { expect: '100-continue' })).status, 200);
    // Chunked upload without a length: the limit is enforced while reading; the
    // status line arrives while the client is still sending.
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        `${server.url}/convert`,
        { method: 'POST', headers: { 'content-type': 'application/pdf', 'transfer-encoding': 'chunked' } },
        (res) => {
          resolve(res.statusCode!);
          res.resume();
        },
      );
      req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e)));
      req.on('close', () => reject(new Error('closed without a response')));
      let sent = 0;
      const pump = (): void => {
        while (sent < 6 * 1024 * 1024) {
          sent += 64 * 1024;
          if (!req.write(Buffer.alloc(64 * 1024, 0x20))) return void req.once('drain', pump);
        }
        req.end();
      };
      req.write('%PDF-1.7\n');
      pump();
    });
    assert.equal(status, 413);
  });

  it('415 for a file that is not a PDF, decided by content, not name or content type', async () => {
    assertError(await postFile(bad('not-a-pdf.pdf')), 415, 'not_a_pdf');
    assertError(await postRaw(bad('not-a-pdf.pdf')), 415, 'not_a_pdf');
    // A real PDF with a misleading name and content type is still converted.
    const named = multipart(fixture, {}, 'notes.txt');
    const res = await rawRequest(`${server.url}/convert`, { body: named.body, headers: { 'content-type': named.contentType } });
    assert.equal(res.status, 200);
    const octet = await postRaw(fixture, '', { 'content-type': 'application/octet-stream' });
    assert.equal(octet.status, 200);
    assert.equal(res.status, 200);
  });

  it('422 for truncated, encrypted and page-bomb PDFs, each with its own code', async () => {
    assertError(await postRaw(bad('truncated.pdf')), 422, 'damaged_pdf');
    const enc = await postRaw(bad('encrypted-user-password.pdf'));
    assertError(enc, 422, 'encrypted_pdf');
    assert.match(enc.json.error.message, /encrypted/i);
    assertError(await postRaw(bad('encrypted-user-password.pdf'), '?password=wrong'), 422, 'incorrect_password');
    const unlocked = await postRaw(bad('encrypted-user-password.pdf'), '?password=secret-user');
    assert.equal(unlocked.status, 200);
    assert.match(unlocked.json.output, /Passport/);
    const bomb = await postRaw(bad('many-pages-2000.pdf'));
    assertError(bomb, 422, 'too_many_pages');
    assert.match(bomb.json.error.message, /2000 pages/);
  });

  it('converts the one real page of a cyclic page tree and reports the page it could not read', async () => {
    const res = await postRaw(bad('cyclic-page-tree.pdf'));
    assert.equal(res.status, 200, res.body);
    assert.match(res.json.output, /^Page tree with a cycle$/m);
    assert.match(res.json.output, /<!-- docmark: Page 2 could not be read: .*circular.* -->/);
    assert.deepEqual(
      res.json.metadata.failed_pages.map((f: { page: number; code: string }) => [f.page, f.code]),
      [[1, 'damaged_pdf']],
    );
    // Bare Markdown answers carry the same list in a header.
    const md = await rawRequest(`${server.url}/convert`, {
      body: bad('cyclic-page-tree.pdf'),
      headers: { 'content-type': 'application/pdf', accept: 'text/markdown' },
    });
    assert.equal(md.status, 200);
    assert.equal(md.headers['x-docmark-failed-pages'], '1');
    assert.match(md.body, /Page tree with a cycle/);
  });

  it('recovers what it can from a PDF with a broken xref table', async () => {
    const res = await postRaw(bad('broken-xref.pdf'));
    assert.equal(res.status, 200);
    assert.match(res.json.output, /Passport/);
  });

  it('404 for an unknown route and 405 for a wrong method', async () => {
    assertError(await rawRequest(`${server.url}/nope`, { method: 'GET' }), 404, 'not_found');
    const res = await rawRequest(`${server.url}/convert`, { method: 'GET' });
    assertError(res, 405, 'method_not_allowed');
    assert.equal(res.headers.allow, 'POST');
    assertError(await rawRequest(`${server.url}/health`, { method: 'DELETE' }), 405, 'method_not_allowed');
  });

  it('keeps serving after 50 bad uploads in a row, then converts a good PDF correctly', async () => {
    const bads = [
      () => postRaw(bad('truncated.pdf')),
      () => postRaw(bad('not-a-pdf.pdf')),
      () => postFile(Buffer.alloc(0)),
      () => postRaw(bad('encrypted-user-password.pdf')),
      () => postRaw(bad('many-pages-2000.pdf')),
      () => postRaw(fixture, '?page_range=x'),
    ];
    for (let i = 0; i < 50; i++) {
      const res = await bads[i % bads.length]();
      assert.ok(res.status >= 400 && res.status < 500, `bad upload ${i} got ${res.status}`);
      assert.equal(res.json.success, false);
    }
    const good = await postRaw(fixture);
    assert.equal(good.status, 200);
    assert.match(good.json.output, /^# Quarterly Report$/m);
    const health = await rawRequest(`${server.url}/health`, { method: 'GET' });
    assert.equal(health.json.status, 'ok');
  });

  it('GET /health reports process, limits and host figures', async () => {
    const res = await rawRequest(`${server.url}/health`, { method: 'GET' });
    assert.equal(res.status, 200);
    const h = res.json;
    assert.equal(h.status, 'ok');
    assert.equal(h.pid, server.child.pid);
    assert.ok(h.uptime_s >= 0);
    assert.ok(h.conversions >= 1, 'conversions counted');
    assert.ok(h.memory_usage_gb > 0 && h.memory_usage_gb < 8);
    assert.ok(h.memory.heap_used_mb > 0 && h.memory.heap_total_mb >= h.memory.heap_used_mb);
    assert.equal(h.limits.max_upload_mb, 2);
    assert.equal(h.limits.max_pages, 500);
    assert.equal(h.limits.ocr_page_s, 60);
    // Outside PM2 one instance; by default its workers and their OCR threads fit the cores.
    const cores = os.availableParallelism();
    assert.deepEqual(h.capacity, { workers: cores, instances: 1, ocr_threads: 1, concurrency: cores });
    assert.equal(h.converter.workers, h.capacity.workers);
    assert.equal(h.host.cpu_count, os.availableParallelism());
    assert.ok(h.host.mem_total_gb > 0, 'host memory sampled by systeminformation');
    assert.ok(h.host.mem_available_gb > 0);
  });

  it('GET /metrics is Prometheus text with conversion counters', async () => {
    const res = await rawRequest(`${server.url}/metrics`, { method: 'GET' });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /text\/plain/);
    // Every series names the instance that answered (none outside PM2).
    assert.match(res.body, /^docmark_conversions_total\{outcome="ok",code="ok",pm2_instance="none"\} \d+/m);
    assert.match(res.body, /^docmark_conversions_total\{outcome="client_error",code="damaged_pdf",pm2_instance="none"\} \d+/m);
    assert.match(res.body, /^docmark_pages_total\{pm2_instance="none"\} \d+/m);
    assert.match(res.body, /^docmark_worker_events\{event="tasks_done",pm2_instance="none"\} [1-9]\d*/m);
    assert.match(res.body, /^docmark_process_resident_memory_bytes\{pm2_instance="none"\} \d+/m);
  });

  it('leaves no temporary files behind', () => {
    const added = fs.readdirSync(os.tmpdir()).filter((f) => !tmpBefore.has(f) && /docmark|pdf|upload/i.test(f));
    assert.deepEqual(added, []);
  });
});

describe('capacity defaults', () => {
  it('fit instances × workers × OCR threads within the cores, under PM2 and outside', async () => {
    const { loadConfig } = await import('../src/config.ts');
    const cores = os.availableParallelism();
    for (const instances of [1, 2, 3, cores, cores * 2]) {
      const c = loadConfig({ pm_id: '0', DOCMARK_INSTANCES: String(instances) });
      assert.equal(c.instances, instances);
      assert.ok(c.workers >= 1 && c.ocrThreads >= 1);
      // Every instance gets at least one worker, even with more instances than cores.
      assert.ok(
        instances * c.workers * c.ocrThreads <= Math.max(cores, instances),
        `${instances} instances: ${c.workers} workers × ${c.ocrThreads} threads`,
      );
      if (instances <= cores) assert.equal(c.workers, Math.floor(cores / instances));
    }
    // Outside PM2 the instance count does not apply: one instance takes the machine.
    assert.equal(loadConfig({ DOCMARK_INSTANCES: '2' }).instances, 1);
    assert.equal(loadConfig({ DOCMARK_INSTANCES: '2' }).workers, cores);
    // Fewer workers set by hand: the OCR threads take up the cores they leave.
    assert.equal(loadConfig({ DOCMARK_WORKERS: '1' }).ocrThreads, cores);
    assert.equal(loadConfig({ DOCMARK_WORKERS: '1', DOCMARK_OCR_THREADS: '1' }).ocrThreads, 1);
  });
});
