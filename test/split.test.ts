import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { assembleDocument, convertPdf, extractPages, type ExtractedPages } from '../src/engine/convert.ts';
import type { ConvertOptions, OutputFormat, Page } from '../src/engine/types.ts';

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
