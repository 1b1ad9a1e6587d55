import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PDFDocument, type PDFPage, StandardFonts, rgb } from 'pdf-lib';
import { convertPdf } from '../src/engine/convert.ts';
import { mayHoldTable, readDrawings } from '../src/engine/extract/drawings.ts';
import { makeLine } from '../src/engine/extract/lines.ts';
import { loadPdf } from '../src/engine/load/pdf.ts';
import type { Page, Rect, TextRun } from '../src/engine/types.ts';
import { listDocuments } from '../src/eval/corpus.ts';
import { evaluate } from '../src/eval/evaluate.ts';
import { wrap } from './helpers/pdf.ts';
import { cellBorders, type Fonts, hrule, newDocument, prose, text, textRight } from './helpers/tables.ts';

/**
 * Tables whose cells hold more than one line: a line the browser wrapped is joined back, and a
 * line broken on purpose (a cell with two paragraphs or a list) makes the table HTML, since a
 * GFM cell holds one line.
 */

const FIXTURES = path.resolve(import.meta.dirname, 'fixtures');

const PROSE =
  'Every setting below can be given in the environment or on the command line, and the command line wins when both are given. ' +
  'The defaults suit a small server that converts a few documents at a time.';

/** A page of prose at the margin and a three-column table inset from it, drawn cell by cell. */
async function tablePdf(notes: string[][]): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  const page = doc.addPage([612, 792]);
  let y = 720;
  for (let p = 0; p < 3; p++) {
    for (const line of wrap(PROSE, font, 11, 468)) {
      page.drawText(line, { x: 72, y, size: 11, font });
      y -= 14;
    }
    y -= 12;
  }
  const columns = [80, 220, 360];
  const header = ['Setting', 'Default', 'Notes'];
  header.forEach((text, c) => {
    page.drawText(text, { x: columns[c], y, size: 11, font: bold });
  });
  y -= 20;
  const rows = [
    ['timeout', '30 s'],
    ['retries', '2'],
  ];
  rows.forEach(([name, value], r) => {
    page.drawText(name, { x: columns[0], y, size: 11, font });
    page.drawText(value, { x: columns[1], y, size: 11, font });
    // Each of the cell's paragraphs wraps at the column width; paragraphs follow line by line.
    const lines = notes[r].flatMap((para) => wrap(para, font, 11, 160));
    lines.forEach((line, k) => page.drawText(line, { x: columns[2], y: y - k * 14, size: 11, font }));
    y -= 14 * lines.length + 6;
  });
  y -= 14;
  for (const line of wrap(PROSE, font, 11, 468)) {
    page.drawText(line, { x: 72, y, size: 11, font });
    y -= 14;
  }
  return doc.save();
}

const WRAPPED = 'How long a conversion may run before the server gives up on it and answers with an error.';

describe('tables with cells of several lines', () => {
  it('joins the lines of a wrapped cell and keeps a GFM table', async () => {
    const pdf = await tablePdf([[WRAPPED], ['Counts failures only, never timeouts or refusals of any kind.']]);
    const { output } = await convertPdf(pdf);
    assert.match(output, /^\| Setting \| Default \| Notes \|$/m);
    assert.ok(output.includes(`| timeout | 30 s | ${WRAPPED} |`), output);
    assert.doesNotMatch(output, /<table>/);
  });

  it('falls back to an HTML table when a cell holds two paragraphs, in Markdown, HTML and JSON', async () => {
    const pdf = await tablePdf([[WRAPPED], ['Counts failures only.', 'Set 0 to disable.']]);
    const { output } = await convertPdf(pdf);
    const table = [
      '<table>',
      '<thead><tr><th>Setting</th><th>Default</th><th>Notes</th></tr></thead>',
      '<tbody>',
      `<tr><td>timeout</td><td>30 s</td><td>${WRAPPED}</td></tr>`,
      '<tr><td>retries</td><td>2</td><td>Counts failures only.<br>Set 0 to disable.</td></tr>',
      '</tbody>',
      '</table>',
    ].join('\n');
    assert.ok(output.includes(`\n\n${table}\n\n`), output);
    assert.doesNotMatch(output, /^\|/m, 'no GFM table beside it');

    const html = (await convertPdf(pdf, { outputFormat: 'html' })).output;
    assert.ok(html.includes(table), html);

    const json = JSON.parse((await convertPdf(pdf, { outputFormat: 'json' })).output);
    const block = json.blocks.find((b: { type: string }) => b.type === 'table');
    assert.deepEqual(block.rows[2], ['retries', '2', 'Counts failures only.\nSet 0 to disable.']);
  });
});

