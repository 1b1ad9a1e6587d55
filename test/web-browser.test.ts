/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PDFDocument, PDFName, PDFString, StandardFonts } from 'pdf-lib';
import { ERROR_CODES } from '../src/server/routes/openapi.ts';
import { dropFile, launchBrowser, type TestBrowser } from './helpers/browser.ts';
import { corruptStream, makePdf, numberedLinesStream, pdfWithContentStreams } from './helpers/pdf.ts';
import { CORPUS, ROOT, startServerProcess, type ServerProcess } from './helpers/server.ts';

// The try-it page in a real browser (Debian's chromium) against the real server: a PDF dropped
// on it, a bad file, a PDF whose link would run a script, the API key prompt. With
// DOCMARK_SCREENSHOTS=1 the page is saved to docs/images/try.png.

const SCREENSHOTS = process.env.DOCMARK_SCREENSHOTS === '1';

/** A PDF with a javascript: link annotation and text that spells a javascript: link and raw HTML. */
async function hostilePdf(): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  const page = doc.addPage([612, 792]);
  page.drawText('Hostile Links', { x: 72, y: 720, size: 22, font: bold });
  page.drawText('Click here to win', { x: 72, y: 680, size: 12, font });
  page.drawText('[press me](javascript:alert(document.domain))', { x: 72, y: 650, size: 12, font });
  page.drawText('<a href="javascript:alert(2)">raw html</a> <img src=x onerror=alert(3)>', { x: 72, y: 620, size: 12, font });
  const link = doc.context.obj({
    Type: 'Annot',
    Subtype: 'Link',
    Rect: [72, 676, 180, 694],
    Border: [0, 0, 0],
    A: { Type: 'Action', S: 'URI', URI: PDFString.of('javascript:alert(1)') },
  });
  page.node.set(PDFName.of('Annots'), doc.context.obj([doc.context.register(link)]));
  return doc.save();
}

const finished = '#result section, body[data-state="error"]';

