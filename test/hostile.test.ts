import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { OPTION_NAMES } from '../src/engine/options.ts';
import { flateBomb, pdfWithLinks, pdfWithPages } from './helpers/hostile-pdf.ts';
import { multipart, rawRequest, type RawResponse } from './helpers/http.ts';
import { startServerProcess, type ServerProcess } from './helpers/server.ts';

// A hostile client against the real server over real HTTP: numbers far past any limit in every
// option (query and form), oversized request lines and headers, malformed multipart bodies,
// links to script, decompression bombs. Every request gets a JSON answer (4xx, or 200 where the
// request is in fact valid) in bounded time, and the server is healthy afterwards. Concurrent
// big uploads, admission, 100-continue and aborted uploads are the pool's tests (limits.test.ts).

/** Far below the conversion time limit and far above any real answer here: a hang fails, noise does not. */
const ANSWER_MS = 20_000;
const MB = 1024 * 1024;

let server: ServerProcess;
let port: number;
let pdf: Buffer;

before(async () => {
  server = await startServerProcess({
    DOCMARK_WORKERS: '1',
    DOCMARK_MAX_PAGES: '50',
    DOCMARK_MAX_INFLATE_MB: '16',
    DOCMARK_MAX_UPLOAD_MB: '8',
    DOCMARK_TIMEOUT_S: '60',
  });
  port = Number(new URL(server.url).port);
  pdf = pdfWithPages([{ text: 1 }, { text: 2 }]);
});
after(async () => {
  await server?.stop();
});

/** rawRequest with a deadline: a request that is never answered fails the test instead of hanging it. */
async function answered(url: string, init: Parameters<typeof rawRequest>[1]): Promise<RawResponse & { ms: number }> {
  const t0 = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ANSWER_MS} ms: ${url.slice(0, 200)}`)), ANSWER_MS);
  });
  try {
    const res = await Promise.race([rawRequest(url, init), deadline]);
    return { ...res, ms: Date.now() - t0 };
  } finally {
    clearTimeout(timer);
  }
}

/** Exactly these bytes on a fresh connection; the answer as the server wrote it, until it closes. */
function exchange(bytes: Buffer | string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${ANSWER_MS} ms`));
    }, ANSWER_MS);
    const finish = (): void => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const [head, ...rest] = text.split('\r\n\r\n');
      const body = rest.join('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      resolve({ status, headers: {}, body: text, json });
    };
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      // One answer is all we wait for: complete once the JSON body has arrived.
      const text = Buffer.concat(chunks).toString('utf8');
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(text)?.[1]);
      const start = text.indexOf('\r\n\r\n');
      if (start !== -1 && Number.isFinite(length) && Buffer.byteLength(text.slice(start + 4)) >= length) socket.end();
    });
    socket.on('close', finish);
    socket.on('error', () => undefined);
    socket.write(bytes);
  });
}

function assertJsonError(res: RawResponse & { ms?: number }, status: number, code: string, what: string): void {
  assert.equal(res.status, status, `${what}: ${res.status} ${res.body.slice(0, 300)}`);
  assert.equal(res.json?.success, false, what);
  assert.equal(res.json.error.code, code, what);
  assert.ok(res.json.error.message.length > 10, what);
}

const post = (query: string, fields: Record<string, string> = {}, file: Buffer = pdf) => {
  const { body, contentType } = multipart(file, fields);
  return answered(`${server.url}/convert${query}`, { body, headers: { 'content-type': contentType } });
};