/**
 * An options table as GitHub prints it: code names in a narrow first column (seven characters
 * wide), broken wherever they reach the cell's edge (a wrapped line starts a little left of the
 * first, the padding of the inline-code box), a header cell that wraps, the last header centred
 * over a wide column, and inline code inside a description, every cell bordered. The table runs
 * on over a page break, where the next page starts with a row whose first cell is code.
 */
async function optionsTablePdf(): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  const mono = await doc.embedFont(StandardFonts.Courier);
  const prose = (page: ReturnType<typeof doc.addPage>, y: number): number => {
    for (const line of wrap(PROSE, font, 11, 468)) {
      page.drawText(line, { x: 72, y, size: 11, font });
      y -= 14;
    }
    return y - 12;
  };
  const [name, type, description] = [80, 150, 240];
  const row = (page: ReturnType<typeof doc.addPage>, y: number, parts: string[], kind: string, text: (y: number) => void): number => {
    parts.forEach((part, k) => page.drawText(part, { x: k === 0 ? name + 1.5 : name, y: y - k * 14, size: 10, font: mono }));
    page.drawText(kind, { x: type, y, size: 10, font: mono });
    text(y);
    return y - 14 * parts.length - 8;
  };

  const first = doc.addPage([612, 792]);
  let y = prose(first, prose(first, 720));
  first.drawText('Key', { x: name, y, size: 11, font: bold });
  first.drawText('Type of', { x: type, y, size: 11, font: bold });
  first.drawText('value', { x: type, y: y - 14, size: 11, font: bold });
  first.drawText('Description', { x: 330, y, size: 11, font: bold });
  // Cell borders (from the page's top): the header row, then the first row.
  cellBorders(first, [74, 144, 234, 540], [792 - y - 15, 792 - y + 21, 792 - y + 60]);
  y -= 36;
  row(first, y, ['maxLeng', 'th'], 'number', (y) => {
    // The space and the code box's padding between them, as a browser draws it.
    const lead = 'Longest input accepted, in characters, like';
    first.drawText(lead, { x: description, y, size: 11, font });
    first.drawText('maxBytes', { x: description + font.widthOfTextAtSize(lead, 11) + 5.5, y, size: 10, font: mono });
  });

  const second = doc.addPage([612, 792]);
  cellBorders(second, [74, 144, 234, 540], [57, 93, 118]);
  y = row(second, 720, ['keepQuo', 'tes'], 'boolean', (y) => second.drawText('Retain quotes.', { x: description, y, size: 11, font }));
  y = row(second, y, ['timeout'], 'number', (y) => second.drawText('How long to wait.', { x: description, y, size: 11, font }));
  prose(second, y - 14);
  return doc.save();
}

