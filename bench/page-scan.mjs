// A PDF page as a scanner would give it: rendered at `dpi` on white paper and turned by
// `degrees` about its centre. Shared by the scan benchmarks and the fixture generators.
import { createCanvas } from '@napi-rs/canvas';

/** @param {import('pdfjs-dist').PDFPageProxy} page */
export async function renderTurned(page, dpi, degrees) {
  const viewport = page.getViewport({ scale: dpi / 72 });
  const width = Math.round(viewport.width);
  const height = Math.round(viewport.height);
  const clean = createCanvas(width, height);
  const cleanContext = clean.getContext('2d');
  cleanContext.fillStyle = 'white';
  cleanContext.fillRect(0, 0, width, height);
  await page.render({ canvasContext: cleanContext, viewport }).promise;
  const turned = createCanvas(width, height);
  const context = turned.getContext('2d');
  context.fillStyle = 'white';
  context.fillRect(0, 0, width, height);
  context.translate(width / 2, height / 2);
  context.rotate((degrees * Math.PI) / 180);
  context.drawImage(clean, -width / 2, -height / 2);
  return { canvas: turned, context, width, height };
}
