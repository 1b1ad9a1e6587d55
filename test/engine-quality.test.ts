import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { createCanvas } from '@napi-rs/canvas';
import { PDFDocument, type PDFFont, type PDFPage, StandardFonts } from 'pdf-lib';
import { inlineMarkdown } from '../src/engine/layout/inline.ts';
import { analyseLayout, columnsOf } from '../src/engine/layout/columns.ts';
import { removeFurniture } from '../src/engine/layout/furniture.ts';
import { anchorOf, resolvePlaces } from '../src/engine/extract/destinations.ts';
import { spellLigatures } from '../src/engine/extract/text-layer.ts';
import { convertPdf } from '../src/engine/convert.ts';
import { detectHeadings } from '../src/engine/structure/headings.ts';
import { joinAcrossBreaks } from '../src/engine/structure/joins.ts';
import { nestLists } from '../src/engine/structure/lists.ts';
import { renderMarkdown } from '../src/engine/render/markdown.ts';
import { listDocuments } from '../src/eval/corpus.ts';
import { type DocumentResult, evaluate } from '../src/eval/evaluate.ts';
import type { Metric } from '../src/eval/score.ts';
import type { BBox, Block, Document, Line, Page, TextRun } from '../src/engine/types.ts';
import { wrap } from './helpers/pdf.ts';
import { CLI } from './helpers/server.ts';

const CORPUS = path.resolve(import.meta.dirname, 'fixtures/corpus');
const TYPESET = path.resolve(import.meta.dirname, 'fixtures/corpus-typeset');

type Floors = Partial<Record<Metric, number>>;

// Floors a little below what the engine reaches (scores are deterministic, so a change that loses
// structure fails here). The dev corpus is Chromium's print of GitHub-styled HTML; the typeset
// subset is the same kind of text set by LaTeX in one column (tex1) and two (tex2) and by
// LibreOffice Writer (writer). Tables on the typeset subset are left to the tables' own tests.
const CORPUS_FLOORS: Floors = {
  text: 0.99,
  headings: 0.98,
  heading_levels: 0.98,
  tables: 0.88,
  cells: 0.86,
  lists: 0.955,
  code: 0.925,
  order: 0.99,
  furniture: 0.99,
};
const TYPESET_FLOORS: Record<string, Floors> = {
  tex1: { text: 0.99, headings: 0.95, heading_levels: 0.84, lists: 0.98, code: 0.92, order: 0.99, furniture: 0.99 },
  tex2: { text: 0.99, headings: 0.9, heading_levels: 0.9, lists: 0.97, code: 0.94, order: 0.99, furniture: 0.99 },
  writer: { text: 0.99, headings: 0.96, heading_levels: 0.87, lists: 0.97, code: 0.92, order: 0.99 },
};

/** Convert and score every born-digital document of a fixture set: its per-document results. */
async function scoreSet(dir: string): Promise<DocumentResult[]> {
  const docs = listDocuments(dir).filter((d) => d.kind === 'markdown');
  const { documents } = await evaluate(docs, async (d) => ({ output: (await convertPdf(fs.readFileSync(d.pdf), {})).output }));
  return documents;
}

/** The metrics whose mean over `results` is below its floor, as "metric mean < floor". */
function belowFloors(results: DocumentResult[], floors: Floors): string[] {
  return Object.entries(floors).flatMap(([metric, floor]) => {
    const values = results.map((r) => r.scores[metric as Metric]).filter((v): v is number => v !== null);
    const mean = values.length ? values.reduce((a, b) => a + b, 0) / values.length : -1;
    return mean >= floor! ? [] : [`${metric} ${mean.toFixed(3)} < ${floor}`];
  });
}

describe('engine quality on the dev sets', () => {
  it('the dev corpus (Chromium) scores at or above the floors on every metric', async () => {
    const below = belowFloors(await scoreSet(CORPUS), CORPUS_FLOORS);
    assert.deepEqual(below, [], `below the floor: ${below.join(', ')}`);
  });

  it('the typeset subset (LaTeX one and two columns, Writer) scores at or above the floors per producer', async () => {
    const results = await scoreSet(TYPESET);
    const below = Object.entries(TYPESET_FLOORS).flatMap(([producer, floors]) =>
      belowFloors(
        results.filter((r) => r.id.endsWith(`.${producer}`)),
        floors,
      ).map((b) => `${producer}: ${b}`),
    );
    assert.deepEqual(below, [], `below the floor: ${below.join(', ')}`);
  });
});

// ---------------------------------------------------------------- small made-up inputs

function box(x0: number, y0: number, x1: number, y1: number): BBox {
  return { x0, y0, x1, y1 };
}

function run(text: string, x0: number, y0: number, size = 10, style: Partial<TextRun> = {}): TextRun {
  const width = text.length * size * 0.5;
  return {
    text,
    bbox: box(x0, y0, x0 + width, y0 + size * 1.2),
    fontSize: size,
    fontName: 'f1',
    bold: false,
    italic: false,
    monospace: false,
    ...style,
  };
}