describe('tables of code names', () => {
  it('keeps one table across the page break, with code cells, a centred header and inline code', async () => {
    const { output } = await convertPdf(await optionsTablePdf());
    const table = [
      '| Key | Type of value | Description |',
      '| --- | --- | --- |',
      '| `maxLength` | `number` | Longest input accepted, in characters, like `maxBytes` |',
      '| `keepQuotes` | `boolean` | Retain quotes. |',
      '| `timeout` | `number` | How long to wait. |',
    ].join('\n');
    assert.ok(output.includes(`\n\n${table}\n\n`), output);
    assert.doesNotMatch(output, /```/, 'no code block made of table cells');
  });
});

describe('a table of code cells across a page break', () => {
  it('goes on at the top of the next page, in the columns of the table that ended the page before', async () => {
    const doc = await PDFDocument.create();
    const font = await doc.embedFont(StandardFonts.Helvetica);
    const bold = await doc.embedFont(StandardFonts.HelveticaBold);
    const mono = await doc.embedFont(StandardFonts.Courier);
    const rows = [
      ['cwd', 'cwd'],
      ['dot', 'dot'],
      ['mark', 'markDirectories'],
      ['noext', 'extglob'],
      ['nocase', 'caseSensitiveMatch'],
      ['nodir', 'onlyFiles'],
    ];
    const first = doc.addPage([612, 792]);
    let y = 720;
    for (const line of wrap(PROSE, font, 11, 468)) {
      first.drawText(line, { x: 72, y, size: 11, font });
      y -= 14;
    }
    y -= 14;
    first.drawText('node-glob', { x: 80, y, size: 11, font: bold });
    first.drawText('fast-glob', { x: 160, y, size: 11, font: bold });
    // Three rows end the first page; the next page starts with rows of code alone. Every cell is bordered.
    const second = doc.addPage([612, 792]);
    cellBorders(first, [74, 154, 300], [792 - y - 14, ...[1, 2, 3].map((k) => 792 - y + 20 * k - 14)]);
    cellBorders(second, [74, 154, 300], [58, 78, 98, 118]);
    rows.forEach(([a, b], k) => {
      const page = k < 3 ? first : second;
      const at = k < 3 ? y - 20 * (k + 1) : 720 - 20 * (k - 3);
      page.drawText(a, { x: 80, y: at, size: 10, font: mono });
      page.drawText(b, { x: 160, y: at, size: 10, font: mono });
    });
    for (const [k, line] of wrap(PROSE, font, 11, 468).entries()) second.drawText(line, { x: 72, y: 640 - 14 * k, size: 11, font });
    const { output } = await convertPdf(await doc.save());
    const table = ['| node-glob | fast-glob |', '| --- | --- |', ...rows.map(([a, b]) => `| \`${a}\` | \`${b}\` |`)].join('\n');
    assert.ok(output.includes(`\n\n${table}\n\n`), output);
    assert.doesNotMatch(output, /```/);
  });
});

// ---------------------------------------------------------------- tables as other producers set them

/** A page with prose above and below `draw`'s table; `draw` gets where the table may start and returns where it ended. */
async function pageWith(draw: (page: PDFPage, fonts: Fonts, top: number) => number): Promise<Uint8Array> {
  const { doc, fonts } = await newDocument();
  const page = doc.addPage([612, 792]);
  const end = draw(page, fonts, prose(page, fonts.regular, 80) + 10);
  prose(page, fonts.regular, end + 24);
  return doc.save();
}

/** The Markdown of the only table in the output, checking that prose stayed outside it. */
function onlyTable(output: string): string {
  const blocks = output.split('\n\n').filter((b) => b.startsWith('|') || b.startsWith('<table>'));
  assert.equal(blocks.length, 1, output);
  assert.ok(!blocks[0].includes('Every setting'), output);
  return blocks[0];
}

const gfm = (rows: string[][]): string =>
  [`| ${rows[0].join(' | ')} |`, `| ${rows[0].map(() => '---').join(' | ')} |`, ...rows.slice(1).map((r) => `| ${r.join(' | ')} |`)].join('\n');

describe('ruled tables', () => {
  it('reads a grid whose every cell is bordered, narrow number columns included (Chromium)', async () => {
    const head = ['Mode', 'L', 'M', 'Q', 'H'];
    const rows = [
      ['Numeric', '7089', '5596', '3993', '3057'],
      ['Alphanumeric', '4296', '3391', '2420', '1852'],
      ['Byte', '2953', '2331', '1663', '1273'],
    ];
    const pdf = await pageWith((page, fonts, top) => {
      const xs = [72, 172, 212, 252, 292, 332];
      const ys = [top];
      let y = top;
      for (const row of [head, ...rows]) {
        row.forEach((cell, c) => text(page, cell, xs[c] + 6, y + 15, row === head ? fonts.bold : fonts.regular));
        y += 22;
        ys.push(y);
      }
      cellBorders(page, xs, ys);
      return y;
    });
    assert.equal(onlyTable((await convertPdf(pdf)).output), gfm([head, ...rows]));
  });

  it('reads a booktabs table: top, middle and bottom rules, a column of wrapped text, rows drawn line by line (LaTeX)', async () => {
    const rows = [
      ['maxConcurrent', 'null', 'How many jobs can be executing at the same time; consider setting a value instead of leaving it null.'],
      ['minTime', '0 ms', 'How long to wait after launching a job before launching another one.'],
      ['highWater', 'null', 'How long the queue can get before the strategy sheds load.'],
    ];
    const pdf = await pageWith((page, fonts, top) => {
      let y = top;
      hrule(page, 72, 540, y, 0.8);
      y += 14;
      const cols = [78, 190, 290];
      ['Option', 'Default', 'Description'].forEach((h, c) => text(page, h, cols[c], y, fonts.regular));
      hrule(page, 72, 540, y + 5, 0.5);
      y += 19;
      for (const [a, b, desc] of rows) {
        text(page, a, cols[0], y, fonts.mono, 10);
        text(page, b, cols[1], y, fonts.regular);
        const lines = wrap(desc, fonts.regular, 11, 244);
        for (const [k, line] of lines.entries()) text(page, line, cols[2], y + 13 * k, fonts.regular);
        y += 13 * lines.length;
      }
      hrule(page, 72, 540, y - 6, 0.8);
      return y;
    });
    const expected = gfm([['Option', 'Default', 'Description'], ...rows.map(([a, b, c]) => [`\`${a}\``, b, c])]);
    assert.equal(onlyTable((await convertPdf(pdf)).output), expected);
  });

  it('reads a table with a rule under its header only, cells drawn one by one, a wrapped cell (word processors)', async () => {
    const rows = [
      ['boolean', 'false'],
      ['string or an array of strings that name the files', "'tsconfig.json'"],
      ['number', '5000'],
    ];
    const pdf = await pageWith((page, fonts, top) => {
      let y = top + 10;
      text(page, 'Type', 72, y, fonts.regular);
      text(page, 'Default value', 270, y, fonts.regular);
      hrule(page, 66, 462, y + 4, 0.75);
      y += 18;
      for (const [a, b] of rows) {
        const lines = wrap(a, fonts.regular, 11, 180);
        for (const [k, line] of lines.entries()) text(page, line, 72, y + 13 * k, fonts.regular);
        text(page, b, 270, y, fonts.regular);
        y += 13 * lines.length + 4;
      }
      return y;
    });
    assert.equal(onlyTable((await convertPdf(pdf)).output), gfm([['Type', 'Default value'], ...rows]));
  });

  it('writes a multi-level header as HTML, each upper cell spanning the columns its rule underlines', async () => {
    const pdf = await pageWith((page, fonts, top) => {
      let y = top;
      hrule(page, 72, 480, y, 0.8);
      y += 14;
      text(page, 'Latency (ms)', 222, y, fonts.regular);
      text(page, 'Throughput (req/s)', 360, y, fonts.regular);
      hrule(page, 200, 320, y + 4, 0.4);
      hrule(page, 340, 480, y + 4, 0.4);
      y += 16;
      ['Server', 'p50', 'p99', 'mean', 'peak'].forEach((h, c) => text(page, h, [78, 210, 270, 350, 420][c], y, fonts.regular));
      hrule(page, 72, 480, y + 5, 0.5);
      y += 19;
      for (const row of [
        ['koa', '1.2', '8.4', '9,800', '12,400'],
        ['fastify', '0.9', '6.1', '14,200', '17,900'],
      ]) {
        row.forEach((cell, c) =>
          c === 0 ? text(page, cell, 78, y, fonts.regular) : textRight(page, cell, [0, 240, 300, 390, 470][c], y, fonts.regular),
        );
        y += 14;
      }
      hrule(page, 72, 480, y - 6, 0.8);
      return y;
    });
    const table = [
      '<table>',
      '<thead><tr><th></th><th colspan="2">Latency (ms)</th><th colspan="2">Throughput (req/s)</th></tr><tr><th>Server</th><th>p50</th><th>p99</th><th>mean</th><th>peak</th></tr></thead>',
      '<tbody>',
      '<tr><td>koa</td><td>1.2</td><td>8.4</td><td>9,800</td><td>12,400</td></tr>',
      '<tr><td>fastify</td><td>0.9</td><td>6.1</td><td>14,200</td><td>17,900</td></tr>',
      '</tbody>',
      '</table>',
    ].join('\n');
    assert.equal(onlyTable((await convertPdf(pdf)).output), table);
    const json = JSON.parse((await convertPdf(pdf, { outputFormat: 'json' })).output);
    const block = json.blocks.find((b: { type: string }) => b.type === 'table');
    assert.equal(block.headerRows, 2);
    assert.deepEqual(block.spans, [
      { row: 0, col: 1, cols: 2 },
      { row: 0, col: 3, cols: 2 },
    ]);
    assert.deepEqual(block.rows[0], ['', 'Latency (ms)', '', 'Throughput (req/s)', '']);
  });

  it('finds a table of one column by its rules', async () => {
    const pdf = await pageWith((page, fonts, top) => {
      // A table with columns on the page makes its drawings worth reading.
      let y = top;
      for (const [a, b] of [
        ['Level', 'Error resistance'],
        ['L', '7%'],
        ['M', '15%'],
      ]) {
        text(page, a, 72, y + 11, fonts.regular);
        text(page, b, 200, y + 11, fonts.regular);
        y += 16;
      }
      y += 30;
      hrule(page, 72, 300, y, 0.8);
      text(page, 'Maintainers', 78, y + 14, fonts.regular);
      hrule(page, 72, 300, y + 19, 0.5);
      text(page, 'Sindre Sorhus', 78, y + 33, fonts.regular);
      text(page, 'Szymon Marczak', 78, y + 47, fonts.regular);
      hrule(page, 72, 300, y + 53, 0.8);
      return y + 53;
    });
    const { output } = await convertPdf(pdf);
    assert.ok(output.includes(`\n\n${gfm([['Maintainers'], ['Sindre Sorhus'], ['Szymon Marczak']])}\n\n`), output);
  });
});

