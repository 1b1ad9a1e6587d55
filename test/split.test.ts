import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repeatPages } from '../bench/repeat-pdf.mjs';
import { assembleDocument, convertPdf, extractPages, type ExtractedPages } from '../src/engine/convert.ts';
import type { ConvertOptions, OutputFormat, Page } from '../src/engine/types.ts';
import { rawRequest } from './helpers/http.ts';
import { startServerProcess, type ServerProcess } from './helpers/server.ts';
import { waitFor } from './helpers/wait.ts';

// A document read in shares (by several workers, each loading the PDF on its own, in any order)
// and assembled once must come out exactly as one conversion of the whole.

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures');
const FORMATS: OutputFormat[] = ['markdown', 'json', 'html'];

function pdfsIn(folder: string, keep: (name: string) => boolean): string[] {
  const dir = path.join(FIXTURES, folder);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.pdf') && keep(f))
    .sort()
    .map((f) => path.join(dir, f));
}

const isScan = (name: string): boolean => name.includes('.scanned.');

/** `selected` cut into `count` runs of pages that follow each other. */
function runsOf(selected: number[], count: number): number[][] {
  const size = Math.ceil(selected.length / count);
  return Array.from({ length: count }, (_, i) => selected.slice(i * size, (i + 1) * size)).filter((p) => p.length > 0);
}

/** `selected` dealt out like cards: every share has gaps another share fills. */
function dealt(selected: number[], count: number): number[][] {
  return Array.from({ length: count }, (_, i) => selected.filter((_, k) => k % count === i)).filter((p) => p.length > 0);
}

/** Read each share in its own load, last share first, and put the pages back in document order. */
async function readShares(bytes: Uint8Array, options: Partial<ConvertOptions>, shares: number[][]): Promise<ExtractedPages> {
  const read: ExtractedPages[] = [];
  for (const share of [...shares].reverse()) read.push(await extractPages(bytes, options, share));
  const pages = read.flatMap((r) => r.pages).sort((a, b) => a.index - b.index);
  // What crosses a thread boundary is a structured clone.
  return structuredClone({ info: read[0].info, selected: read[0].selected, pages });
}

async function assertSplitMatches(file: string, formats: OutputFormat[], options: Partial<ConvertOptions> = {}): Promise<void> {
  const bytes = new Uint8Array(fs.readFileSync(file));
  const whole = new Map<OutputFormat, string>();
  for (const format of formats) whole.set(format, (await convertPdf(bytes, { ...options, outputFormat: format })).output);
  const { selected } = await extractPages(bytes, options, []);
  const candidates = [runsOf(selected, 2), runsOf(selected, 3), dealt(selected, 3)].filter((s) => s.length > 1);
  const splits = [...new Map(candidates.map((s) => [JSON.stringify(s), s])).values()];
  for (const shares of splits) {
    const read = await readShares(bytes, options, shares);
    assert.deepEqual(
      read.pages.map((p) => p.index),
      selected,
    );
    for (const format of formats) {
      // The layout steps change the pages they are given: each assembly gets its own copy.
      const pages: Page[] = structuredClone(read.pages);
      const { output } = assembleDocument(pages, read.info, { ...options, outputFormat: format });
      assert.equal(output, whole.get(format), `${path.basename(file)} as ${format}, shares ${JSON.stringify(shares)}`);
    }
  }
}

