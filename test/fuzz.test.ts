import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { multipart, rawRequest, type RawResponse } from './helpers/http.ts';
import { CORPUS, startServerProcess, type ServerProcess } from './helpers/server.ts';

// Hostile input: corpus PDFs mutated with a FIXED seed (flipped bytes, truncations, spliced
// and overwritten objects) and every file of corpus/bad/. Each answer must be a 200 or a JSON
// 4xx naming the problem, within the time limit; never a 5xx, a crash or a hang; the server is
// healthy afterwards. A failing case prints its seed and mutation, so it can be reproduced.

const SEED = 0xd0c3a7;
const CASES_PER_KIND = 15;
const TIMEOUT_S = 120; // the default: mutated fonts can send pages to OCR, which is slow but legitimate
// Below the page count of corpus/bad/many-pages-2000.pdf, so the page limit is what answers it.
const MAX_PAGES = 1000;
// Short documents (2–4 pages): a mutation that breaks a font sends every page to OCR, which is slow.
const SOURCES = ['passport.pdf', 'got.pdf', 'chokidar.pdf', 'bcrypt.pdf'];

/** mulberry32: small, fast and the same everywhere. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Case {
  name: string;
  bytes: Buffer;
}

/** Byte ranges of `N G obj … endobj` in a PDF. */
function objects(pdf: Buffer): Array<[number, number]> {
  const text = pdf.toString('latin1');
  const found: Array<[number, number]> = [];
  const re = /\d+ \d+ obj\b/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const end = text.indexOf('endobj', m.index);
    if (end === -1) break;
    found.push([m.index, end + 'endobj'.length]);
    re.lastIndex = end;
  }
  return found;
}

function mutatedCases(): Case[] {
  const rand = prng(SEED);
  const int = (n: number): number => Math.floor(rand() * n);
  const pick = <T>(xs: T[]): T => xs[int(xs.length)];
  const sources = SOURCES.map((name) => ({ name, bytes: fs.readFileSync(path.join(CORPUS, name)) }));
  const cases: Case[] = [];
  for (let i = 0; i < CASES_PER_KIND; i++) {
    // Flipped bytes: a few anywhere (the header too, sometimes).
    {
      const src = pick(sources);
      const bytes = Buffer.from(src.bytes);
      const flips = 1 + int(24);
      for (let f = 0; f < flips; f++) bytes[int(bytes.length)] ^= 1 + int(255);
      cases.push({ name: `flip#${i} ${src.name} ×${flips}`, bytes });
    }
    // Truncated anywhere, from a few bytes to almost everything.
    {
      const src = pick(sources);
      const at = 1 + int(src.bytes.length - 1);
      cases.push({ name: `truncate#${i} ${src.name} at ${at}`, bytes: Buffer.from(src.bytes.subarray(0, at)) });
    }
    // Spliced objects: an object of another PDF inserted where one of this PDF's begins
    // (object numbers clash, xref offsets shift).
    {
      const src = pick(sources);
      const donor = pick(sources);
      const [from, to] = pick(objects(donor.bytes));
      const [at] = pick(objects(src.bytes));
      const bytes = Buffer.concat([src.bytes.subarray(0, at), donor.bytes.subarray(from, to), Buffer.from('\n'), src.bytes.subarray(at)]);
      cases.push({ name: `splice#${i} ${donor.name}[${from}..${to}] into ${src.name} at ${at}`, bytes });
    }
    // Overwritten: a chunk of another PDF written over a chunk of this one (broken streams,
    // dictionaries cut in half), same length so xref offsets still point somewhere.
    {
      const src = pick(sources);
      const donor = pick(sources);
      const len = 16 + int(4096);
      const from = int(donor.bytes.length - len);
      const at = int(src.bytes.length - len);
      const bytes = Buffer.from(src.bytes);
      donor.bytes.copy(bytes, at, from, from + len);
      cases.push({ name: `overwrite#${i} ${donor.name}[${from}+${len}] over ${src.name} at ${at}`, bytes });
    }
  }
  return cases;
}

