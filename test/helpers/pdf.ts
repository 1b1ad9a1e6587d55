import zlib from 'node:zlib';
import { PDFDocument, StandardFonts, rgb } from 'pdf-lib';

/**
 * PDFs made by the tests, so each test knows exactly what the text is.
 */
export interface FixturePage {
  heading?: string;
  paragraphs: string[];
}

export async function makePdf(pages: FixturePage[]): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const body = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  for (const p of pages) {
    const page = doc.addPage([612, 792]);
    let y = 720;
    if (p.heading) {
      page.drawText(p.heading, { x: 72, y, size: 22, font: bold, color: rgb(0, 0, 0) });
      y -= 44;
    }
    for (const para of p.paragraphs) {
      for (const line of wrap(para, body, 11, 468)) {
        page.drawText(line, { x: 72, y, size: 11, font: body });
        y -= 14;
      }
      y -= 12;
    }
  }
  return doc.save();
}

/** Lines of at most `width` points, broken at spaces (as a browser would). */
export function wrap(text: string, font: { widthOfTextAtSize(t: string, s: number): number }, size: number, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    const next = line ? `${line} ${word}` : word;
    if (font.widthOfTextAtSize(next, size) > width && line) {
      lines.push(line);
      line = word;
    } else {
      line = next;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/**
 * A PDF with one page per content stream, each exactly as given (already encoded for its
 * filter), in Helvetica as /F1: for tests of how damaged streams are read.
 */
export function pdfWithContentStreams(pages: Array<{ content: Uint8Array; filter?: string }>): Buffer {
  const n = pages.length;
  // Objects: 1 catalog, 2 page tree, 3 font, then a page and its content per page.
  const objects: Array<string | Buffer> = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    `<< /Type /Pages /Kids [${pages.map((_, i) => `${4 + 2 * i} 0 R`).join(' ')}] /Count ${n} >>`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  pages.forEach(({ content, filter = '/FlateDecode' }, i) => {
    objects.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${5 + 2 * i} 0 R >>`);
    objects.push(Buffer.concat([Buffer.from(`<< /Length ${content.length} /Filter ${filter} >>\nstream\n`), content, Buffer.from('\nendstream')]));
  });
  const parts: Buffer[] = [Buffer.from('%PDF-1.4\n')];
  const offsets: number[] = [];
  let length = parts[0].length;
  objects.forEach((body, i) => {
    offsets.push(length);
    const obj = Buffer.concat([Buffer.from(`${i + 1} 0 obj\n`), Buffer.from(body), Buffer.from('\nendobj\n')]);
    parts.push(obj);
    length += obj.length;
  });
  const entries = offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('');
  parts.push(
    Buffer.from(
      `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${entries}trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${length}\n%%EOF\n`,
    ),
  );
  return Buffer.concat(parts);
}

/** A page of numbered lines ("Line number i of the body."), as a Flate-compressed content stream. */
export function numberedLinesStream(count: number, from = 0): Buffer {
  let content = '';
  for (let i = from; i < from + count; i++) content += `BT /F1 11 Tf 72 ${740 - (i - from) * 16} Td (Line number ${i} of the body.) Tj ET\n`;
  return zlib.deflateSync(Buffer.from(content));
}

/** Flate data with a valid header and then an invalid block type: no decoder reads any of it. */
export function corruptStream(valid: Buffer): Buffer {
  return Buffer.concat([valid.subarray(0, 2), Buffer.alloc(64, 0xff)]);
}
