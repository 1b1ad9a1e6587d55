import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { convertPdf } from '../src/engine/convert.ts';
import { listDocuments } from '../src/eval/corpus.ts';
import { evaluate } from '../src/eval/evaluate.ts';

// Papers, a report and essays as their producers set them (test/fixtures/papers, made by its
// generate.mjs): typography the Chromium corpus never shows. Paragraphs marked by a first-line
// indent alone, lines set one and a half or double spaced, a title block over two columns,
// footnotes under a column, a bibliography whose labels hang out, a table beside a framed figure,
// a single journal page with its furniture, a numbered formula.

const PAPERS = path.resolve(import.meta.dirname, 'fixtures/papers');

async function convert(name: string): Promise<string> {
  return (await convertPdf(fs.readFileSync(path.join(PAPERS, `${name}.pdf`)))).output;
}

/** The Markdown's paragraphs (blocks between blank lines). */
function blocksOf(markdown: string): string[] {
  return markdown.split(/\n{2,}/).map((b) => b.trim());
}

describe('papers, reports and essays', () => {
  it('reach their floors on every metric (test/fixtures/papers)', async () => {
    const docs = listDocuments(PAPERS);
    const { documents } = await evaluate(docs, async (d) => ({ output: (await convertPdf(fs.readFileSync(d.pdf), {})).output }));
    const mean = (metric: 'text' | 'headings' | 'heading_levels' | 'tables' | 'cells' | 'order' | 'furniture') => {
      const values = documents.map((r) => r.scores[metric]).filter((v): v is number => v !== null);
      return values.reduce((a, b) => a + b, 0) / values.length;
    };
    // Floors a little below what the engine reaches: the scores are deterministic.
    const floors = { text: 0.99, headings: 0.95, heading_levels: 0.95, tables: 1, cells: 1, order: 0.99, furniture: 1 } as const;
    for (const [metric, floor] of Object.entries(floors))
      assert.ok(mean(metric as keyof typeof floors) >= floor, `${metric} ${mean(metric as keyof typeof floors).toFixed(3)} < ${floor}`);
  });

  it('a paragraph whose first line is indented is one paragraph, not a quotation and the rest', async () => {
    const md = await convert('adaptive-batching.tex2');
    assert.doesNotMatch(md, /^> /m);
    assert.ok(blocksOf(md).includes('This paper makes three contributions:'), 'a one-line paragraph at the paragraph indent');
    assert.match(md, /^A fixed batch size is the usual answer\. It is simple to operate, but it cannot follow traffic/m);
  });

  it('a two-column paper: title over both columns, byline, footnotes under a column, a table beside a figure, hanging references', async () => {
    const md = await convert('adaptive-batching.tex2');
    const blocks = blocksOf(md);
    assert.equal(blocks[0], '# Adaptive Batching for Streaming Document Conversion');
    // Authors and affiliations, set larger than the body under the title, are no headings.
    assert.equal(blocks[1], 'Ana Ribeiro[^*] University of Lisbon');
    assert.equal(blocks[2], 'Tomás Weber Hanseatic Data Institute');
    assert.ok(blocks.includes('[^1]: We count a document as slow when it takes more than ten times the median conversion time.'));
    assert.ok(blocks.includes('[^*]: Corresponding author: ana.ribeiro@example.edu'));
    assert.match(md, /whole group\.|in the group\.\[\^1\]/);
    // The figure's frame under the table is no row of it.
    assert.match(
      md,
      /\| Trace \| Documents \| Pages \| Median size \|\n\| --- \| --- \| --- \| --- \|\n\| Archive \| 412,000 \| 3,180,000 \| 210 KB \|/,
    );
    assert.ok(blocks.includes('Table 1: The three traces used in the evaluation.'), 'a centred caption is a paragraph');
    assert.ok(blocks.includes('\\[1\\] D. Crankshaw et al. Clipper: A low-latency online prediction serving system. In *Proc. NSDI*, 2017.'));
  });

  it('a report: running head and "Page n of m" gone, its contents a list, the abstract one block, the schedule a list', async () => {
    const md = await convert('retention-review.tex1');
    // Entries without their leaders and page numbers, nested by indent.
    assert.match(md, /^- \*\*1 Background\*\*\n {2}- 1\.1 Scope\n {2}- 1\.2 Method\n- \*\*2 Findings\*\*\n/m);
    assert.doesNotMatch(md, /\. \. \./);
    assert.doesNotMatch(md, /Technical Report TR-2024-07|Page \d of \d/);
    assert.match(md, /^> This review examines how long .* and a yearly audit\.$/m);
    assert.match(md, /^1\. Adopt a single retention schedule .* intranet\.\n2\. Turn on automatic deletion/m);
  });

  for (const name of ['field-notes.writer', 'field-notes-double.writer'])
    it(`an essay set ${name.includes('double') ? 'double' : 'one and a half'} spaced, paragraphs marked by their indent alone`, async () => {
      const blocks = blocksOf(await convert(name));
      const starts = [
        'The survey began',
        'By the middle of the month',
        'The weather held.',
        'Most of the outfalls',
        'The lower reach',
        'His account agrees',
        'We recommend',
      ];
      for (const start of starts) {
        const block = blocks.find((b) => b.startsWith(start));
        assert.ok(block, `a paragraph starts "${start}"`);
      }
      assert.ok(blocks.includes('The weather held.'), 'a one-line paragraph');
      assert.match(blocks.find((b) => b.startsWith('By the middle'))!, /two hundred metres\.$/);
      assert.ok(!blocks.some((b) => /^- (?:The|By|Most|His|We) /.test(b)), 'no paragraph is a list item');
    });

  it('a page cut out of a journal: its furniture goes on one page, a numbered formula is one paragraph', async () => {
    const md = await convert('sampling-page.tex1');
    assert.doesNotMatch(md, /J\. Doc\. Eng\.|^147$|Downloaded from/m);
    assert.ok(md.startsWith('which is why the first two rounds'), 'the text the page starts with');
    // The fraction's parts, on lines of their own, are no list items; the variables no bold text.
    assert.match(md, /\n\nSE\(p\) = .*\(1 − p\) n · N − n N − 1 , \(4\)\n\n/);
    assert.doesNotMatch(md, /^\s*- |\*\*[nNp]\*\*/m);
    assert.match(md, /For a sample of n pages drawn from a population of N pages/);
  });

  it('a paper in the default fonts of LaTeX: bullets without a character, sizes drawn per size, the page number low on A4', async () => {
    const md = await convert('cache-eviction.tex1');
    // The itemize bullet comes from a bitmap font that maps it to no character.
    assert.match(md, /^- \*least recently used\*, which evicts .*\n- \*least frequently used\*/m);
    // Computer Modern at 12 pt is narrower than at 10: no italic byline; "Abstract" at the sections' level.
    assert.match(md, /^Priya Raman Jonas Lindqvist$/m);
    assert.match(md, /^## Abstract$/m);
    assert.doesNotMatch(md, /^\d+$/m);
  });

  it('a newsletter in three columns: each column read whole, a subtitle centred over them', async () => {
    const blocks = blocksOf(await convert('archive-quarterly.multicol'));
    assert.deepEqual(blocks.slice(0, 3), ['# The Archive Quarterly', 'Issue 14 Spring 2025', '## New Reading Room Opens']);
    // The column breaks fall inside paragraphs: each is joined back whole, in column order.
    const starts = [
      'The new reading room',
      'The room was paid for',
      'Opening hours',
      '### Digitisation Progress',
      'The digitisation team',
      'Next year',
      '### Volunteers Wanted',
      'We are looking',
      'If you are interested',
      'Volunteers who checked',
    ];
    assert.deepEqual(
      blocks.slice(3).map((b) => starts.find((s) => b.startsWith(s)) ?? b.slice(0, 30)),
      starts,
    );
    assert.match(blocks.find((b) => b.startsWith('Opening hours'))!, /closed stacks should order it a day ahead, as before\.$/);
  });

  it('a scanned two-column page: columns read one after the other, the margin stamp left out', async () => {
    const md = await convert('adaptive-batching.tex2.scan');
    const blocks = blocksOf(md);
    // The stamp set up the left margin is found as pieces a character or two wide and read as nonsense.
    assert.ok(!blocks.some((b) => /^(?:\d{1,2}|[A-Z])$/.test(b)), 'no lone pieces of the margin stamp');
    assert.doesNotMatch(md, /^\d \d Introduction/m);
    // A table's narrow cells beside the left column do not hide the gutter: no line runs across it.
    const inference = blocks.find((b) => b.includes('Inference servers group requests'));
    assert.match(inference ?? '', /one call ?to the model serves many inputs/);
    const at = (text: string) => md.indexOf(text);
    assert.ok(at('Converting documents at scale') < at('Inference servers group') && at('Inference servers group') < at('The controller observes'));
    // No faces on a scan: numbered titles alone on their lines are the headings, levelled by their numbers.
    for (const heading of [
      '## 1 Introduction',
      '## 2 Related Work',
      '### 2.1 Batching in Inference Servers',
      '### 2.2 Admission Control',
      '## 3 Method',
    ])
      assert.ok(blocks.includes(heading), heading);
  });

  it('IEEE-style headings: roman sections in small capitals, lettered subsections a level below', async () => {
    const md = await convert('form-latency.tex2');
    assert.match(md, /^### I\. INTRODUCTION$/m);
    assert.match(md, /^### II\. PIPELINE$/m);
    assert.match(md, /^#### A\. Detection$/m);
    assert.match(md, /^### III\. RESULTS$/m);
  });

  it('numbered items whose numbers stand at the margin ("10." under an inset "9.") are items', async () => {
    const md = await convert('retention-review.tex1');
    // "10." and "11." wrap under their text; "12." is a line of its own after "11.".
    assert.match(
      md,
      /^9\. holds that have ended .*\n10\. the system owner has confirmed in writing, .* who may delete them;\n11\. staff .* within the last two years;\n12\. findings of the last audit were acted on\.$/m,
    );
  });
});
