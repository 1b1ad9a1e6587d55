import zlib from 'node:zlib';
import { PDFDocument, PDFHexString, PDFName, StandardFonts } from 'pdf-lib';

// PDFs an attacker would send: link annotations with hostile targets, and streams that
// decompress to far more than they weigh. Built byte by byte where pdf-lib would tidy them up.

export interface HostileLink {
  text: string;
  /** The URI action's target, written as raw bytes (a hex string), control characters and all. */
  uri: string;
}

/** One page with one line per link, each under a link annotation of its own. */
export async function pdfWithLinks(links: HostileLink[], title?: string): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  if (title !== undefined) doc.setTitle(title);
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const page = doc.addPage([612, 792]);
  page.drawText('Links follow, one per line, each a sentence of its own.', { x: 72, y: 740, size: 11, font });
  const annots = links.map((link, i) => {
    const y = 710 - i * 18;
    page.drawText(link.text, { x: 72, y, size: 11, font });
    const width = font.widthOfTextAtSize(link.text, 11);
    return doc.context.register(
      doc.context.obj({
        Type: 'Annot',
        Subtype: 'Link',
        Rect: [70, y - 3, 74 + width, y + 11],
        Border: [0, 0, 0],
        A: { Type: 'Action', S: 'URI', URI: PDFHexString.of(Buffer.from(link.uri, 'latin1').toString('hex')) },
      }),
    );
  });
  page.node.set(PDFName.of('Annots'), doc.context.obj(annots));
  return doc.save();
}

/** A PDF from its objects (numbered from 1, the first is the catalog), with a correct xref table. */
export function pdfFromObjects(objects: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from('%PDF-1.7\n')];
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

export function stream(dict: string, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`<< ${dict} /Length ${data.length} >>\nstream\n`), data, Buffer.from('\nendstream')]);
}

/** Flate data that inflates to `bytes` bytes of `fill`, compressed as it streams (never whole in memory). */
export async function flateBomb(bytes: number, fill = 0x20): Promise<Buffer> {
  const chunk = Buffer.alloc(Math.min(bytes, 1024 * 1024), fill);
  const deflate = zlib.createDeflate({ level: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (c: Buffer) => out.push(c));
  const ended = new Promise((resolve, reject) => deflate.on('end', resolve).on('error', reject));
  for (let left = bytes; left > 0; left -= chunk.length) {
    if (!deflate.write(left >= chunk.length ? chunk : chunk.subarray(0, left))) await new Promise((r) => deflate.once('drain', r));
  }
  deflate.end();
  await ended;
  return Buffer.concat(out);
}

/** RunLengthDecode data for `bytes` spaces: 2 bytes per 128, decoded by pdfjs in JavaScript only. */
export function runLengthBomb(bytes: number): Buffer {
  const runs = Math.ceil(bytes / 128);
  const data = Buffer.alloc(runs * 2 + 1);
  for (let i = 0; i < runs; i++) {
    data[2 * i] = 129; // 257 - 129 = 128 copies of the next byte
    data[2 * i + 1] = 0x20;
  }
  data[runs * 2] = 128; // end of data
  return data;
}

const TEXT_PAGE = (n: number) => `BT /F1 11 Tf 72 700 Td (Readable page ${n} of the document.) Tj ET`;

/**
 * Pages in order, each either readable text or a content stream with the given filter and data.
 * `metadata`: an XMP metadata stream for the catalog (read when the document is opened).
 */
export function pdfWithPages(pages: Array<{ text: number } | { filter: string; data: Buffer }>, metadata?: { filter: string; data: Buffer }): Buffer {
  // 1 catalog, 2 page tree, 3 font, 4 metadata (or null), then a page and its content per page.
  const objects: Array<string | Buffer> = [
    `<< /Type /Catalog /Pages 2 0 R${metadata ? ' /Metadata 4 0 R' : ''} >>`,
    `<< /Type /Pages /Kids [${pages.map((_, i) => `${5 + 2 * i} 0 R`).join(' ')}] /Count ${pages.length} >>`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    metadata ? stream(`/Type /Metadata /Subtype /XML /Filter ${metadata.filter}`, metadata.data) : 'null',
  ];
  pages.forEach((page, i) => {
    objects.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${6 + 2 * i} 0 R >>`);
    objects.push('text' in page ? stream('', Buffer.from(TEXT_PAGE(page.text))) : stream(`/Filter ${page.filter}`, page.data));
  });
  return pdfFromObjects(objects);
}
