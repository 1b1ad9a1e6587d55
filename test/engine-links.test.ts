import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PDFDocument, PDFName, PDFString, StandardFonts } from 'pdf-lib';
import { convertPdf } from '../src/engine/convert.ts';

/**
 * Links come from the PDF's link annotations, whatever their print flag: many producers do not
 * flag links printable. A hidden link (or one neither shown nor printed) is not a link.
 */

interface Link {
  text: string;
  url: string;
  /** Annotation flags (/F): 4 print, 2 hidden, 32 no-view; undefined writes none. */
  flags?: number;
}

async function pdfWithLinks(pages: Link[][]): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (const links of pages) {
    const page = doc.addPage([612, 792]);
    page.drawText('Links to the project pages follow, one per line, each a sentence of its own.', { x: 72, y: 720, size: 11, font });
    const annots = links.map((link, i) => {
      const y = 690 - i * 20;
      page.drawText(link.text, { x: 72, y, size: 11, font });
      const width = font.widthOfTextAtSize(link.text, 11);
      const dict = doc.context.obj({
        Type: 'Annot',
        Subtype: 'Link',
        Rect: [70, y - 3, 74 + width, y + 11],
        Border: [0, 0, 0],
        A: { Type: 'Action', S: 'URI', URI: PDFString.of(link.url) },
        ...(link.flags === undefined ? {} : { F: link.flags }),
      });
      return doc.context.register(dict);
    });
    page.node.set(PDFName.of('Annots'), doc.context.obj(annots));
  }
  return doc.save();
}

describe('links from link annotations', () => {
  it('keeps printable and screen-only links, drops hidden ones, on every page asked for', async () => {
    const pdf = await pdfWithLinks([
      [
        { text: 'Printable docs', url: 'https://example.org/print', flags: 4 },
        { text: 'Screen docs', url: 'https://example.org/screen' },
        { text: 'Hidden docs', url: 'https://example.org/hidden', flags: 2 + 4 },
        { text: 'Unseen docs', url: 'https://example.org/unseen', flags: 32 },
      ],
      [{ text: 'Second page docs', url: 'https://example.org/second' }],
    ]);
    const { output } = await convertPdf(pdf);
    assert.match(output, /^\[Printable docs\]\(https:\/\/example\.org\/print\)$/m);
    assert.match(output, /^\[Screen docs\]\(https:\/\/example\.org\/screen\)$/m);
    assert.match(output, /^Hidden docs$/m);
    assert.match(output, /^Unseen docs$/m);
    assert.match(output, /^\[Second page docs\]\(https:\/\/example\.org\/second\)$/m);

    const second = (await convertPdf(pdf, { pageRange: [1] })).output;
    assert.match(second, /^\[Second page docs\]\(https:\/\/example\.org\/second\)$/m);
    assert.doesNotMatch(second, /Printable/);
  });
});