describe('a document split across readers', () => {
  it('the corpus comes out the same, byte for byte, in every format', async () => {
    const files = pdfsIn('corpus', (f) => !isScan(f));
    assert.ok(files.length >= 20, 'the corpus is there');
    for (const file of files) await assertSplitMatches(file, FORMATS);
  });

  it('the typeset corpus (LaTeX, Writer) comes out the same', async (t) => {
    const files = pdfsIn('corpus-typeset', () => true);
    if (files.length === 0) return t.skip('no typeset fixtures on this branch');
    for (const file of files) await assertSplitMatches(file, FORMATS);
  });

  it('scans read with OCR in shares come out the same', async () => {
    const files = pdfsIn('corpus', isScan).slice(0, 2);
    for (const file of files) await assertSplitMatches(file, ['markdown', 'json']);
  });

  it('a page range with gaps, paginated, splits the same', async () => {
    const file = pdfsIn('corpus', (f) => !isScan(f))
      .map((f) => ({ f, size: fs.statSync(f).size }))
      .sort((a, b) => b.size - a.size)[0].f;
    await assertSplitMatches(file, ['markdown'], { pageRange: [0, 2, 3, 5], paginateOutput: true });
  });

  it('a share asks only for selected pages, each once, in order', async () => {
    const bytes = new Uint8Array(fs.readFileSync(pdfsIn('corpus', (f) => !isScan(f))[0]));
    await assert.rejects(extractPages(bytes, {}, [1, 0]), /document order/);
  });
});

describe('a big document shared by the workers of a server', () => {
  let server: ServerProcess;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-split-test-'));
  const corpusFiles = (names: string[]): string[] => names.map((n) => path.join(FIXTURES, 'corpus', n));
  const post = (body: Uint8Array) =>
    rawRequest(`${server.url}/convert?output_format=markdown`, { body: Buffer.from(body), headers: { 'content-type': 'application/pdf' } });
  const converter = async (): Promise<Record<string, number>> => (await rawRequest(`${server.url}/health`, { method: 'GET' })).json.converter;
  const shared = (): number => server.logs.filter((l) => l.msg === 'sharing a conversion with idle workers').length;

  before(async () => {
    server = await startServerProcess({
      DOCMARK_WORKERS: '2',
      DOCMARK_OCR_THREADS: '1',
      DOCMARK_SPLIT_PAGES: '8',
      DOCMARK_TIMEOUT_S: '600',
      DOCMARK_DATA_DIR: dataDir,
    });
  });
  after(async () => {
    await server?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('converts a document with the fonts of several files in two workers, the same as one conversion', async () => {
    const bytes = await repeatPages(corpusFiles(['bull.pdf', 'got.pdf', 'fastify.pdf']), 24);
    // Only workers idle at that moment share a conversion: both must have started.
    await waitFor(async () => (await converter()).ready === 2, { timeoutMs: 60_000, what: 'both workers to start' });
    const res = await post(bytes);
    assert.equal(res.status, 200, res.body);
    assert.equal(shared(), 1, 'the conversion was shared');
    assert.equal(res.json.output, (await convertPdf(bytes, { outputFormat: 'markdown' })).output);
    assert.equal((await converter()).busy, 0);
  });

  it('gives a share back to a client that has to queue, and stops every share when its client leaves', async () => {
    const scans = pdfsIn('corpus', isScan).slice(0, 4);
    const big = await repeatPages(scans, 16);
    const before = shared();
    // A client that will leave before its answer: its request is destroyed.
    const leaving = http.request(`${server.url}/convert`, { method: 'POST', agent: false, headers: { 'content-type': 'application/pdf' } });
    const bigAnswer = new Promise<void>((resolve) => leaving.on('close', () => resolve()).on('error', () => resolve()));
    leaving.end(Buffer.from(big));
    await waitFor(() => shared() > before, { timeoutMs: 60_000, what: 'the scan to be shared' });
    // Both workers are busy with the one scan; this client queues and takes the share's worker.
    const small = new Uint8Array(fs.readFileSync(pdfsIn('corpus', (f) => !isScan(f))[0]));
    const res = await post(small);
    assert.equal(res.status, 200, res.body);
    assert.equal((await converter()).busy >= 1, true, 'the scan is still being converted');
    leaving.destroy();
    await bigAnswer;
    await waitFor(async () => (await converter()).busy === 0, { timeoutMs: 30_000, what: 'every worker to be free' });
    const again = await post(small);
    assert.equal(again.status, 200, again.body);
  });
});
