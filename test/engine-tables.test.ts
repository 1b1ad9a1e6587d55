import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { convertPdf } from '../src/engine/convert.ts';
import { wrap } from './helpers/pdf.ts';

/**
 * Tables whose cells hold more than one line: a line the browser wrapped is joined back, and a
 * line broken on purpose (a cell with two paragraphs or a list) makes the table HTML, since a
 * GFM cell holds one line.
 */

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
 * over a wide column, and inline code inside a description. The table runs on over a page break, where the next
 * page starts with a row whose first cell is code.
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
  y -= 36;
  row(first, y, ['maxLeng', 'th'], 'number', (y) => {
    // The space and the code box's padding between them, as a browser draws it.
    const lead = 'Longest input accepted, in characters, like';
    first.drawText(lead, { x: description, y, size: 11, font });
    first.drawText('maxBytes', { x: description + font.widthOfTextAtSize(lead, 11) + 5.5, y, size: 10, font: mono });
  });

  const second = doc.addPage([612, 792]);
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
    // Three rows end the first page; the next page starts with rows of code alone.
    const second = doc.addPage([612, 792]);
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