function line(...runs: TextRun[]): Line {
  const bbox = runs.reduce(
    (u, r) => box(Math.min(u.x0, r.bbox.x0), Math.min(u.y0, r.bbox.y0), Math.max(u.x1, r.bbox.x1), Math.max(u.y1, r.bbox.y1)),
    runs[0].bbox,
  );
  return { runs, text: runs.map((r) => r.text).join(' '), bbox, fontSize: runs[0].fontSize };
}

function paragraph(lines: Line[], page = 0): Block {
  const bbox = lines.reduce(
    (u, l) => box(Math.min(u.x0, l.bbox.x0), Math.min(u.y0, l.bbox.y0), Math.max(u.x1, l.bbox.x1), Math.max(u.y1, l.bbox.y1)),
    lines[0].bbox,
  );
  return { type: 'paragraph', page, bbox, lines, text: lines.map((l) => l.text).join(' ') };
}

function doc(blocks: Block[]): Document {
  return { info: { pageCount: 1 }, pages: [], blocks };
}

/** A one-page PDF to draw on: its fonts, `top` (pdf-lib measures from the bottom) and a body line. */
async function onePage() {
  const pdf = await PDFDocument.create();
  const sans = await pdf.embedFont(StandardFonts.Helvetica);
  const bold = await pdf.embedFont(StandardFonts.HelveticaBold);
  const mono = await pdf.embedFont(StandardFonts.Courier);
  const page = pdf.addPage([612, 792]);
  const top = (y: number) => 792 - y;
  const body = (y: number) =>
    page.drawText('Body text at the margin, long enough to set the body size of the page.', { x: 72, y: top(y), size: 11, font: sans });
  return { pdf, page, top, body, sans, bold, mono };
}

/** "1. Download the archive for your platform." and "2. Unpack it anywhere you like.", markers drawn apart, from baseline y down. */
function drawNumberedList(page: PDFPage, y: number, font: PDFFont): void {
  const items = ['Download the archive for your platform.', 'Unpack it anywhere you like.'];
  items.forEach((text, k) => {
    page.drawText(`${k + 1}.`, { x: 80, y: y - 18 * k, size: 11, font });
    page.drawText(text, { x: 94, y: y - 18 * k, size: 11, font });
  });
}

