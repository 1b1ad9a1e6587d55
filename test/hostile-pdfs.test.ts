import assert from 'node:assert/strict';
import fs from 'node:fs';
import zlib from 'node:zlib';
import path from 'node:path';
import { describe, it } from 'node:test';
import { convertPdf } from '../src/engine/convert.ts';
import { decodersBudgeted } from '../src/engine/load/inflate.ts';
import type { OutputFormat } from '../src/engine/types.ts';
import { flateBomb, pdfWithLinks, pdfWithPages, runLengthBomb } from './helpers/hostile-pdf.ts';
import { makePdf } from './helpers/pdf.ts';
import { CORPUS } from './helpers/server.ts';

// Real PDFs built to attack the engine, converted as a client's would be: links to script, a
// title that is markup, streams that decompress to far more than they weigh.

const MB = 1024 * 1024;
const FORMATS: OutputFormat[] = ['markdown', 'json', 'html'];

/** Every link target an output carries, in its own syntax. */
function targets(output: string, format: OutputFormat): string[] {
  if (format === 'html') return [...output.matchAll(/<a href="([^"]*)"/g)].map((m) => m[1]);
  const md = format === 'json' ? (JSON.parse(output) as { blocks: Array<{ text?: string }> }).blocks.map((b) => b.text ?? '').join('\n') : output;
  return [...md.matchAll(/\]\(([^)]*)\)/g)].map((m) => m[1]);
}

const HOSTILE_LINKS = [
  { text: 'Cookie thief', uri: 'javascript:alert(document.cookie)' },
  { text: 'Upper case thief', uri: 'JaVaScRiPt:alert(1)' },
  { text: 'Spaced thief', uri: '  javascript:alert(1)' },
  { text: 'Tabbed thief', uri: 'java\tscript:alert(1)' },
  { text: 'Nul thief', uri: 'java\u0000script:alert(1)' },
  { text: 'Entity thief', uri: 'javascript&#58;alert(1)' },
  { text: 'Data page', uri: 'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==' },
  { text: 'VB page', uri: 'vbscript:msgbox(1)' },
  { text: 'Local file', uri: 'file:///etc/passwd' },
  { text: 'Control char page', uri: 'https://example.org/\u0007bell' },
];
const SAFE_LINKS = [
  { text: 'Quoted docs', uri: 'https://example.org/a"onmouseover="alert(1)' },
  { text: 'Bracketed docs', uri: 'https://example.org/x)<script>alert(1)</script>' },
  { text: 'Spaced docs', uri: "https://example.org/a b'c" },
  { text: 'Mail us', uri: 'mailto:team@example.org?subject=Hi (there)' },
];