describe('fuzz: mutated and bad PDFs', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServerProcess({ DOCMARK_WORKERS: '2', DOCMARK_TIMEOUT_S: String(TIMEOUT_S), DOCMARK_MAX_PAGES: String(MAX_PAGES) });
  });
  after(async () => {
    await server?.stop();
  });

  const convert = async (bytes: Buffer, fields: Record<string, string> = {}): Promise<RawResponse & { ms: number }> => {
    const { body, contentType } = multipart(bytes, fields);
    const t0 = Date.now();
    const res = await rawRequest(`${server.url}/convert`, { body, headers: { 'content-type': contentType } });
    return { ...res, ms: Date.now() - t0 };
  };

  /**
   * A 200 with output that accounts for every page (converted, or listed as failed with a
   * reason), or a JSON 4xx with a code and a message; nothing else.
   */
  const assertHandled = (res: RawResponse & { ms: number }, name: string): void => {
    const what = `${name}: ${res.status} ${res.body.slice(0, 300)}`;
    assert.ok(res.ms < TIMEOUT_S * 1000, `${what} took ${res.ms} ms`);
    if (res.status === 200) {
      assert.equal(res.json?.success, true, what);
      assert.equal(typeof res.json.output, 'string', what);
      const { pages, page_count, failed_pages } = res.json.metadata;
      assert.ok(Number.isInteger(pages) && pages >= 1 && pages <= page_count && page_count <= MAX_PAGES, what);
      assert.ok(failed_pages.length < pages, `${what}: a 200 has at least one readable page`);
      for (const f of failed_pages) {
        assert.ok(Number.isInteger(f.page) && f.page >= 0 && f.page < page_count, what);
        assert.match(f.code, /^[a-z_]+$/, what);
      }
      // Each loss is marked where the page was, not only in the metadata.
      assert.equal(res.json.output.split('<!-- docmark:').length - 1, failed_pages.length, what);
      return;
    }
    assert.ok(res.status >= 400 && res.status < 500, what);
    assert.equal(res.json?.success, false, what);
    assert.match(res.json.error.code, /^[a-z_]+$/, what);
    assert.ok(res.json.error.message.length > 10, what);
  };

  it(`answers ${CASES_PER_KIND * 4} mutated corpus PDFs (seed ${SEED}) with a 200 or a JSON 4xx`, async (t) => {
    const cases = mutatedCases();
    const outcomes = new Map<string, number>();
    const slowest = { ms: 0, name: '' };
    // Two at a time, as many as there are workers.
    for (let i = 0; i < cases.length; i += 2) {
      const batch = cases.slice(i, i + 2);
      const answers = await Promise.all(batch.map((c) => convert(c.bytes)));
      answers.forEach((res, k) => {
        assertHandled(res, batch[k].name);
        if (res.ms > slowest.ms) Object.assign(slowest, { ms: res.ms, name: batch[k].name });
        const key = res.status === 200 ? '200' : `${res.status} ${res.json.error.code}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      });
    }
    t.diagnostic(`outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}; slowest: ${slowest.name} (${slowest.ms} ms)`);
    // The mutations must actually hurt some files, or this test proves nothing.
    assert.ok(
      [...outcomes.keys()].some((k) => k !== '200'),
      `outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`,
    );
    assert.ok(outcomes.get('200'), 'some damage is recoverable');
  });

  const bad = (name: string): Buffer => fs.readFileSync(path.join(CORPUS, 'bad', name));

  it('handles every file in corpus/bad as its README says', async (t) => {
    const status = (res: RawResponse, code: number, error?: string): void => {
      assert.equal(res.status, code, res.body.slice(0, 300));
      if (error) assert.equal(res.json.error.code, error);
    };
    const expectations: Record<string, (res: RawResponse & { ms: number }) => void> = {
      // Cut inside a stream, with no xref or trailer: pdfjs cannot rebuild it.
      'truncated.pdf': (res) => status(res, 422, 'damaged_pdf'),
      // Every offset is wrong: the objects are found by scanning, and the page converts.
      'broken-xref.pdf': (res) => {
        status(res, 200);
        assert.match(res.json.output, /^# Passport$/m);
        assert.deepEqual(res.json.metadata.failed_pages, []);
      },
      'encrypted-user-password.pdf': (res) => status(res, 422, 'encrypted_pdf'),
      'empty.pdf': (res) => status(res, 400, 'empty_file'),
      'not-a-pdf.pdf': (res) => status(res, 415, 'not_a_pdf'),
      // Over this server's page limit: refused as soon as the page count is known.
      'many-pages-2000.pdf': (res) => {
        status(res, 422, 'too_many_pages');
        assert.match(res.json.error.message, /2000 pages.*at most 1000/);
        assert.ok(res.ms < 30_000, `2000 blank pages took ${res.ms} ms to refuse`);
      },
      'huge-page.pdf': (res) => {
        // The text layer is cheap whatever the page size: the two lines come out.
        status(res, 200);
        assert.match(res.json.output, /Huge page: 14400 x 14400 pt/);
        assert.match(res.json.output, /Bottom-left corner text/);
      },
      // The tree lists itself: the real page converts, the cycle is reported as a lost page.
      'cyclic-page-tree.pdf': (res) => {
        status(res, 200);
        assert.match(res.json.output, /Page tree with a cycle/);
        assert.deepEqual(
          res.json.metadata.failed_pages.map((f: { page: number; code: string }) => [f.page, f.code]),
          [[1, 'damaged_pdf']],
        );
      },
    };
    const files = fs.readdirSync(path.join(CORPUS, 'bad')).filter((f) => f.endsWith('.pdf'));
    assert.deepEqual(files.sort(), Object.keys(expectations).sort(), 'every bad file has an expectation');
    for (const file of files) {
      const res = await convert(bad(file));
      t.diagnostic(`${file}: ${res.status} ${res.json?.error?.code ?? ''} ${res.ms} ms`);
      assertHandled(res, file);
      expectations[file](res);
    }
    const unlocked = await convert(bad('encrypted-user-password.pdf'), { password: 'secret-user' });
    assert.equal(unlocked.status, 200, unlocked.body);
    assert.match(unlocked.json.output, /Passport/);
  });

  it('is healthy afterwards, with no worker lost', async () => {
    const res = await rawRequest(`${server.url}/health`, { method: 'GET' });
    assert.equal(res.status, 200);
    assert.equal(res.json.status, 'ok');
    assert.equal(res.json.converter.workers, 2);
    assert.equal(res.json.converter.busy, 0);
    assert.equal(res.json.converter.crashes, 0);
    assert.equal(res.json.converter.timeouts, 0);
    assert.equal(server.child.exitCode, null);
    assert.ok(!server.logs.some((l) => l.level === 'error'), JSON.stringify(server.logs.filter((l) => l.level === 'error')));
  });
});
