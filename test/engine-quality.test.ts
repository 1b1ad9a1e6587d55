import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { createCanvas } from '@napi-rs/canvas';
import { PDFDocument, type PDFFont, type PDFPage, StandardFonts } from 'pdf-lib';
import { inlineMarkdown } from '../src/engine/layout/inline.ts';
import { removeRunningLines } from '../src/engine/layout/furniture.ts';
import { convertPdf } from '../src/engine/convert.ts';
import { detectHeadings } from '../src/engine/structure/headings.ts';
import { joinAcrossBreaks } from '../src/engine/structure/joins.ts';
import { nestLists } from '../src/engine/structure/lists.ts';
import { renderMarkdown } from '../src/engine/render/markdown.ts';
import { listDocuments } from '../src/eval/corpus.ts';
import { evaluate } from '../src/eval/evaluate.ts';
import type { Metric } from '../src/eval/score.ts';
import type { BBox, Block, Document, Line, Page, TextRun } from '../src/engine/types.ts';
import { wrap } from './helpers/pdf.ts';
import { CLI } from './helpers/server.ts';

const CORPUS = path.resolve(import.meta.dirname, 'fixtures/corpus');

/**
 * Floors a little below what the engine reaches on the dev corpus (bench/RESULTS.md): scores are
 * deterministic, so a change that loses structure fails here.
 */
const FLOORS: Partial<Record<Metric, number>> = {
  text: 0.99,
  headings: 0.95,
  heading_levels: 0.95,
  tables: 0.86,
  cells: 0.84,
  lists: 0.94,
  code: 0.9,
  order: 0.98,
  furniture: 0.98,
};

describe('engine quality on the dev corpus', () => {
  it('scores at or above the floors on every metric', async () => {
    const docs = listDocuments(CORPUS).filter((d) => d.kind === 'markdown');
    const { means } = await evaluate(docs, async (d) => ({ output: (await convertPdf(fs.readFileSync(d.pdf), {})).output }));
    const below = Object.entries(FLOORS)
      .filter(([metric, floor]) => !((means.markdown.scores[metric as Metric] ?? -1) >= floor))
      .map(([metric, floor]) => `${metric} ${means.markdown.scores[metric as Metric]?.toFixed(3)} < ${floor}`);
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
    removeRunningLines(pages);
    assert.deepEqual(
      pages.map((p) => p.lines.map((l) => l.text)),
      [['Body text of page 1'], ['Body text of page 2'], ['Body text of page 3']],
    );
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
    // One title written as it reads, one drawn apart from its number at a tab, as word processors do.
    page.drawText('1. Getting started', { x: 72, y: top(80), size: 16, font: bold });
    [110, 124, 138].forEach(body);
    drawNumberedList(page, top(168), sans);
    page.drawText('2.', { x: 72, y: top(230), size: 16, font: bold });
    page.drawText('Configuration', { x: 108, y: top(230), size: 16, font: bold });
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
