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

function wrap(text: string, font: { widthOfTextAtSize(t: string, s: number): number }, size: number, width: number): string[] {
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