describe('hostile clients over HTTP', { timeout: 10 * 60_000 }, () => {
  const HUGE = ['9007199254740993', '1e308', '-1', '99999999999999999999999999999999', '0x7fffffffffffffff', 'x'.repeat(5000)];

  for (const where of ['query', 'form'] as const) {
    it(`refuses a number past any limit in every option (${where}) at once`, async () => {
      for (const name of OPTION_NAMES) {
        for (const value of HUGE) {
          const res = where === 'query' ? await post(`?${name}=${encodeURIComponent(value)}`) : await post('', { [name]: value });
          const what = `${where} ${name}=${value.slice(0, 40)}`;
          // Any short text is a password (this PDF has none to check it against).
          if (name === 'password' && value.length <= 1024) {
            assert.equal(res.status, 200, `${what}: ${res.body.slice(0, 300)}`);
            continue;
          }
          assertJsonError(res, 400, 'invalid_option', what);
        }
      }
    });
  }

  it('answers the page_range that froze the server, and pages past the limit, at once', async () => {
    for (const range of ['9007199254740993', '0-9007199254740993', '0-49,9007199254740992', '50']) {
      const res = await post(`?page_range=${range}`);
      assertJsonError(res, 400, 'invalid_option', range);
      assert.ok(res.ms < 5_000, `${range}: ${res.ms} ms`);
    }
    const ok = await post('?page_range=1');
    assert.equal(ok.status, 200, ok.body);
    assert.match(ok.json.output, /Readable page 2/);
    assert.doesNotMatch(ok.json.output, /Readable page 1/);
  });

  it('refuses unknown options by name, in the query and in the form', async () => {
    for (const res of [
      await post('?format=json'),
      await post('', { format: 'json' }),
      await post('?__proto__=x'),
      await post('', Object.fromEntries([['__proto__', 'x']])),
      await post('', { constructor: 'y' }),
    ]) {
      assertJsonError(res, 400, 'invalid_option', 'unknown option');
      assert.match(res.json.error.message, /Known options: output_format, page_range/);
    }
    assert.match((await post('?format=json')).json.error.message, /Did you mean output_format\?/);
  });

  it('answers a 64 KB query string and 64 KB headers with JSON, not a bare status line', async () => {
    const big = 'a'.repeat(64 * 1024);
    assertJsonError(
      await answered(`${server.url}/convert?page_range=${big}`, { body: pdf, headers: { 'content-type': 'application/pdf' } }),
      431,
      'headers_too_large',
      'query',
    );
    assertJsonError(await answered(`${server.url}/health`, { method: 'GET', headers: { 'x-pad': big } }), 431, 'headers_too_large', 'header');
    assertJsonError(
      await answered(`${server.url}/convert`, { body: pdf, headers: { authorization: `Bearer ${big}` } }),
      431,
      'headers_too_large',
      'authorization',
    );
    const many = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`x-h${i}`, 'v'.repeat(30)]));
    assertJsonError(await answered(`${server.url}/health`, { method: 'GET', headers: many }), 431, 'headers_too_large', '2000 headers');
  });

  it('answers numbers past any limit in headers', async () => {
    // Past 2^53 but a valid length: over the upload limit, refused before reading.
    const declared = await exchange(
      `POST /convert HTTP/1.1\r\nHost: x\r\nContent-Type: application/pdf\r\nContent-Length: 9007199254740993\r\n\r\n%PDF-`,
    );
    assertJsonError(declared, 413, 'payload_too_large', `content-length 2^53+1: ${JSON.stringify(declared.body)}`);
    for (const length of ['99999999999999999999999', '-1', '1e3', '0x10']) {
      const res = await exchange(`POST /convert HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n`);
      assertJsonError(res, 400, 'malformed_request', `content-length ${length}`);
    }
    assertJsonError(await exchange('GET /health HTTP/1.1\r\nHost: x\r\nBad Header Name: 1\r\n\r\n'), 400, 'malformed_request', 'bad header');
    assertJsonError(await exchange('NOT-HTTP\r\n\r\n'), 400, 'malformed_request', 'no request line');
  });

  it('answers malformed multipart bodies with a JSON 400', async () => {
    const req = (type: string, body: string | Buffer): string | Buffer =>
      Buffer.concat([
        Buffer.from(`POST /convert HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`),
        Buffer.from(body),
      ]);
    const part = (name: string, value: string, extra = ''): string =>
      `--b\r\nContent-Disposition: form-data; name="${name}"${extra}\r\n\r\n${value}\r\n`;
    const file = (bytes: string): string =>
      `--b\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n${bytes}\r\n`;
    const cases: Array<[string, string | Buffer, string]> = [
      ['no boundary', req('multipart/form-data', file('%PDF-1.4')), 'invalid_option'],
      ['never closed', req('multipart/form-data; boundary=b', `${file('%PDF-1.4 and then nothing')}`), 'invalid_option'],
      ['garbage', req('multipart/form-data; boundary=b', 'garbage with no boundary at all'), 'invalid_option'],
      [
        'part headers too long',
        req(
          'multipart/form-data; boundary=b',
          `--b\r\nContent-Disposition: form-data; name="file"; filename="${'a'.repeat(70_000)}"\r\n\r\n%PDF-\r\n--b--\r\n`,
        ),
        'invalid_option',
      ],
      [
        'file after the parts limit',
        req('multipart/form-data; boundary=b', `${Array.from({ length: 200 }, (_, i) => part(`f${i}`, 'x')).join('')}${file('%PDF-1.4')}--b--\r\n`),
        'no_file',
      ],
      [
        'a field too long',
        req('multipart/form-data; boundary=b', `${part('page_range', '1,'.repeat(40_000))}${file('%PDF-1.4')}--b--\r\n`),
        'invalid_option',
      ],
    ];
    for (const [what, bytes, code] of cases) assertJsonError(await exchange(bytes), 400, code, what);
  });

  it('keeps the text of script links and drops the links, in every format', async () => {
    const links = await pdfWithLinks([
      { text: 'Cookie thief', uri: 'javascript:alert(document.cookie)' },
      { text: 'Data page', uri: 'data:text/html,<script>alert(1)</script>' },
      { text: 'Hidden thief', uri: ' JAVA\tSCRIPT:alert(1)' },
      { text: 'Real docs', uri: 'https://example.org/x)"><script>' },
    ]);
    for (const format of ['markdown', 'json', 'html']) {
      const res = await post(`?output_format=${format}`, {}, Buffer.from(links));
      assert.equal(res.status, 200, res.body.slice(0, 300));
      const output: string = res.json.output;
      for (const text of ['Cookie thief', 'Data page', 'Hidden thief', 'Real docs']) assert.ok(output.includes(text), `${format}: ${text}`);
      assert.doesNotMatch(output, /javascript|data:text|<script/i, format);
      assert.ok(output.includes('https://example.org/x%29%22%3E%3Cscript%3E'), `${format}: ${output.slice(0, 500)}`);
    }
  });

  it('answers a decompression bomb with 422 decompression_limit, or loses only the bombed page', async () => {
    const bomb = await flateBomb(256 * MB);
    assert.ok(bomb.length < MB);
    const whole = await post('', {}, pdfWithPages([{ filter: '/FlateDecode', data: bomb }]));
    assertJsonError(whole, 422, 'decompression_limit', 'every page a bomb');
    const mixed = await post('', {}, pdfWithPages([{ text: 1 }, { filter: '/FlateDecode', data: bomb }]));
    assert.equal(mixed.status, 200, mixed.body.slice(0, 300));
    assert.match(mixed.json.output, /Readable page 1/);
    assert.deepEqual(
      mixed.json.metadata.failed_pages.map((f: { page: number; code: string }) => [f.page, f.code]),
      [[1, 'decompression_limit']],
    );
  });

  it('is healthy afterwards: no worker lost, nothing in flight, no error logged', async () => {
    const res = await answered(`${server.url}/health`, { method: 'GET' });
    assert.equal(res.status, 200);
    assert.equal(res.json.status, 'ok');
    assert.equal(res.json.converter.busy, 0);
    assert.equal(res.json.converter.crashes, 0);
    assert.equal(res.json.converter.timeouts, 0);
    assert.equal(server.child.exitCode, null);
    assert.ok(!server.logs.some((l) => l.level === 'error'), JSON.stringify(server.logs.filter((l) => l.level === 'error')));
    const ok = await post('');
    assert.equal(ok.status, 200);
  });
});