describe('engine steps on made-up inputs', () => {
  it('inline Markdown: bold, italic, code, links, escapes and a re-joined hyphenated word', () => {
    const md = inlineMarkdown([
      line(
        run('Use', 0, 0),
        run('fast', 20, 0, 10, { bold: true }),
        run('mode', 45, 0, 10, { italic: true }),
        run('a*b', 70, 0, 10, { monospace: true }),
        run('docs', 90, 0, 10, { link: 'https://example.org/docs' }),
        run('conver-', 115, 0),
      ),
      line(run('sion done.', 0, 14)),
    ]);
    assert.equal(md, 'Use **fast** *mode* `a*b` [docs](https://example.org/docs) conversion done.');
    assert.equal(inlineMarkdown([line(run('2 * 3 = [x]', 0, 0))]), '2 \\* 3 = \\[x\\]');
    assert.equal(inlineMarkdown([line(run('see', 0, 0, 10, { link: 'file:///docs/a.md' }))]), '[see](docs/a.md)');
  });

  it('headings: levels from size relative to the body; a bold body-size line only with heading spacing', () => {
    const body = (y: number) => line(run('Body text that is long enough to set the body size of the page.', 50, y));
    const blocks = [
      paragraph([line(run('Title', 50, 10, 20, { bold: true }))]),
      paragraph([body(50), body(64)]),
      paragraph([line(run('Section', 50, 100, 15, { bold: true }))]),
      paragraph([body(130)]),
      paragraph([line(run('Options', 50, 165, 10, { bold: true }))]), // 23 pt above, 8 below: a heading
      paragraph([body(185)]),
      paragraph([line(run('Note', 50, 210, 10, { bold: true }))]), // same space above and below: bold text
      paragraph([body(235)]),
    ];
    const out = detectHeadings(doc(blocks)).blocks;
    assert.deepEqual(
      out.map((b) => (b.type === 'heading' ? `h${b.level} ${b.text}` : b.type)),
      ['h1 Title', 'paragraph', 'h2 Section', 'paragraph', 'h4 Options', 'paragraph', 'paragraph', 'paragraph'],
    );
  });

  it('headings: a run-in heading left alone over a code block keeps the run-in level (spaced as after a paragraph)', () => {
    const text = 'Body text that is long enough to set the body size.';
    const body = (y: number) => paragraph([line(run(text, 50, y)), line(run('Its second line.', 50, y + 14))]);
    const runIn = (head: string, y: number) =>
      paragraph([line(run(head, 50, y, 10, { bold: true }), run('Its paragraph goes on after a quad.', 100, y)), line(run(text, 50, y + 14))]);
    const code = (y: number): Block => {
      const lines = [line(run('npm install', 50, y, 10, { monospace: true })), line(run('npm test', 50, y + 14, 10, { monospace: true }))];
      return { type: 'code', page: 0, bbox: box(50, y, 105, y + 26), text: 'npm install\nnpm test', lines };
    };
    const bold = (head: string, y: number) => paragraph([line(run(head, 50, y, 10, { bold: true }))]);
    // A paragraph leaves 8.6 pt before a code block; a display heading leaves 9.6.
    const blocks = [
      body(0),
      runIn('Usage.', 46),
      runIn('Options.', 92),
      body(138),
      code(172.6),
      body(218),
      code(252.6),
      bold('Display', 298.6),
      code(320.2),
      bold('Alone', 366.2),
      code(386.8),
      body(432.8),
    ];
    const levels = detectHeadings(doc(blocks))
      .blocks.filter((b) => b.type === 'heading')
      .map((b) => `h${b.level} ${b.text}`);
    assert.deepEqual(levels, ['h5 Usage.', 'h5 Options.', 'h4 Display', 'h5 Alone']);
  });

  it('headings: a one-line code block spaced as the document spaces its headings is a heading of code', () => {
    const text = 'Body text that is long enough to set the body size.';
    const body = (y: number) => paragraph([line(run(text, 50, y)), line(run('Its second line.', 50, y + 14))]);
    const heading = (words: string, y: number) => paragraph([line(run(words, 50, y, 10, { fontName: 'f2' }))]);
    const code = (y: number, source: string): Block => {
      const lines = [line(run(source, 50, y, 10, { monospace: true, fontName: 'f3' }))];
      return { type: 'code', page: 0, bbox: lines[0].bbox, text: source, lines };
    };
    // Headings: 10 pt above, 9 below; code blocks: 9 above, 10 below.
    const blocks: Block[] = [];
    let y = 0;
    const add = (block: (y: number) => Block, gap: number) => {
      y += gap;
      const b = block(y);
      blocks.push(b);
      y = b.bbox.y1;
    };
    add(body, 0);
    for (const words of ['Persistence', 'Path filtering', 'Errors']) {
      add((at) => heading(words, at), 10);
      add(body, 9);
    }
    add((at) => code(at, 'logMethod'), 10);
    add(body, 9);
    add((at) => code(at, 'npm install he'), 9);
    add(body, 10);
    const out = detectHeadings(doc(blocks)).blocks;
    const headings = out.filter((b) => b.type === 'heading');
    assert.deepEqual(
      headings.map((b) => b.text),
      ['Persistence', 'Path filtering', 'Errors', '`logMethod`'],
    );
    assert.ok(headings[3].level! > headings[0].level!, 'a heading of code in the code face sits below the other body-size headings');
    assert.ok(out.some((b) => b.type === 'code' && b.text === 'npm install he'));
  });

  it('headings: a bold label over code set flush with the text, spaced as a paragraph, stays a paragraph', () => {
    const text = 'Body text that is long enough to set the body size of the page.';
    const code = (y: number): Block => {
      const lines = [line(run('npm install', 50, y, 10, { monospace: true }))];
      return { type: 'code', page: 0, bbox: lines[0].bbox, text: 'npm install', lines };
    };
    // 9 pt between all blocks; the code starts where the text does (no box to pad it).
    const blocks = [
      paragraph([line(run(text, 50, 0))]),
      paragraph([line(run('Example', 50, 21, 10, { bold: true }))]),
      code(42),
      paragraph([line(run(text, 50, 63))]),
    ];
    const out = detectHeadings(doc(blocks)).blocks;
    assert.deepEqual(
      out.map((b) => b.type),
      ['paragraph', 'paragraph', 'code', 'paragraph'],
    );
  });

  it('headings: no escapes a heading does not need, and none taken from code or links', () => {
    const heading = (text: string) => {
      const block = paragraph([line(run('x', 50, 10, 20, { bold: true }))]);
      const body = paragraph([line(run('Body text that is long enough to set the body size of the page.', 50, 50))]);
      return detectHeadings(doc([{ ...block, text }, body])).blocks[0].text;
    };
    assert.equal(heading('fetch(url\\[, options\\]) \\| `a\\|b`'), 'fetch(url[, options]) | `a\\|b`');
    assert.equal(heading('2\\. Setup'), '2. Setup');
    assert.equal(heading('\\[see\\](x) and [docs](https://example.org)'), '\\[see\\](x) and [docs](https://example.org)');
  });

  it('headings: the space to a code block is measured to its box (the padding this document uses)', () => {
    const body = (y: number) =>
      paragraph([line(run('Body text that is long enough to set the body size.', 50, y)), line(run('Its second line.', 50, y + 14))]);
    const code = (y: number): Block => {
      const lines = [line(run('npm install', 60, y, 10, { monospace: true })), line(run('npm test', 60, y + 12, 10, { monospace: true }))];
      return { type: 'code', page: 0, bbox: box(60, y, 120, y + 24), text: 'npm install\nnpm test', lines };
    };
    const bold = (text: string, y: number) => paragraph([line(run(text, 50, y, 10, { bold: true }))]);
    // Paragraphs are 10 pt apart and code text 18 pt below a paragraph: the code box's padding is 8.
    const blocks = [
      body(0),
      body(36),
      body(72),
      code(116),
      body(150),
      code(194),
      body(228),
      code(272),
      body(306),
      body(342),
      bold('Usage', 382), // 14 pt above; 18.5 to the code's text, 10.5 to its box: a heading
      code(412.5),
      body(446.5),
      bold('Note', 486.5), // 14 pt above and below: bold text
      body(512.5),
    ];
    const out = detectHeadings(doc(blocks)).blocks;
    assert.deepEqual(
      out.map((b) => (b.type === 'heading' ? `h${b.level} ${b.text}` : b.type)),
      [
        ...['paragraph', 'paragraph', 'paragraph', 'code', 'paragraph', 'code', 'paragraph', 'code', 'paragraph', 'paragraph'],
        'h4 Usage',
        'code',
        'paragraph',
        'paragraph',
        'paragraph',
      ],
    );
  });

  it('lists: items nest by depth, numbered lists keep their start number', () => {
    const item = (text: string, depth: number, number?: number): Block => ({
      type: 'list_item',
      page: 0,
      bbox: box(0, 0, 10, 10),
      text,
      depth,
      number,
    });
    const out = nestLists(
      doc([item('one', 0, 3), item('two', 0, 4), item('inner', 1), item('deeper', 2), item('three', 0, 5), paragraph([line(run('after', 0, 100))])]),
    );
    assert.equal(renderMarkdown(out), '3. one\n4. two\n   - inner\n     - deeper\n5. three\n\nafter\n');
  });

  it('joins a paragraph cut by a column break, but not one that ended a sentence', () => {
    const full = line(run('a line that runs to the edge of the column and goes', 50, 700));
    const cut = paragraph([line(run('The start of a paragraph that is long enough to wrap', 50, 686)), full]);
    const rest = paragraph([line(run('on in the next column.', 320, 50))]);
    const joined = joinAcrossBreaks(doc([cut, rest])).blocks;
    assert.equal(joined.length, 1);
    assert.match(joined[0].text!, /goes on in the next column\.$/);
    const ended = paragraph([
      line(run('First paragraph of a long enough text.', 50, 686)),
      line(run('It ends here with a full stop at the end.', 50, 700)),
    ]);
    assert.equal(joinAcrossBreaks(doc([ended, rest])).blocks.length, 2);
  });

  it('removes running headers, footers and page numbers, keeps the body', () => {
    const pages: Page[] = [0, 1, 2].map((index) => ({
      index,
      width: 600,
      height: 800,
      rects: [],
      images: [],
      source: 'text',
      lines: [
        line(run('mylib — README.md', 50, 20, 8)),
        line(run(`Body text of page ${index + 1}`, 50, 100)),
        line(run(`Page ${index + 1} of 3`, 270, 775, 8)),
      ],
    }));
    pages[2].lines.push(line(run('42', 290, 760, 8))); // a bare page number
    removeFurniture(pages);
    assert.deepEqual(
      pages.map((p) => p.lines.map((l) => l.text)),
      [['Body text of page 1'], ['Body text of page 2'], ['Body text of page 3']],
    );
  });

  it("an OCR'd page's first line is furniture only by what it says or by repeating, not by its measured size", () => {
    // Two pages (too few to repeat): OCR measures each page's sizes from its own boxes, so the
    // second page's heading measures smaller than the first page's body.
    const twoPages = (source: Page['source']): Page[] =>
      [13.8, 12.4].map((size, index) => ({
        index,
        width: 612,
        height: 792,
        rects: [],
        images: [],
        source,
        lines: [
          line(run(index === 0 ? 'Introduction' : 'Examples for browsers:', 58, 58, size)),
          // The first page holds more text: its size is the document's body size.
          ...Array.from({ length: 8 - index * 2 }, (_, k) =>
            line(run(`Body line ${k} of page ${index + 1}, with words enough to weigh.`, 58, 90 + k * 24, size)),
          ),
          line(run(`${index + 1}`, 300, 760, size)),
        ],
      }));
    const ocr = twoPages('ocr');
    removeFurniture(ocr);
    assert.deepEqual(
      ocr.map((p) => p.lines[0].text),
      ['Introduction', 'Examples for browsers:'],
    );
    assert.ok(
      ocr.every((p) => p.lines.every((l) => !/^\d$/.test(l.text))),
      'page numbers go',
    );
    // On a born-digital page the same smaller line over the body is a running head.
    const text = twoPages('text');
    removeFurniture(text);
    assert.equal(text[1].lines[0].text, 'Body line 0 of page 2, with words enough to weigh.');
  });

  it('a real PDF: headings, numbered list, code block and running footer', async () => {
    const pdf = await PDFDocument.create();
    const sans = await pdf.embedFont(StandardFonts.Helvetica);
    const bold = await pdf.embedFont(StandardFonts.HelveticaBold);
    const mono = await pdf.embedFont(StandardFonts.Courier);
    for (let n = 1; n <= 2; n++) {
      const page = pdf.addPage([612, 792]);
      const top = (y: number) => 792 - y; // pdf-lib measures from the bottom
      page.drawText(n === 1 ? 'Getting Started' : 'Configuration', { x: 72, y: top(80), size: 22, font: bold });
      page.drawText('Install the package and run it with the default settings first.', { x: 72, y: top(120), size: 11, font: sans });
      drawNumberedList(page, top(150), sans);
      page.drawText('const tool = require("tool");', { x: 80, y: top(200), size: 9.4, font: mono });
      page.drawText('tool.run({ verbose: true });', { x: 89, y: top(212), size: 9.4, font: mono });
      page.drawText('More text after the code block, to keep the body size clear.', { x: 72, y: top(240), size: 11, font: sans });
      page.drawText(`Page ${n} of 2`, { x: 280, y: top(770), size: 8, font: sans });
    }
    const { output } = await convertPdf(await pdf.save(), {});
    assert.match(output, /^# Getting Started$/m);
    assert.match(output, /^# Configuration$/m);
    assert.match(output, /^1\. Download the archive for your platform\.\n2\. Unpack it anywhere you like\.$/m);
    assert.match(output, /^```\nconst tool = require\("tool"\);\n {2}tool\.run\(\{ verbose: true \}\);\n```$/m);
    assert.doesNotMatch(output, /Page \d of 2/);
  });

  it('list items wrap at the prose edge, though a code line runs further right', async () => {
    const { pdf, page, top, sans, mono } = await onePage();
    const prose =
      'Every setting below can be given in the environment or on the command line, and the command line wins when both are given. The defaults suit a small server.';
    let y = 80;
    for (let p = 0; p < 4; p++) {
      for (const line of wrap(prose, sans, 11, 468)) {
        page.drawText(line, { x: 72, y: top(y), size: 11, font: sans });
        y += 14;
      }
      y += 10;
    }
    // A code line wider than the prose (code boxes scroll on screen; on paper they run over).
    page.drawText('docmark convert report.pdf --out out/report.md --format markdown --extract-images --force', {
      x: 83,
      y: top(y + 10),
      size: 9.4,
      font: mono,
    });
    y += 44;
    const items = [
      'The first item is long enough to wrap onto a second line, where its text goes on without a break.',
      'The second item wraps the same way, and ends well short of the right edge of the text column.',
    ];
    for (const item of items) {
      for (const line of wrap(item, sans, 11, 540 - 94)) {
        page.drawText(line, { x: 94, y: top(y), size: 11, font: sans });
        y += 14;
      }
      y += 4;
    }
    const { output } = await convertPdf(await pdf.save(), {});
    assert.ok(output.includes(items.map((i) => `- ${i}`).join('\n')), output);
  });

  it('a numbered heading ("2. Configuration" set large) is a heading with its number, not a list item', async () => {
    const { pdf, page, top, body, sans, bold } = await onePage();
    // One title written as it reads, one drawn apart from its number at a tab, as word processors
    // do; 1.5 times the body size, a browser's h2.
    page.drawText('1. Getting started', { x: 72, y: top(80), size: 16.5, font: bold });
    [110, 124, 138].forEach(body);
    drawNumberedList(page, top(168), sans);
    page.drawText('2.', { x: 72, y: top(230), size: 16.5, font: bold });
    page.drawText('Configuration', { x: 108, y: top(230), size: 16.5, font: bold });
    [260, 274].forEach(body);
    const { output } = await convertPdf(await pdf.save(), {});
    assert.match(output, /^## 1\. Getting started$/m);
    assert.match(output, /^## 2\. Configuration$/m);
    assert.match(output, /^1\. Download the archive for your platform\.\n2\. Unpack it anywhere you like\.$/m);
  });

  it('code boxes one after another stay apart; a blank line inside one does not split it', async () => {
    const { pdf, page, top, body, sans, mono } = await onePage();
    [80, 94, 108].forEach(body);
    // Code lines 13.6 pt apart (1.45 × 9.4 pt); the next box's first line 2.7 lines further
    // down (padding, margin, padding): off the grid of lines, as two boxes are.
    const code: Array<[string, number]> = [
      ['npm install tool', 150],
      ['yarn add tool', 186.7],
      ["const tool = require('tool');", 223.4],
      ['tool.start();', 237],
      ['tool.stop();', 264.2],
    ];
    for (const [text, y] of code) page.drawText(text, { x: 83, y: top(y), size: 9.4, font: mono });
    page.drawText('More text after the code, at the margin again.', { x: 72, y: top(300), size: 11, font: sans });
    const { output } = await convertPdf(await pdf.save(), {});
    const blocks = ['npm install tool', 'yarn add tool', "const tool = require('tool');\ntool.start();\n\ntool.stop();"];
    assert.ok(output.includes(blocks.map((b) => `\`\`\`\n${b}\n\`\`\``).join('\n\n')), output);
  });

  it('a code block indented by two characters is code from its first line, not a list', async () => {
    const { pdf, page, top, body, sans, mono } = await onePage();
    [80, 94, 108].forEach(body);
    // The code box's padding is one body size; the code is indented by two characters (5.64 pt
    // each in 9.4 pt Courier), which puts its lines two body sizes in, where a list item would be.
    const code = ['const a = 1;', '  run(a);', 'done(a);'];
    code.forEach((text, k) => {
      const indent = 2 + text.length - text.trimStart().length;
      page.drawText(text.trimStart(), { x: 83 + indent * 5.64, y: top(150 + k * 12), size: 9.4, font: mono });
    });
    page.drawText('More text after the code block, at the margin again.', { x: 72, y: top(210), size: 11, font: sans });
    const { output } = await convertPdf(await pdf.save(), {});
    assert.ok(output.includes('```\nconst a = 1;\n  run(a);\ndone(a);\n```'), output);
    assert.doesNotMatch(output, /^- /m);
  });

  it('extract_images: PNGs in the result (API) and files beside the Markdown (CLI), referenced from the Markdown', async () => {
    const canvas = createCanvas(40, 20);
    const context = canvas.getContext('2d');
    context.fillStyle = '#ff0000';
    context.fillRect(0, 0, 40, 20);
    const pdf = await PDFDocument.create();
    const sans = await pdf.embedFont(StandardFonts.Helvetica);
    const page = pdf.addPage([612, 792]);
    page.drawText('Text above the picture, set in the body size of this page.', { x: 72, y: 700, size: 11, font: sans });
    page.drawImage(await pdf.embedPng(canvas.toBuffer('image/png')), { x: 72, y: 500, width: 160, height: 80 });
    page.drawText('Text below the picture.', { x: 72, y: 450, size: 11, font: sans });
    const bytes = await pdf.save();

    const plain = await convertPdf(bytes, {});
    assert.equal(plain.images, undefined);
    assert.doesNotMatch(plain.output, /!\[/);

    const result = await convertPdf(bytes, { extractImages: true });
    assert.equal(result.images?.length, 1);
    const [image] = result.images!;
    assert.equal(image.mime, 'image/png');
    assert.deepEqual([...Buffer.from(image.data, 'base64').subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), 'PNG');
    assert.match(result.output, new RegExp(`picture, set in the body size of this page\\.\\n\\n!\\[\\]\\(${image.id}\\)\\n\\nText below`));

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-images-'));
    try {
      fs.writeFileSync(path.join(dir, 'in.pdf'), bytes);
      const res = spawnSync(
        process.execPath,
        [CLI, 'convert', path.join(dir, 'in.pdf'), '-o', path.join(dir, 'out.md'), '--extract-images', '--quiet'],
        { encoding: 'utf8', timeout: 60_000 },
      );
      assert.equal(res.status, 0, res.stderr);
      assert.match(fs.readFileSync(path.join(dir, 'out.md'), 'utf8'), new RegExp(`!\\[\\]\\(${image.id}\\)`));
      assert.ok(fs.readFileSync(path.join(dir, image.id)).subarray(1, 4).equals(Buffer.from('PNG')));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------- documents from other producers

/** A page to draw on (Times and Courier, as LaTeX and word processors set text), measured from the top. */
async function typesetPage(width = 612, height = 792) {
  const pdf = await PDFDocument.create();
  const serif = await pdf.embedFont(StandardFonts.TimesRoman);
  const bold = await pdf.embedFont(StandardFonts.TimesRomanBold);
  const italic = await pdf.embedFont(StandardFonts.TimesRomanItalic);
  const mono = await pdf.embedFont(StandardFonts.Courier);
  const page = pdf.addPage([width, height]);
  const at = (text: string, x: number, y: number, size = 11, font: PDFFont = serif) => page.drawText(text, { x, y: height - y, size, font });
  /** A paragraph set from the top at y, wrapped to the width; returns the y under it. */
  const para = (text: string, y: number, x = 72, w = 468, size = 11): number => {
    for (const l of wrap(text, serif, size, w)) {
      at(l, x, y, size);
      y += size * 1.25;
    }
    return y + size * 0.6;
  };
  return { pdf, page, at, para, serif, bold, italic, mono };
}

const PROSE =
  'The measurements were taken over three winters at the same station, with the instruments checked against a reference before each season and after it.';

describe('engine rules for documents from other producers', () => {
  it('a single journal page loses its running head, journal line, DOI, download stamp and page number', async () => {
    const { pdf, at, para } = await typesetPage();
    at('Journal of Field Studies 12 (2024) 101–118', 72, 40, 8);
    at('M. Author et al.', 470, 40, 8);
    let y = 90;
    for (let k = 0; k < 5; k++) y = para(PROSE, y);
    at('https://doi.org/10.1234/jfs.2024.0107', 72, 740, 8);
    at('Downloaded from https://journals.example.org on 3 May 2024', 72, 752, 8);
    at('107', 300, 770, 9);
    const { output } = await convertPdf(await pdf.save(), {});
    assert.match(output, /^The measurements were taken/m);
    for (const gone of ['Journal of Field Studies', 'M. Author', 'doi.org', 'Downloaded from', '107'])
      assert.ok(!output.includes(gone), `${gone} kept:\n${output}`);
  });

  it('line numbers in the margin are dropped, the lines they number kept', async () => {
    const { pdf, at, serif } = await typesetPage();
    const lines = wrap(`${PROSE} ${PROSE} ${PROSE}`, serif, 11, 440);
    lines.forEach((l, k) => {
      at(String(k + 1), 40, 100 + k * 14, 8);
      at(l, 72, 100 + k * 14);
    });
    const { output } = await convertPdf(await pdf.save(), {});
    assert.match(output, /^The measurements were taken over three winters/m);
    assert.doesNotMatch(output, /\b[1-9]\b (The|instruments|reference)/);
    assert.ok(!/\s\d{1,2}\s/.test(output.replace(/three|2024/g, '')), output);
  });

  it('bullets drawn as text: one item per bullet, continuation lines inside it, a dash bullet nested', async () => {
    const { pdf, at, para, serif } = await typesetPage();
    let y = para(PROSE, 80);
    const item = (marker: string, x: number, text: string) => {
      const ls = wrap(text, serif, 11, 520 - x);
      at(marker, x, y);
      ls.forEach((l, k) => at(l, x + 12, y + k * 13.5));
      y += ls.length * 13.5 + 2;
    };
    item('•', 84, 'The first item runs long enough to wrap onto a second line, which is set under its first word.');
    item('–', 102, 'A nested item under the first one.');
    item('•', 84, 'The second item is short.');
    para(PROSE, y + 8);
    const { output } = await convertPdf(await pdf.save(), {});
    assert.ok(
      output.includes(
        '- The first item runs long enough to wrap onto a second line, which is set under its first word.\n  - A nested item under the first one.\n- The second item is short.',
      ),
      output,
    );
    assert.doesNotMatch(output, /[•–] /);
  });

  it('numbered sections take their level from the number, under a larger title; a run-in heading starts a paragraph', async () => {
    const { pdf, at, para, bold, serif } = await typesetPage();
    at('A Study of Winter Measurements', 72, 80, 17, bold);
    let y = para(PROSE, 110);
    at('1', 72, y + 14, 12, bold);
    at('Introduction', 90, y + 14, 12, bold);
    y = para(PROSE, y + 36);
    at('1.1', 72, y + 10, 11, bold);
    at('Stations', 93, y + 10, 11, bold);
    y = para(PROSE, y + 28);
    at('2', 72, y + 14, 12, bold);
    at('Methods', 90, y + 14, 12, bold);
    y = para(PROSE, y + 36);
    // \paragraph{Results.} followed by its text on the same line, a quad apart.
    at('Results.', 72, y + 6, 11, bold);
    at('The readings agree with the reference within the stated error.', 72 + bold.widthOfTextAtSize('Results.', 11) + 11, y + 6, 11, serif);
    para(PROSE, y + 20);
    const { output } = await convertPdf(await pdf.save(), {});
    const headings = output.split('\n').filter((l) => l.startsWith('#'));
    assert.deepEqual(
      headings,
      ['# A Study of Winter Measurements', '## 1 Introduction', '### 1.1 Stations', '## 2 Methods', '#### Results.'],
      output,
    );
    assert.match(output, /^The readings agree with the reference/m);
  });

  it('a numbered run-in heading with code in it ("1.2 `name` (String)") is a heading at its number\'s depth', async () => {
    const { pdf, at, para, bold, mono, serif } = await typesetPage();
    at('Options of the Logger', 72, 80, 17, bold);
    let y = para(PROSE, 110);
    for (const [number, title] of [
      ['1', 'Options'],
      ['1.1', 'Names'],
      ['1.1.1', 'Short names'],
    ]) {
      const size = number.includes('.') ? 11 : 12;
      at(number, 72, y + 14, size, bold);
      at(title, 72 + bold.widthOfTextAtSize(`${number}  `, size), y + 14, size, bold);
      y = para(PROSE, y + 36);
    }
    // \subsubsection run in: a bold number, the option's name in code, its type in bold, a quad, then the text.
    let x = 72;
    for (const [text, font] of [
      ['1.2', bold],
      ['name', mono],
      ['(String)', bold],
      ['Default:', serif],
      ['undefined', mono],
    ] as const) {
      at(text, x, y + 6, 11, font);
      x += font.widthOfTextAtSize(text, 11) + (text === '1.2' || text === '(String)' ? 11 : 3);
    }
    para(PROSE, y + 20);
    const { output } = await convertPdf(await pdf.save(), {});
    const headings = output.split('\n').filter((l) => l.startsWith('#'));
    assert.deepEqual(
      headings,
      ['# Options of the Logger', '## 1 Options', '### 1.1 Names', '#### 1.1.1 Short names', '### 1.2 `name` (String)'],
      output,
    );
    assert.match(output, /^Default: `undefined`/m);
  });

  it('code set flush with the text is a code block; inline code wrapped onto a line of its own stays in its paragraph', async () => {
    const { pdf, at, para, mono, serif } = await typesetPage();
    let y = para(PROSE, 80);
    at('Install it, then run the command', 72, y);
    at('docmark-convert --output=out/report.md', 72 + serif.widthOfTextAtSize('Install it, then run the command ', 11), y, 11, mono);
    y += 13.75;
    at('in the folder that holds your reports.', 72, y);
    y += 22;
    for (const l of ['const docmark = require("docmark");', 'docmark.convert("report.pdf");', 'docmark.close();']) {
      at(l, 72, y, 10, mono);
      y += 12;
    }
    para(PROSE, y + 10);
    const { output } = await convertPdf(await pdf.save(), {});
    assert.ok(output.includes('```\nconst docmark = require("docmark");\ndocmark.convert("report.pdf");\ndocmark.close();\n```'), output);
    assert.match(output, /the command `docmark-convert --output=out\/report.md` in the folder/);
  });

  it('a heading in a code face the code blocks do not use, right under a code block, is a heading of its own', async () => {
    const { pdf, at, para, mono } = await typesetPage();
    const monoBold = await pdf.embedFont(StandardFonts.CourierBold);
    let y = para(PROSE, 80);
    const code = (lines: string[]) => {
      for (const l of lines) {
        at(l, 72, y, 10, mono);
        y += 12;
      }
    };
    code(['const docmark = require("docmark");', 'docmark.convert("report.pdf");', '}']);
    // Its heading's own space above: off the code block's line grid.
    y += 9;
    at('distinctGroup', 72, y, 10, monoBold);
    y = para(PROSE, y + 18);
    code(['docmark.close();', 'process.exit(0);']);
    para(PROSE, y + 10);
    const { output } = await convertPdf(await pdf.save(), {});
    assert.match(output, /^#+ `distinctGroup`$/m, output);
    assert.ok(output.includes('```\nconst docmark = require("docmark");\ndocmark.convert("report.pdf");\n}\n```'), output);
  });

  it('footnotes: the raised mark calls the note, the note is a block of its own', async () => {
    const { pdf, at, para, serif } = await typesetPage();
    at('The station was moved in the second winter', 72, 100);
    const end = 72 + serif.widthOfTextAtSize('The station was moved in the second winter', 11);
    at('1', end + 0.5, 96, 7);
    at('and its readings were corrected for the height.', end + 6, 100);
    para(PROSE, 120);
    at('1', 72, 716, 6);
    at('The new site lies 40 m higher than the old one.', 77, 720, 9);
    const { output } = await convertPdf(await pdf.save(), {});
    assert.match(output, /second winter\[\^1\] and its readings/);
    assert.match(output, /^\[\^1\]: The new site lies 40 m higher than the old one\.$/m);
  });

  it('a word hyphenated at a line end is re-joined, a compound broken after its hyphen keeps it', async () => {
    const { pdf, at } = await typesetPage();
    const lines = [
      'The computation of the mean is simple, and the wrap-around buffer keeps',
      'the last readings. We checked the compu-',
      'tation twice and found the buffer, a wrap-',
      'around one, large enough for the whole season.',
    ];
    lines.forEach((l, k) => at(l, 72, 100 + k * 13.5));
    const { output } = await convertPdf(await pdf.save(), {});
    assert.match(output, /checked the computation twice/);
    assert.match(output, /a wrap-around one/);
  });

  it('a code comment line stays a line of its own before a statement, in a narrow code box', async () => {
    const pdf = await PDFDocument.create();
    const sans = await pdf.embedFont(StandardFonts.Helvetica);
    const mono = await pdf.embedFont(StandardFonts.Courier);
    const page = pdf.addPage([360, 600]);
    const top = (y: number) => 600 - y;
    for (let k = 0; k < 6; k++) {
      for (const [i, l] of wrap(PROSE, sans, 9, 288).entries()) page.drawText(l, { x: 36, y: top(60 + k * 70 + i * 12), size: 9, font: sans });
    }
    const code = [
      '// Load hash from your password DB.',
      'bcrypt.compareSync(myPlaintextPassword, hash); // true',
      'bcrypt.compareSync(otherPassword, hash); // false',
    ];
    code.forEach((l, k) => page.drawText(l, { x: 47, y: top(500 + k * 9.5), size: 6.6, font: mono }));
    page.drawText('The end of the example.', { x: 36, y: top(550), size: 9, font: sans });
    const { output } = await convertPdf(await pdf.save(), {});
    assert.ok(output.includes(`\`\`\`\n${code.join('\n')}\n\`\`\``), output);
  });

  it('ligature glyphs are spelled out', () => {
    assert.equal(spellLigatures('The ﬁrst ﬂow is eﬃcient'), 'The first flow is efficient');
  });

  it('links to places in the document become anchors of the heading found there', () => {
    const page: Page = {
      index: 0,
      width: 600,
      height: 800,
      rects: [],
      images: [],
      source: 'text',
      lines: [line(run('See the options below.', 50, 100, 10, { link: '#@0:500' })), line(run('Options & Settings', 50, 300, 14))],
    };
    resolvePlaces([page]);
    assert.equal(page.lines[0].runs[0].link, '#options--settings');
    assert.equal(anchorOf('Why is async mode recommended?'), 'why-is-async-mode-recommended');
  });

  it('a table printed over the next column (wider than its own) leaves the page two columns', () => {
    const lines: Line[] = [];
    const prose = 'Prose of the first column, set full width here.';
    for (let k = 0; k < 40; k++) lines.push(line(run(k >= 10 && k < 16 ? `${prose} | cells of a wide row` : prose, 50, 60 + k * 12, 10)));
    for (let k = 0; k < 40; k++) lines.push(line(run('Prose of the second column, also full width.', 320, 60 + k * 12, 10)));
    const page: Page = { index: 0, width: 612, height: 792, rects: [], images: [], source: 'text', lines };
    assert.deepEqual(
      columnsOf(analyseLayout([page]), 0).map((c) => Math.round(c.left)),
      [49, 319],
    );
  });

  it('a second column whose lines start at many indents is found by its gutter', () => {
    const lines: Line[] = [];
    for (let k = 0; k < 30; k++) lines.push(line(run('Prose of the first column, set full width.', 50, 60 + k * 12, 10)));
    for (let k = 0; k < 30; k++) lines.push(line(run(k % 3 === 0 ? 'Item text' : 'nested entry', 320 + (k % 3) * 14, 60 + k * 12, 10)));
    const page: Page = { index: 0, width: 612, height: 792, rects: [], images: [], source: 'text', lines };
    const layout = analyseLayout([page]);
    assert.deepEqual(
      columnsOf(layout, 0).map((c) => Math.round(c.left)),
      [49, 319],
    );
  });
});