describe('tables aligned by whitespace alone', () => {
  it('reads a financial statement: a label column, amounts right-aligned, parentheses for negatives, subtotal rules, totals', async () => {
    const rows: Array<[string, string, string, number?]> = [
      ['Revenue', '$ 12,450', '$ 11,020'],
      ['Cost of revenue', '(7,310)', '(6,544)'],
      ['Gross profit', '5,140', '4,476'],
      ['Operating expenses:', '', ''],
      ['Research and development', '1,902', '1,755', 12],
      ['Selling, general and administrative', '1,288', '1,190', 12],
      ['Total operating expenses', '3,190', '2,945'],
      ['Interest expense, net', '(85)', '(102)'],
      ['Net income', '$ 1,865', '$ 1,429'],
    ];
    const pdf = await pageWith((page, fonts, top) => {
      let y = top + 20;
      textRight(page, '2023', 420, y, fonts.bold);
      textRight(page, '2022', 520, y, fonts.bold);
      hrule(page, 370, 420, y + 4);
      hrule(page, 470, 520, y + 4);
      y += 18;
      for (const [label, ...rest] of rows) {
        const [a, b, indent] = rest as [string, string, number?];
        // Accounting rules: one over each amount of a subtotal, two under the total.
        if (['Gross profit', 'Total operating expenses', 'Net income'].includes(label)) for (const x of [370, 470]) hrule(page, x, x + 50, y - 12);
        text(page, label, 72 + (indent ?? 0), y, fonts.regular);
        for (const [value, right] of [
          [a, 420],
          [b, 520],
        ] as const) {
          if (!value) continue;
          const [sign, amount] = value.startsWith('$ ') ? ['$', value.slice(2)] : ['', value];
          if (sign) text(page, sign, right - 48, y, fonts.regular);
          // The closing parenthesis hangs past the figures, which stay aligned.
          textRight(page, amount, amount.endsWith(')') ? right + fonts.regular.widthOfTextAtSize(')', 11) : right, y, fonts.regular);
        }
        y += 16;
      }
      for (const x of [370, 470]) {
        hrule(page, x, x + 50, y - 12);
        hrule(page, x, x + 50, y - 10);
      }
      return y;
    });
    const expected = gfm([['', '2023', '2022'], ...rows.map(([label, a, b]) => [label, a.replace('$ ', '$'), b.replace('$ ', '$')])]);
    assert.equal(onlyTable((await convertPdf(pdf)).output), expected);
  });

  it('reads a table of contents joined by dot leaders, the leaders left out', async () => {
    const entries: Array<[string, string, number]> = [
      ['1 Introduction', '1', 0],
      ['2 Installation', '3', 0],
      ['2.1 Requirements', '3', 16],
      ['3 Usage', '8', 0],
      ['4 Configuration reference', '12', 0],
    ];
    const pdf = await pageWith((page, fonts, top) => {
      let y = top + 10;
      for (const [title, pageNo, indent] of entries) {
        const x = 72 + indent;
        text(page, title, x, y, fonts.regular);
        const start = x + fonts.regular.widthOfTextAtSize(title, 11) + 6;
        const end = 520 - fonts.regular.widthOfTextAtSize(pageNo, 11) - 6;
        text(page, ' .'.repeat(Math.floor((end - start) / fonts.regular.widthOfTextAtSize(' .', 11))), start, y, fonts.regular);
        textRight(page, pageNo, 520, y, fonts.regular);
        y += 18;
      }
      return y;
    });
    assert.equal(onlyTable((await convertPdf(pdf)).output), gfm(entries.map(([title, pageNo]) => [title, pageNo])));
  });

  it('reads an unruled table with right-aligned numbers and a header', async () => {
    const rows = [
      ['Chromium', '1,204', '98.2%'],
      ['LaTeX', '387', '91.0%'],
      ['LibreOffice Writer', '2,551', '88.7%'],
      ['Scans', '42', '61.5%'],
    ];
    const pdf = await pageWith((page, fonts, top) => {
      let y = top + 10;
      text(page, 'Producer', 72, y, fonts.bold);
      textRight(page, 'Documents', 330, y, fonts.bold);
      textRight(page, 'Found', 430, y, fonts.bold);
      y += 16;
      for (const [a, b, c] of rows) {
        text(page, a, 72, y, fonts.regular);
        textRight(page, b, 330, y, fonts.regular);
        textRight(page, c, 430, y, fonts.regular);
        y += 15;
      }
      return y;
    });
    assert.equal(onlyTable((await convertPdf(pdf)).output), gfm([['Producer', 'Documents', 'Found'], ...rows]));
  });
});

