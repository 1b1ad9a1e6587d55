// The PDF's own pages, drawn by pdfjs in the browser (the same pdfjs-dist the server converts
// with, its browser build). Pages are drawn when they scroll into view, so a long document opens
// at once. pdfjs runs without eval and without WebAssembly, as the page's CSP requires.
import * as pdfjs from '/assets/pdfjs/pdf.mjs';

pdfjs.GlobalWorkerOptions.workerSrc = '/assets/pdfjs/pdf.worker.mjs';

/** Beyond this many canvas pixels per page a sharper drawing only costs memory. */
const MAX_CANVAS_PIXELS = 4_000_000;

let current;

/** Open a PDF (its bytes are copied: pdfjs takes ownership of what it is given). */
export async function openPdf(bytes) {
  await current?.destroy();
  current = pdfjs.getDocument({
    data: bytes.slice(),
    isEvalSupported: false,
    useWasm: false,
    wasmUrl: '/assets/pdfjs/wasm/',
    cMapUrl: '/assets/pdfjs/cmaps/',
    cMapPacked: true,
    standardFontDataUrl: '/assets/pdfjs/standard_fonts/',
    enableXfa: false,
  });
  return current.promise;
}

/**
 * One <section data-page="i"> per page in `container`, each drawn on first sight.
 * `labelOf(i)` gives extra text for a page's caption (OCR'd, failed).
 */
export async function showPages(container, doc, labelOf = () => null) {
  container.replaceChildren();
  const first = await doc.getPage(1);
  const base = first.getViewport({ scale: 1 });
  const width = Math.max(200, container.clientWidth - 24);
  const sections = [];
  for (let i = 0; i < doc.numPages; i++) {
    const section = document.createElement('section');
    section.className = 'pdf-page';
    section.dataset.page = String(i);
    const caption = document.createElement('div');
    caption.className = 'page-caption';
    caption.textContent = `Page ${i + 1}`;
    const label = labelOf(i);
    if (label) caption.append(label);
    const canvas = document.createElement('canvas');
    canvas.style.width = `${width}px`;
    canvas.style.height = `${Math.round((width * base.height) / base.width)}px`;
    section.append(caption, canvas);
    container.append(section);
    sections.push(section);
  }
  const observer = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        observer.unobserve(entry.target);
        void draw(doc, entry.target, width);
      }
    },
    { root: container, rootMargin: '600px 0px' },
  );
  for (const s of sections) observer.observe(s);
  return sections;
}

async function draw(doc, section, width) {
  const canvas = section.querySelector('canvas');
  try {
    const page = await doc.getPage(Number(section.dataset.page) + 1);
    const unit = page.getViewport({ scale: 1 });
    let scale = (width / unit.width) * (window.devicePixelRatio || 1);
    scale = Math.min(scale, Math.sqrt(MAX_CANVAS_PIXELS / (unit.width * unit.height)));
    const viewport = page.getViewport({ scale });
    canvas.width = Math.floor(viewport.width);
    canvas.height = Math.floor(viewport.height);
    canvas.style.height = `${Math.round((width * unit.height) / unit.width)}px`;
    await page.render({ canvas, canvasContext: canvas.getContext('2d'), viewport }).promise;
    section.dataset.drawn = 'true';
  } catch (err) {
    section.dataset.drawn = 'failed';
    const note = document.createElement('div');
    note.className = 'page-note';
    note.textContent = `This page could not be drawn: ${err?.message ?? err}`;
    section.append(note);
  }
}
