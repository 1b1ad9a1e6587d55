import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_MAPPED_CODES } from '../src/engine/load/cmap-bound.ts';
import { convertPdf } from '../src/engine/convert.ts';
import { pdfFromObjects, stream } from './helpers/hostile-pdf.ts';

/*
 * A font's ToUnicode map with a range of millions of codes (what one damaged byte in its stream
 * makes) must cost a bounded reading; a map within the bound must be read whole.
 */

/** One page saying "Hello bound" in Helvetica, with a ToUnicode map of `ranges` (bfrange lines). */
function pdfWithToUnicode(ranges: string[]): Buffer {
  const cmap = [
    '/CIDInit /ProcSet findresource begin 12 dict begin begincmap',
    '/CMapName /Bound def /CMapType 2 def',
    '1 begincodespacerange <00> <FF> endcodespacerange',
    ...ranges.map((r) => `1 beginbfrange ${r} endbfrange`),
    'endcmap CMapName currentdict /CMap defineresource pop end end',
  ].join('\n');
  const content = 'BT /F1 24 Tf 72 700 Td (Hello bound) Tj ET';
  return pdfFromObjects([
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>',
    stream('', Buffer.from(content)),
    stream('', Buffer.from(cmap)),
  ]);
}

/** Lower case to upper: shows in the text whether the map's last range was read. */
const UPPER = '<61> <7A> <0041>';
/** A range of 65,536 codes no text uses. */
const WIDE = (k: number) => `<0${k}0000> <0${k}FFFF> <0041>`;

async function textOf(pdf: Buffer): Promise<{ text: string; cpuMs: number; heapMb: number }> {
  const heap = process.memoryUsage().heapUsed;
  let peak = heap;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 5);
  const cpu = process.cpuUsage();
  try {
    const { output } = await convertPdf(pdf, { outputFormat: 'markdown' });
    const used = process.cpuUsage(cpu);
    peak = Math.max(peak, process.memoryUsage().heapUsed);
    return { text: output.trim(), cpuMs: (used.user + used.system) / 1000, heapMb: (peak - heap) / 2 ** 20 };
  } finally {
    clearInterval(sampler);
  }
}

describe('character maps a PDF supplies', () => {
  it('reads a map whose ranges stay within the bound whole', async () => {
    const ranges = [WIDE(1), WIDE(2), WIDE(3), UPPER];
    assert.ok(3 * 0x10000 + 26 <= MAX_MAPPED_CODES);
    assert.equal((await textOf(pdfWithToUnicode(ranges))).text, 'HELLO BOUND');
  });

  it('drops a range of millions of codes cheaply, and reads the ranges after it', async () => {
    await textOf(pdfWithToUnicode([UPPER])); // pdfjs and the font loaded before measuring
    // 4 million codes: without the bound, hundreds of MB of strings and seconds of CPU.
    const { text, cpuMs, heapMb } = await textOf(pdfWithToUnicode(['<000100> <3FFFFF> <0041>', UPPER]));
    assert.equal(text, 'HELLO BOUND');
    assert.ok(cpuMs < 1000, `${cpuMs.toFixed(0)} ms of CPU`);
    assert.ok(heapMb < 64, `${heapMb.toFixed(0)} MB of heap`);
  });

  it('drops the ranges past the bound, however they are split', async () => {
    const ranges = [1, 2, 3, 4, 5].map(WIDE).concat(UPPER);
    assert.equal((await textOf(pdfWithToUnicode(ranges))).text, 'Hello bound');
  });
});