describe('what is not a table', () => {
  it('leaves justified prose with stretched spaces, an underlined heading and aligned code comments alone', async () => {
    const { doc, fonts } = await newDocument();
    const page = doc.addPage([612, 792]);
    // Two justified lines whose spaces stretch by more than a column gap.
    const words = [
      ['This', 'behavior', 'can', 'be', 'undesirable', 'when', 'using'],
      ['grouped', 'paths', 'to', 'order', 'imports', 'within', 'groups'],
    ];
    for (const [k, line] of words.entries()) {
      const width = line.reduce((w, word) => w + fonts.regular.widthOfTextAtSize(word, 11), 0);
      const space = (300 - width) / (line.length - 1);
      let x = 72;
      for (const word of line) {
        text(page, word, x, 100 + 14 * k, fonts.regular);
        x += fonts.regular.widthOfTextAtSize(word, 11) + space;
      }
    }
    // A heading underlined, with a paragraph under it.
    text(page, 'Options', 72, 170, fonts.bold, 16);
    hrule(page, 72, 540, 176, 0.75);
    prose(page, fonts.regular, 196);
    // Code whose comments line up.
    for (const [k, [code, comment]] of [
      ['const a = 1;', '// the first'],
      ['const bb = 22;', '// the second'],
      ['const ccc = 333;', '// the third'],
    ].entries()) {
      text(page, code, 80, 300 + 12 * k, fonts.mono, 10);
      text(page, comment, 260, 300 + 12 * k, fonts.mono, 10);
    }
    const { output } = await convertPdf(await doc.save());
    assert.doesNotMatch(output, /^\||<table>/m, output);
  });
});

