import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { describe, it } from 'node:test';
import { convertPdf } from '../src/engine/convert.ts';
import { MAX_INFLATED_BYTES, SyncDecompressionStream } from '../src/engine/inflate.ts';
import { pdfjs } from '../src/engine/load.ts';
import { pdfWithContentStream } from './helpers/pdf.ts';

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

/** A page of numbered lines, as a content stream. */
function numberedLines(count: number): Buffer {
  let content = '';
  for (let i = 0; i < count; i++) content += `BT /F1 11 Tf 72 ${740 - i * 16} Td (Line number ${i} of the body.) Tj ET\n`;
  return Buffer.from(content);
}

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
    const bomb = zlib.deflateSync(Buffer.alloc(MAX_INFLATED_BYTES + 1));
    assert.ok(bomb.length < 1024 * 1024);
    await assert.rejects(inflateLikePdfjs('deflate', bomb), RangeError);
  });

  it('is what pdfjs uses once the engine has loaded it', async () => {
    await pdfjs();
    assert.equal(globalThis.DecompressionStream, SyncDecompressionStream as unknown);
  });

  it('converts a page whose content stream is cut short: the lines before the cut', async () => {
    const content = zlib.deflateSync(numberedLines(40));
    const whole = await convertPdf(pdfWithContentStream(content));
    assert.match(whole.output, /Line number 0 of the body\..*Line number 39 of the body\./s);
    const cut = await convertPdf(pdfWithContentStream(content.subarray(0, Math.floor(content.length * 0.6))));
    assert.match(cut.output, /Line number 0 of the body\..*Line number 10 of the body\./s);
    assert.doesNotMatch(cut.output, /Line number 39/);
  });
});