describe('try-it page in chromium', () => {
  let server: ServerProcess;
  let browser: TestBrowser;

  before(async () => {
    [server, browser] = await Promise.all([startServerProcess({ DOCMARK_WORKERS: '1' }), launchBrowser()]);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('a corpus PDF dropped on the page shows its first heading rendered and its first page drawn beside it', async () => {
    const { page, problems } = await browser.page();
    await page.goto(`${server.url}/`);
    await dropFile(page, '#drop-zone', fs.readFileSync(path.join(CORPUS, 'bull.pdf')), 'bull.pdf');
    await page.waitForSelector('body[data-state="done"]', { timeout: 90_000 });
    const heading = await page.textContent('#result .markdown :is(h1,h2,h3,h4,h5,h6)');
    assert.equal(heading?.trim(), 'Sponsors');
    // The PDF's first page, drawn by pdfjs in the browser: a canvas with ink on it.
    await page.waitForSelector('#pdf-pages section[data-page="0"][data-drawn="true"]', { timeout: 30_000 });
    const inked = await page.evaluate(() => {
      const canvas = document.querySelector<HTMLCanvasElement>('#pdf-pages section[data-page="0"] canvas')!;
      const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      let dark = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i] < 128 && data[i + 3] > 0) dark++;
      return { dark, width: canvas.width };
    });
    assert.ok(inked.width > 300 && inked.dark > 1000, `page 1 drawn with text on it (${JSON.stringify(inked)})`);
    // Side by side, one section per page in each pane: the scroll sync has pages to match.
    const pages = await page.$$eval('#result > section[data-page]', (s) => s.map((e) => (e as HTMLElement).dataset.page));
    assert.deepEqual(pages.slice(0, 2), ['0', '1']);
    // Scrolling the result to page 2 brings the PDF to page 2.
    await page.evaluate(() => document.querySelector('#result > section[data-page="1"]')!.scrollIntoView());
    await page.waitForFunction(() => {
      const pane = document.getElementById('pdf-pages')!;
      const second = pane.querySelector('section[data-page="1"]')!;
      return Math.abs(second.getBoundingClientRect().top - pane.getBoundingClientRect().top) < 12;
    });
    // The source view is the exact output; the JSON view a tree of the whole answer.
    await page.click('[data-view="source"]');
    assert.match((await page.textContent('#result pre.source')) ?? '', /^### Sponsors/);
    await page.click('[data-view="json"]');
    assert.ok(await page.$('#result details.jt-node summary'));
    await page.click('[data-view="rendered"]');
    if (SCREENSHOTS) {
      await page.evaluate(() => document.querySelector('#pdf-pages')!.scrollTo(0, 0));
      await page.evaluate(() => document.querySelector('#result')!.scrollTo(0, 0));
      await page.screenshot({ path: path.join(ROOT, 'docs/images/try.png') });
    }
    assert.deepEqual(problems, [], 'no console error and no CSP violation');
    await page.close();
  });

  it('marks a page that could not be read, and a page read by OCR, in both panes', async () => {
    const { page, problems } = await browser.page();
    await page.goto(`${server.url}/`);
    const damaged = pdfWithContentStreams([{ content: numberedLinesStream(5) }, { content: corruptStream(numberedLinesStream(5)) }]);
    await page.setInputFiles('#file', { name: 'damaged.pdf', mimeType: 'application/pdf', buffer: damaged });
    await page.waitForSelector('body[data-state="done"]', { timeout: 60_000 });
    for (const pane of ['#pdf-pages', '#result']) {
      const badge = await page.textContent(`${pane} section[data-page="1"] .badge.failed`);
      assert.equal(badge, 'failed: damaged_pdf', pane);
      assert.equal(await page.$(`${pane} section[data-page="0"] .badge`), null, `${pane}: page 1 is fine`);
    }
    assert.match((await page.textContent('#summary')) ?? '', /could not be read: page 2/);
    // force_ocr from the form reaches the server; the OCR'd page is marked.
    await page.check('#force_ocr');
    await page.setInputFiles('#file', {
      name: 'ocr.pdf',
      mimeType: 'application/pdf',
      buffer: Buffer.from(await makePdf([{ heading: 'Read Twice', paragraphs: ['Every page read by OCR on request.'] }])),
    });
    await page.waitForFunction(() => document.body.dataset.state === 'done' && document.querySelector('#result .badge.ocr'), undefined, {
      timeout: 120_000,
    });
    assert.equal(await page.textContent('#pdf-pages section[data-page="0"] .badge.ocr'), 'OCR');
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('a file that is not a PDF shows the error code and message', async () => {
    const { page } = await browser.page();
    await page.goto(`${server.url}/`);
    await page.setInputFiles('#file', { name: 'notes.pdf', mimeType: 'application/pdf', buffer: Buffer.from('just some text, not a PDF\n') });
    await page.waitForSelector('body[data-state="error"]', { timeout: 60_000 });
    assert.equal(await page.textContent('#error-code'), 'not_a_pdf');
    assert.match((await page.textContent('#error-status')) ?? '', /415/);
    assert.ok(((await page.textContent('#error-message')) ?? '').length > 10);
    await page.close();
  });

  it('a PDF with javascript: links renders without a live script link', async () => {
    const { page, problems } = await browser.page();
    let dialogs = 0;
    page.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
    await page.goto(`${server.url}/`);
    await dropFile(page, '#drop-zone', await hostilePdf(), 'hostile.pdf');
    await page.waitForSelector(finished, { timeout: 60_000 });
    assert.equal(await page.evaluate(() => document.body.dataset.state), 'done');
    assert.equal((await page.textContent('#result .markdown h1'))?.trim(), 'Hostile Links');
    const hrefs = await page.$$eval('#result a', (as) => as.map((a) => a.getAttribute('href')));
    assert.ok(
      hrefs.every((h) => h === null || /^(https?:|mailto:|#)/i.test(h)),
      `no script link: ${JSON.stringify(hrefs)}`,
    );
    // Nothing that runs: no script element, no event-handler attribute, anywhere in the result.
    const live = await page.evaluate(
      () =>
        [...document.querySelectorAll('#result *')].filter(
          (e) =>
            e.tagName === 'SCRIPT' || e.tagName === 'IFRAME' || [...e.attributes].some((a) => /^on/i.test(a.name) || /javascript:/i.test(a.value)),
        ).length,
    );
    assert.equal(live, 0);
    // Clicking what was the link runs nothing.
    const link = await page.$('#result a');
    if (link) await link.click();
    assert.equal(dialogs, 0);
    assert.deepEqual(problems, []);
    await page.close();
  });
});

describe('API reference page in chromium', () => {
  let server: ServerProcess;
  let browser: TestBrowser;

  before(async () => {
    [server, browser] = await Promise.all([startServerProcess({ DOCMARK_WORKERS: '1' }), launchBrowser()]);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('renders every operation and every error code from /openapi.json', async () => {
    const { page, problems } = await browser.page();
    await page.goto(`${server.url}/docs`);
    await page.waitForSelector('body[data-state="ready"]', { timeout: 20_000 });
    const codes = await page.$$eval('#error-codes tbody tr td:nth-child(2)', (tds) => tds.map((td) => td.textContent));
    assert.deepEqual(codes.sort(), Object.keys(ERROR_CODES).sort());
    const ops = await page.$$eval('details.op summary', (ss) => ss.map((s) => s.textContent ?? ''));
    for (const op of ['POST /convert', 'GET /health', 'GET /status.json', 'GET /openapi.json']) {
      assert.ok(
        ops.some((o) => o.replace(/\s+/g, ' ').toUpperCase().includes(op.toUpperCase())),
        `${op} in ${JSON.stringify(ops)}`,
      );
    }
    if (SCREENSHOTS) await page.screenshot({ path: path.join(ROOT, 'docs/images/docs.png') });
    assert.deepEqual(problems, []);
    await page.close();
  });
});

describe('try-it page with an API key', () => {
  let server: ServerProcess;
  let browser: TestBrowser;

  before(async () => {
    [server, browser] = await Promise.all([startServerProcess({ DOCMARK_WORKERS: '1', DOCMARK_API_KEY: 'sesame' }), launchBrowser()]);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('asks for the key, shows 401 without it, converts with it, and keeps it in sessionStorage only', async () => {
    const { page } = await browser.page();
    await page.goto(`${server.url}/`);
    assert.ok(await page.isVisible('#api-key'), 'the key field shows at once');
    const pdf = fs.readFileSync(path.join(CORPUS, 'bull.pdf'));
    await page.setInputFiles('#file', { name: 'bull.pdf', mimeType: 'application/pdf', buffer: pdf });
    await page.waitForSelector('body[data-state="error"]', { timeout: 60_000 });
    assert.equal(await page.textContent('#error-code'), 'unauthorized');
    await page.fill('#api-key', 'sesame');
    await page.dispatchEvent('#api-key', 'change');
    await page.click('#convert');
    await page.waitForSelector('body[data-state="done"]', { timeout: 90_000 });
    const stored = await page.evaluate(() => ({
      session: sessionStorage.getItem('docmark.apiKey'),
      local: JSON.stringify(localStorage),
      cookie: document.cookie,
    }));
    assert.deepEqual(stored, { session: 'sesame', local: '{}', cookie: '' });
    await page.close();
  });
});