describe('drawings', () => {
  it('reads rules and filled boxes in page space, leaving out white fills and slanted lines', async () => {
    const { doc } = await newDocument();
    const page = doc.addPage([612, 792]);
    hrule(page, 100, 300, 200, 1);
    page.drawRectangle({ x: 100, y: 792 - 400, width: 200, height: 50, color: rgb(0.95, 0.96, 0.97) });
    page.drawRectangle({ x: 100, y: 792 - 500, width: 200, height: 50, color: rgb(1, 1, 1) });
    page.drawLine({ start: { x: 100, y: 100 }, end: { x: 200, y: 150 }, thickness: 1 });
    const loaded = await loadPdf(await doc.save());
    try {
      const rects = await readDrawings(await loaded.pdf.getPage(1));
      const round = (r: Rect) => ({ ...Object.fromEntries(Object.entries(r.bbox).map(([k, v]) => [k, Math.round(v * 10) / 10])), filled: r.filled });
      assert.deepEqual(rects.map(round), [
        { x0: 100, y0: 199.5, x1: 300, y1: 200.5, filled: false },
        { x0: 100, y0: 350, x1: 300, y1: 400, filled: true },
      ]);
    } finally {
      await loaded.close();
    }
  });

  it('reads them only on pages whose text could hold a table', () => {
    const run = (text: string, x0: number, y: number, monospace = false): TextRun => ({
      text,
      bbox: { x0, y0: y - 9, x1: x0 + text.length * 5, y1: y + 2 },
      fontSize: 11,
      fontName: 'f',
      bold: false,
      italic: false,
      monospace,
      link: undefined,
    });
    const page = (rows: TextRun[][]): Page => ({
      index: 0,
      width: 612,
      height: 792,
      lines: rows.map((runs) => makeLine(runs)),
      rects: [],
      images: [],
      source: 'text',
    });
    const prosePage = page([[run('A paragraph of text that runs across the page.', 72, 100)], [run('And a second line of it.', 72, 114)]]);
    const listPage = page([
      [run('•', 80, 100), run('an item', 100, 100)],
      [run('•', 80, 114), run('another item', 100, 114)],
    ]);
    const tablePage = page([
      [run('Option', 72, 100), run('Default', 200, 100)],
      [run('timeout', 72, 118), run('30 s', 200, 118)],
    ]);
    // Cells drawn one by one, each its own line.
    const cellsPage = page([[run('Option', 72, 100)], [run('Default', 200, 100)], [run('timeout', 72, 118)], [run('30 s', 200, 118)]]);
    assert.equal(mayHoldTable(prosePage), false);
    assert.equal(mayHoldTable(listPage), false);
    assert.equal(mayHoldTable(tablePage), true);
    assert.equal(mayHoldTable(cellsPage), true);
    // A header and one row of code cells at a page's foot, their cells centred or left: no column
    // starts twice, but two close rows of three cells are a table's.
    const footPage = page([
      [run('Option', 82, 700), run('Default value', 162, 700), run('Type', 295, 700)],
      [run('format', 67, 722, true), run('"auto"', 150, 722, true), run('String', 259, 722, true)],
    ]);
    // Two lines of code, their comments aligned: a code block, not rows.
    const codePage = page([
      [run('let a = 1;', 72, 100, true), run('// one', 200, 100, true), run('// more', 300, 100, true)],
      [run('let bb = 2;', 72, 111, true), run('// two', 200, 111, true), run('// again', 300, 111, true)],
    ]);
    assert.equal(mayHoldTable(footPage), true);
    assert.equal(mayHoldTable(codePage), false);
  });
});

