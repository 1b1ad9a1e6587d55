import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { describe, it } from 'node:test';
import { convertPdf } from '../src/engine/convert.ts';
import { openInflateBudget, SyncDecompressionStream } from '../src/engine/load/inflate.ts';
import { pdfjs } from '../src/engine/load/pdf.ts';
import { corruptStream, numberedLinesStream, pdfWithContentStreams } from './helpers/pdf.ts';

/**
 * The engine's stand-in for DecompressionStream (what pdfjs inflates every stream with), used
 * the way pdfjs uses it, and a real conversion of PDFs whose streams it must read.
 */

/** Write, close, read back: the sequence pdfjs's asyncGetBytesFromDecompressionStream runs. */
async function inflateLikePdfjs(format: string, bytes: Uint8Array): Promise<Buffer> {
  const { readable, writable } = new SyncDecompressionStream(format);
  const writer = writable.getWriter();
  await writer.ready;
  void writer.write(bytes).then(() => writer.close());
  const chunks: Uint8Array[] = [];
  for await (const chunk of readable) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const TEXT = Buffer.from('BT /F1 11 Tf 72 700 Td (Hello) Tj ET\n'.repeat(200));

describe('synchronous inflate for pdfjs', () => {
  it('decodes every format pdfjs asks for, into a buffer of its own', async () => {
    const encoded: Record<string, Buffer> = {
      deflate: zlib.deflateSync(TEXT),
      'deflate-raw': zlib.deflateRawSync(TEXT),
      gzip: zlib.gzipSync(TEXT),
      brotli: zlib.brotliCompressSync(TEXT),
    };
    for (const [format, bytes] of Object.entries(encoded)) {
      const { readable } = (() => {
        const s = new SyncDecompressionStream(format);
        void s.writable.getWriter().write(bytes);
        return s;
      })();
      for await (const chunk of readable) {
        assert.deepEqual(Buffer.from(chunk), TEXT, format);
        // pdfjs may transfer it to another thread: it must not share Node's Buffer pool.
        assert.equal(chunk.byteOffset, 0, format);
        assert.equal(chunk.byteLength, chunk.buffer.byteLength, format);
      }
    }
  });

  it('refuses an unknown format with a TypeError, as DecompressionStream does', () => {
    assert.throws(() => new SyncDecompressionStream('lzw'), TypeError);
  });

  it('gives the decoded part of a truncated stream, and throws on corrupt data', async () => {
    const whole = zlib.deflateSync(TEXT);
    const part = await inflateLikePdfjs('deflate', whole.subarray(0, Math.floor(whole.length / 2)));
    assert.ok(part.length > 0 && part.length < TEXT.length);
    assert.deepEqual(part, TEXT.subarray(0, part.length));
    const corrupt = Buffer.concat([whole.subarray(0, 2), Buffer.alloc(50, 0xff)]);
    await assert.rejects(inflateLikePdfjs('deflate', corrupt));
  });

  it('refuses to expand a decompression bomb outside the V8 heap', async () => {
    const budget = openInflateBudget(1024 * 1024);
    try {
      const bomb = zlib.deflateSync(Buffer.alloc(budget.limitBytes + 1));
      assert.ok(bomb.length < 64 * 1024);
      await assert.rejects(inflateLikePdfjs('deflate', bomb), (err: { code?: string }) => err.code === 'decompression_limit');
      assert.ok(budget.exceeded);
    } finally {
      budget.close();
    }
  });

  it('is what pdfjs uses once the engine has loaded it', async () => {
    await pdfjs();
    assert.equal(globalThis.DecompressionStream, SyncDecompressionStream as unknown);
  });

  it('converts a page whose content stream is cut short: the lines before the cut', async () => {
    const content = numberedLinesStream(40);
    const whole = await convertPdf(pdfWithContentStreams([{ content }]));
    assert.match(whole.output, /Line number 0 of the body\..*Line number 39 of the body\./s);
    const cut = await convertPdf(pdfWithContentStreams([{ content: content.subarray(0, Math.floor(content.length * 0.6)) }]));
    assert.match(cut.output, /Line number 0 of the body\..*Line number 10 of the body\./s);
    assert.doesNotMatch(cut.output, /Line number 39/);
    assert.deepEqual(cut.metadata.failed_pages, []);
  });
});

describe('a page that cannot be read', () => {
  const pdf = pdfWithContentStreams([
    { content: numberedLinesStream(3, 0) },
    { content: corruptStream(numberedLinesStream(40, 100)) },
    { content: numberedLinesStream(3, 200) },
  ]);

  it('costs that page only: the others are converted and the loss is marked and reported', async () => {
    const md = await convertPdf(pdf);
    assert.match(md.output, /Line number 0 of the body\./);
    assert.match(md.output, /Line number 200 of the body\./);
    assert.match(md.output, /<!-- docmark: Page 2 could not be read: .+ -->/);
    // The mark stands where the page was.
    assert.ok(
      md.output.indexOf('Line number 2 ') < md.output.indexOf('<!-- docmark') &&
        md.output.indexOf('<!-- docmark') < md.output.indexOf('Line number 200'),
    );
    assert.equal(md.metadata.pages, 3);
    assert.equal(md.metadata.failed_pages.length, 1);
    assert.equal(md.metadata.failed_pages[0].page, 1);
    assert.equal(md.metadata.failed_pages[0].code, 'damaged_pdf');
    const json = JSON.parse((await convertPdf(pdf, { outputFormat: 'json' })).output);
    assert.deepEqual(
      json.blocks.filter((b: { type: string }) => b.type === 'unreadable_page').map((b: { page: number }) => b.page),
      [1],
    );
    assert.match((await convertPdf(pdf, { outputFormat: 'html' })).output, /<!-- docmark: Page 2 could not be read/);
  });

  it('fails the document (422 damaged_pdf) when no page can be read', async () => {
    const broken = pdfWithContentStreams([{ content: corruptStream(numberedLinesStream(40)) }, { content: corruptStream(numberedLinesStream(40)) }]);
    await assert.rejects(
      convertPdf(broken),
      (err: { code?: string; message?: string }) => err.code === 'damaged_pdf' && /Page 1 could not be read/.test(err.message ?? ''),
    );
  });
});