describe('links in real PDFs, in every output format', () => {
  it('drops script, data, file and disguised targets: the text stays, the link goes', async () => {
    const pdf = await pdfWithLinks([...HOSTILE_LINKS, ...SAFE_LINKS]);
    for (const format of FORMATS) {
      const { output } = await convertPdf(pdf, { outputFormat: format });
      for (const { text } of HOSTILE_LINKS) assert.ok(output.includes(text), `${format}: "${text}" kept`);
      const found = targets(output, format);
      assert.equal(found.length, SAFE_LINKS.length, `${format}: ${JSON.stringify(found)}`);
      for (const href of found) {
        assert.match(href, /^(https:\/\/example\.org\/|mailto:team@example\.org\?)/, format);
        // Nothing that ends a Markdown link or an HTML attribute, whatever the format.
        assert.doesNotMatch(href.replace(/&amp;/g, '&'), /[\s"'<>()`]/, `${format}: ${href}`);
      }
      assert.doesNotMatch(output, /javascript|vbscript|data:text|file:\/\//i, format);
    }
  });

  it('HTML output is a whole document: charset, and the PDF title escaped', async () => {
    const pdf = await pdfWithLinks([{ text: 'Home page', uri: 'https://example.org/' }], 'Café </title><script>alert(1)</script> & more');
    const { output, metadata } = await convertPdf(pdf, { outputFormat: 'html' });
    assert.match(output, /^<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n/);
    assert.match(output, /<title>Café &lt;\/title&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt; &amp; more<\/title>/);
    assert.match(output, /<meta http-equiv="Content-Security-Policy" content="script-src 'none';/);
    assert.match(output, /<body>\n[\s\S]*<a href="https:\/\/example\.org\/">Home page<\/a>[\s\S]*\n<\/body>\n<\/html>\n$/);
    assert.equal((output.match(/<script/g) ?? []).length, 0);
    assert.equal(metadata.title, 'Café </title><script>alert(1)</script> & more', 'the JSON metadata keeps the title as it is');
  });

  it('HTML title falls back to the first heading, then to a placeholder', async () => {
    const headed = await makePdf([
      { heading: 'Quarterly <Report> & Notes', paragraphs: ['The first paragraph of the report, long enough to be body text here.'] },
    ]);
    const { output } = await convertPdf(headed, { outputFormat: 'html' });
    assert.match(output, /<title>Quarterly &lt;Report&gt; &amp; Notes<\/title>/);
    const untitled = await convertPdf(pdfWithPages([{ text: 1 }]), { outputFormat: 'html' });
    assert.match(untitled.output, /<title>Untitled document<\/title>/);
  });
});

describe('decompression has a budget per document, outside the V8 heap too', () => {
  it('fails a page whose content inflates past the budget, and converts the others', async () => {
    const bomb = await flateBomb(64 * MB);
    assert.ok(bomb.length < 128 * 1024);
    const pdf = pdfWithPages([{ text: 1 }, { filter: '/FlateDecode', data: bomb }, { text: 3 }]);
    const before = process.memoryUsage().arrayBuffers;
    const result = await convertPdf(pdf, { maxInflateBytes: 16 * MB });
    assert.match(result.output, /Readable page 1 of the document/);
    assert.match(result.output, /Readable page 3 of the document/);
    assert.deepEqual(
      result.metadata.failed_pages.map((f) => [f.page, f.code]),
      [[1, 'decompression_limit']],
    );
    assert.match(result.output, /<!-- docmark: The PDF decompresses to more than 16 MB/);
    // The bomb was not expanded: what is held now is nowhere near its 64 MB.
    assert.ok(process.memoryUsage().arrayBuffers - before < 32 * MB);
  });

  it('holds for the decoders pdfjs runs in JavaScript (run-length) and for chained filters', async () => {
    const chained = Buffer.from(zlib.deflateSync(await flateBomb(64 * MB)));
    for (const page of [
      { filter: '/RunLengthDecode', data: runLengthBomb(64 * MB) },
      { filter: '[/FlateDecode /FlateDecode]', data: chained },
    ]) {
      const result = await convertPdf(pdfWithPages([{ text: 1 }, page]), { maxInflateBytes: 16 * MB });
      assert.deepEqual(
        result.metadata.failed_pages.map((f) => [f.page, f.code]),
        [[1, 'decompression_limit']],
        page.filter,
      );
    }
    assert.ok(decodersBudgeted(), "pdfjs's own decoders are charged");
  });

  it('fails the document (422 decompression_limit) when opening it, or every page, is over the budget', async () => {
    const bomb = await flateBomb(64 * MB);
    const isLimit = (err: { code?: string; status?: number }) => err.code === 'decompression_limit' && err.status === 422;
    await assert.rejects(convertPdf(pdfWithPages([{ text: 1 }], { filter: '/FlateDecode', data: bomb }), { maxInflateBytes: 16 * MB }), isLimit);
    await assert.rejects(convertPdf(pdfWithPages([{ filter: '/FlateDecode', data: bomb }]), { maxInflateBytes: 16 * MB }), isLimit);
  });

  it('gives each page its own allowance: many pages under the budget all convert', async () => {
    const page = {
      filter: '/FlateDecode',
      data: zlib.deflateSync(Buffer.from(`${'BT /F1 11 Tf 72 700 Td (Page of a long document.) Tj ET\n'}${' '.repeat(6 * MB)}`)),
    };
    const result = await convertPdf(pdfWithPages([page, page, page, page]), { maxInflateBytes: 16 * MB });
    assert.deepEqual(result.metadata.failed_pages, []);
    assert.equal((result.output.match(/Page of a long document/g) ?? []).length, 4);
  });

  it('converts the corpus within the default budget', async () => {
    for (const name of ['passport.pdf', 'got.pdf']) {
      const result = await convertPdf(fs.readFileSync(path.join(CORPUS, name)));
      assert.deepEqual(result.metadata.failed_pages, [], name);
    }
  });
});