// ---------------------------------------------------------------- scored on real documents

type TableFloors = { tables: number; cells: number };

/** Mean tables and cells scores over a set's born-digital documents (those where each applies). */
async function tableScores(dir: string, only: (id: string) => boolean = () => true): Promise<TableFloors> {
  const docs = listDocuments(dir).filter((d) => d.kind === 'markdown' && only(d.id));
  const { documents } = await evaluate(docs, async (d) => ({ output: (await convertPdf(fs.readFileSync(d.pdf), {})).output }));
  const mean = (metric: 'tables' | 'cells') => {
    const values = documents.map((r) => r.scores[metric]).filter((v): v is number => v !== null);
    return values.reduce((a, b) => a + b, 0) / values.length;
  };
  return { tables: mean('tables'), cells: mean('cells') };
}

function assertFloors(name: string, got: TableFloors, floors: TableFloors): void {
  for (const metric of ['tables', 'cells'] as const)
    assert.ok(got[metric] >= floors[metric], `${name}: ${metric} ${got[metric].toFixed(3)} < ${floors[metric]}`);
}

// Floors a little below what the engine reaches: scores are deterministic, so a change that loses
// tables, or finds tables in what is not one, fails here.
describe('tables in the dev sets', () => {
  it('the dev corpus (Chromium: bordered grids, cell backgrounds, tables across page breaks)', async () => {
    assertFloors('corpus', await tableScores(path.join(FIXTURES, 'corpus')), { tables: 0.93, cells: 0.9 });
  });

  it('the typeset subset, per producer (LaTeX booktabs in one and two columns, Writer tables ruled under the header)', async () => {
    const floors: Record<string, TableFloors> = {
      tex1: { tables: 0.85, cells: 0.77 },
      tex2: { tables: 0.88, cells: 0.83 },
      writer: { tables: 0.75, cells: 0.74 },
    };
    for (const [producer, floor] of Object.entries(floors))
      assertFloors(producer, await tableScores(path.join(FIXTURES, 'corpus-typeset'), (id) => id.endsWith(`.${producer}`)), floor);
  });

  it('financial statements set by LibreOffice: a Writer table, a Calc sheet, tab stops (test/fixtures/tables)', async () => {
    // Each statement is one table whose every cell is found.
    assertFloors('statements', await tableScores(path.join(FIXTURES, 'tables')), { tables: 1, cells: 1 });
  });

  it('a statement whose cells keep a paragraph spacing (Word) is one table, not a paragraph per row', async () => {
    const { output } = await convertPdf(fs.readFileSync(path.join(FIXTURES, 'tables/income-statement-spaced.writer.pdf')));
    assert.match(output, /\| {2}\| Note \| 2025 \| 2024 \|\n\| --- \| --- \| --- \| --- \|\n\| Revenue \| 3 \| 12,482 \| 11,206 \|/);
    assert.match(output, /\| Profit for the year \| {2}\| 1,027 \| 845 \|/);
  });

  it('a letter: flush-right address and date stay paragraphs, labels at tab stops are a table', async () => {
    const { output } = await convertPdf(fs.readFileSync(path.join(FIXTURES, 'tables/letter.writer.pdf')));
    // Set in from the margin, yet no list item or quotation: the lines end at the column's edge.
    assert.doesNotMatch(output, /^\s*(?:[-*]|>) /m);
    assert.match(output, /^Acme Widgets Ltd 14 Harbour Road Bristol BS1 4QA$/m);
    assert.match(output, /^3 March 2025$/m);
    assert.match(output, /\| (?:\*\*)?Amount due:(?:\*\*)? \| £4,210\.00 \|/);
  });
});
