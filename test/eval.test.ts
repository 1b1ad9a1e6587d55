import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { listDocuments } from '../src/eval/corpus.ts';
import { editDistance, editDistanceShort, textSimilarity } from '../src/eval/distance.ts';
import { markdownText, parseMarkdown } from '../src/eval/markdown.ts';
import { METRICS, type Scores, scoreOutput } from '../src/eval/score.ts';
import { inlineText, plainText } from '../src/eval/text.ts';
import { CLI, CORPUS } from './helpers/server.ts';

// docmark's evaluation (src/eval, `docmark eval`): each metric on inputs whose score is known,
// the scores of degraded fixture truths against the values the shared scorer gives them, and the
// command end to end.

const manifest = JSON.parse(fs.readFileSync(path.join(CORPUS, 'manifest.json'), 'utf8')) as {
  documents: Array<{ id: string; pages: number; headerFooter?: { text: string[]; pageNumber: string } }>;
};
const truthOf = (id: string): string => fs.readFileSync(path.join(CORPUS, `${id}.md`), 'utf8');
const furnitureOf = (id: string) => listDocuments(CORPUS).find((d) => d.id === id)?.furniture;

describe('edit distance', () => {
  it('equals the full-table distance on random strings of every length around the 32-bit blocks', () => {
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = 'abcde fgé—\u{1F600}';
    const text = (length: number): string => Array.from({ length }, () => alphabet[random(alphabet.length)]).join('');
    for (const [n, m] of [
      [0, 5],
      [1, 1],
      [31, 33],
      [32, 32],
      [64, 65],
      [100, 37],
      [129, 200],
      [300, 290],
    ]) {
      for (let k = 0; k < 5; k++) {
        const a = text(n);
        const b = text(m);
        assert.equal(editDistance(a, b), editDistanceShort(a, b), `${n}×${m}: ${JSON.stringify(a)} / ${JSON.stringify(b)}`);
      }
    }
    assert.equal(editDistance('kitten', 'sitting'), 3);
  });

  it('counts an overlong output beyond 4× the truth as insertions without comparing it', () => {
    const truth = 'x'.repeat(500);
    // Compared up to 2000 characters (1500 edits), the other 8500 counted: 10 000 edits in all.
    assert.equal(textSimilarity(truth, truth + 'y'.repeat(10_000)), 1 - 10_000 / 10_500);
    assert.equal(textSimilarity('', ''), 1);
    assert.equal(textSimilarity('abcd', 'abce'), 0.75);
  });
});

describe('reading Markdown', () => {
  it('reduces inline markup to the words a reader sees', () => {
    assert.equal(inlineText('A [link](http://x.org/a_(b)) and ![an image](i.png) [ref][1]'), 'A link and  ref');
    assert.equal(inlineText('**bold**, _it_, ~~gone~~ and `a *code* span` \\*not emphasis\\*'), 'bold, it, gone and a *code* span *not emphasis*');
    assert.equal(inlineText('&lt;tag&gt; &amp; &#233; <b>x</b><br>y <https://a.b>'), '<tag> & é x y https://a.b');
    assert.equal(plainText('“Quotes” — and\u00a0spaces\u200b'), '"Quotes" - and spaces');
  });

  it('parses headings, nested lists, code, tables and quotes into blocks', () => {
    const blocks = parseMarkdown(
      [
        '# Title',
        '',
        'Setext heading',
        '--------------',
        '',
        '- one',
        '  continued',
        '    - nested',
        '- [x] done',
        '',
        '```js',
        'const a = 1;',
        '```',
        '',
        '| a | b |',
        '| --- | :-: |',
        '| 1 | `x|y` |',
        '',
        '<table><tr><th>h</th><td>c &amp; d</td></tr></table>',
        '',
        '> quoted **text**',
        '',
        '<!-- a comment -->',
        'The year',
        '2019. was good',
      ].join('\n'),
    );
    assert.deepEqual(blocks, [
      { type: 'heading', level: 1, text: 'Title' },
      { type: 'heading', level: 2, text: 'Setext heading' },
      { type: 'item', depth: 0, ordered: false, text: 'one continued' },
      { type: 'item', depth: 1, ordered: false, text: 'nested' },
      { type: 'item', depth: 0, ordered: false, text: 'done' },
      { type: 'code', text: 'const a = 1;' },
      {
        type: 'table',
        rows: [
          ['a', 'b'],
          ['1', 'x|y'],
        ],
      },
      { type: 'table', rows: [['h', 'c & d']] },
      { type: 'paragraph', text: 'quoted text' },
      // A numbered line inside a paragraph is not a list item (only "1." may start one there).
      { type: 'paragraph', text: 'The year 2019. was good' },
    ]);
    assert.equal(markdownText('- ## Heading item\n\nText'), 'Heading item\nText');
  });
});

describe('metrics on inputs with known scores', () => {
  const truth =
    '# Guide\n\n## Install\n\nRun the installer once on every machine that needs it today.\n\n- first\n- second\n\n```\nnpm i\n```\n\n| k | v |\n| - | - |\n| a | 1 |\n';

  it('an output equal to its truth scores 1 everywhere it applies', () => {
    const s = scoreOutput(truth, truth, 'markdown');
    assert.deepEqual(s, { text: 1, headings: 1, heading_levels: 1, tables: 1, cells: 1, lists: 1, code: 1, order: 1, furniture: null, cer: null });
  });

  it('each metric sees its own kind of loss', () => {
    const wrongLevels = scoreOutput(truth, truth.replace('## Install', '### Install'), 'markdown');
    assert.equal(wrongLevels.headings, 1);
    assert.equal(wrongLevels.heading_levels, 0.5);
    const noTable = scoreOutput(truth, truth.replace(/\| .*\n/g, ''), 'markdown');
    assert.equal(noTable.tables, 0);
    assert.equal(noTable.cells, 0);
    const noList = scoreOutput(truth, truth.replace(/^- /gm, ''), 'markdown');
    assert.equal(noList.lists, 0);
    const noCode = scoreOutput(truth, truth.replace(/```\n/g, ''), 'markdown');
    assert.equal(noCode.code, 0);
    const empty = scoreOutput(truth, '', 'markdown');
    assert.deepEqual([empty.text, empty.headings, empty.tables, empty.lists, empty.code, empty.order], [0, 0, 0, 0, 0, null]);
  });

  it('reading order: blocks found out of order lower it, missing ones do not', () => {
    const paragraphs = ['alpha', 'bravo', 'charlie', 'delta'].map((w) => Array.from({ length: 8 }, (_, i) => `${w}${i}`).join(' '));
    const shuffled = [paragraphs[1], paragraphs[0], paragraphs[2], paragraphs[3]];
    assert.equal(scoreOutput(paragraphs.join('\n\n'), shuffled.join('\n\n'), 'markdown').order, 0.75);
    assert.equal(scoreOutput(paragraphs.join('\n\n'), paragraphs.slice(1).join('\n\n'), 'markdown').order, 1);
  });

  it('furniture: the running lines and page numbers the output kept, beyond the truth', () => {
    const furniture = { pages: 2, text: ['ACME report'], pageNumber: 'N' };
    const body = 'Some body text here.';
    assert.equal(scoreOutput(body, `ACME report\n\n${body}\n\n1\n\nACME report\n\n2`, 'markdown', furniture).furniture, 0);
    assert.equal(scoreOutput(body, `ACME report\n\n${body}\n\n1`, 'markdown', furniture).furniture, 0.5);
    assert.equal(scoreOutput(`${body} ACME report`, `${body} ACME report`, 'markdown', furniture).furniture, 1);
  });

  it('a text truth is scored on text and character error rate only', () => {
    const s = scoreOutput('Hello world', '# Hello wor1d', 'text');
    assert.equal(s.cer, 1 / 11);
    assert.equal(s.headings, null);
    assert.equal(scoreOutput('', '', 'text').cer, 0);
  });
});

// Degraded versions of fixture truths, and the scores the shared scorer (../shared/bench/score.mjs)
// gives them: the two evaluations must agree.
const DEGRADE: Record<string, (markdown: string, id: string) => string> = {
  demoteHeadings: (md) => md.replace(/^(#{1,5}) /gm, '#$1 '),
  flattenLists: (md) => md.replace(/^(\s*)(?:[-*+]|\d+[.)]) /gm, '$1'),
  dropTables: (md) =>
    md
      .split('\n')
      .filter((l) => !l.trimStart().startsWith('|'))
      .join('\n'),
  reverseBlocks: (md) =>
    md
      .split(/\n{2,}/)
      .reverse()
      .join('\n\n'),
  withFurniture: (md, id) => {
    const { pages, headerFooter: hf } = manifest.documents.find((d) => d.id === id)!;
    const number = (k: number): string => (hf!.pageNumber === 'Page N of M' ? `Page ${k} of ${pages}` : String(k));
    return md
      .split('\n')
      .map((l, i) => (i > 0 && i % 40 === 0 && i / 40 <= pages / 2 ? `${hf!.text.join('\n\n')}\n\n${number(i / 40)}\n\n${l}` : l))
      .join('\n');
  },
};

const SHARED_SCORES: Record<string, Partial<Scores>> = {
  'bcrypt demoteHeadings': { text: 1, headings: 1, heading_levels: 0, tables: 1, cells: 1, lists: 1, code: 1, order: 1, furniture: 1 },
  'bcrypt flattenLists': { text: 1, headings: 1, heading_levels: 1, tables: 1, cells: 1, lists: 0, code: 1, order: 1, furniture: 1 },
  'bcrypt dropTables': { text: 0.980286, headings: 1, heading_levels: 1, tables: 0, cells: 0, lists: 1, code: 1, order: 1, furniture: 1 },
  'bcrypt reverseBlocks': {
    text: 0.20282,
    headings: 1,
    heading_levels: 1,
    tables: 1,
    cells: 1,
    lists: 1,
    code: 0.918919,
    order: 0.205882,
    furniture: 1,
  },
  'bcrypt withFurniture': { text: 0.995131, headings: 1, heading_levels: 1, tables: 1, cells: 1, lists: 1, code: 1, order: 1, furniture: 0.5 },
  'multer demoteHeadings': { text: 1, headings: 1, heading_levels: 0, tables: 1, cells: 1, lists: 1, code: 1, order: 1, furniture: 1 },
  'multer flattenLists': { text: 1, headings: 1, heading_levels: 1, tables: 1, cells: 1, lists: 0, code: 1, order: 1, furniture: 1 },
  'multer dropTables': { text: 0.86081, headings: 1, heading_levels: 1, tables: 0, cells: 0, lists: 1, code: 1, order: 1, furniture: 1 },
  'multer reverseBlocks': {
    text: 0.225328,
    headings: 1,
    heading_levels: 1,
    tables: 1,
    cells: 1,
    lists: 1,
    code: 0.896552,
    order: 0.078125,
    furniture: 1,
  },
  'multer withFurniture': { text: 0.991236, headings: 1, heading_levels: 1, tables: 1, cells: 1, lists: 1, code: 1, order: 1, furniture: 0.5 },
  'concurrently demoteHeadings': { text: 1, headings: 1, heading_levels: 0, tables: 1, cells: 1, lists: 1, code: 1, order: 1, furniture: 1 },
  'concurrently flattenLists': { text: 1, headings: 1, heading_levels: 1, tables: 1, cells: 1, lists: 0.057971, code: 1, order: 1, furniture: 1 },
  'concurrently dropTables': { text: 0.974636, headings: 1, heading_levels: 1, tables: 0, cells: 0, lists: 1, code: 1, order: 1, furniture: 1 },
  'concurrently reverseBlocks': {
    text: 0.345645,
    headings: 1,
    heading_levels: 1,
    tables: 1,
    cells: 1,
    lists: 1,
    code: 1,
    order: 0.220779,
    furniture: 1,
  },
  'concurrently withFurniture': { text: 0.989869, headings: 1, heading_levels: 1, tables: 1, cells: 1, lists: 1, code: 1, order: 1, furniture: 0.6 },
};

describe('agreement with the shared scorer on degraded fixture truths', () => {
  for (const [key, expected] of Object.entries(SHARED_SCORES)) {
    it(key, () => {
      const [id, how] = key.split(' ');
      const scores = scoreOutput(truthOf(id), DEGRADE[how](truthOf(id), id), 'markdown', furnitureOf(id));
      for (const [metric, value] of Object.entries(expected)) {
        assert.ok(
          Math.abs((scores[metric as keyof Scores] ?? Number.NaN) - (value as number)) < 1e-6,
          `${metric}: ${scores[metric as keyof Scores]} vs ${value}`,
        );
      }
    });
  }

  it('he.scanned with every 50th character dropped', () => {
    const truth = fs.readFileSync(path.join(CORPUS, 'he.scanned.txt'), 'utf8');
    const s = scoreOutput(truth, [...truth].filter((_, i) => i % 50 !== 49).join(''), 'text');
    assert.ok(Math.abs((s.text as number) - 0.942916) < 1e-6 && Math.abs((s.cer as number) - 0.057084) < 1e-6, JSON.stringify(s));
  });
});

describe('docmark eval', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [CLI, 'eval', ...args], { encoding: 'utf8', timeout: 5 * 60_000 });

  /** A folder of PDFs with their truths, and a folder of outputs, from the fixtures. */
  function setUp(): { dir: string; truths: string; outputs: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-eval-'));
    const truths = path.join(dir, 'truths');
    const outputs = path.join(dir, 'outputs');
    fs.mkdirSync(truths);
    fs.mkdirSync(outputs);
    for (const f of ['passport.pdf', 'passport.md', 'he.scanned.pdf']) fs.copyFileSync(path.join(CORPUS, f), path.join(truths, f));
    // A plain-text truth (`.txt`) beside its scan.
    fs.copyFileSync(path.join(CORPUS, 'he.scanned.txt'), path.join(truths, 'he.scanned.txt'));
    fs.writeFileSync(path.join(outputs, 'passport.md'), truthOf('passport'));
    return { dir, truths, outputs };
  }

  it('scores a folder of outputs: a table per document and the means; JSON with --json; exit 1 for a missing output', () => {
    const { dir, truths, outputs } = setUp();
    try {
      const res = run([truths, outputs]);
      assert.equal(res.status, 1, res.stderr);
      const lines = res.stdout.split('\n');
      assert.match(lines[0], /^document\s+text\s+headings\s+levels\s+tables\s+cells\s+lists\s+code\s+order\s+furniture\s+cer$/);
      assert.match(res.stdout, /^passport\s+1\.000\s+1\.000\s+1\.000/m);
      assert.match(res.stdout, /^he\.scanned\*\s+0\.000(\s+-){8}\s+1\.000$/m);
      assert.match(res.stdout, /^mean \(1 \.md\)\s+1\.000/m);
      assert.match(res.stdout, /no output, scored as empty \(1\):\n {2}he\.scanned: no he\.scanned\.md in /);

      // In a code block the text is read verbatim: the output says exactly what the scan says.
      fs.writeFileSync(path.join(outputs, 'he.scanned.md'), `\`\`\`\n${fs.readFileSync(path.join(truths, 'he.scanned.txt'), 'utf8')}\n\`\`\`\n`);
      const json = run([truths, outputs, '--json']);
      assert.equal(json.status, 0, json.stderr);
      const result = JSON.parse(json.stdout);
      assert.deepEqual(
        result.documents.map((d: { id: string; kind: string }) => [d.id, d.kind]),
        [
          ['he.scanned', 'text'],
          ['passport', 'markdown'],
        ],
      );
      assert.equal(result.means.text.scores.cer, 0);
      assert.deepEqual(Object.keys(result.means.markdown.scores), [...METRICS]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('converts the PDFs itself when no outputs folder is given, and can keep the conversions', () => {
    const { dir, truths } = setUp();
    try {
      const saved = path.join(dir, 'saved');
      const res = run([truths, '--only', 'passport', '-o', saved]);
      assert.equal(res.status, 0, res.stderr);
      const row = res.stdout.split('\n').find((l) => l.startsWith('passport'))!;
      const [text, headings] = row.split(/\s+/).slice(1).map(Number);
      assert.ok(text > 0.99 && headings > 0.9, row);
      assert.ok(fs.readFileSync(path.join(saved, 'passport.md'), 'utf8').includes('Passport'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('wrong arguments exit 2 with a clear message and no stack', () => {
    const { dir, truths, outputs } = setUp();
    try {
      for (const [args, message] of [
        [[path.join(dir, 'nope')], /no such folder/],
        [[outputs], /holds no document to score: put each PDF beside its truth/],
        [[truths, '--only', 'ghost'], /--only: no document "ghost"/],
        [[truths, outputs, '--bogus'], /Unknown option '--bogus'/],
        [[], /eval takes a truth folder/],
      ] as const) {
        const res = run([...args]);
        assert.equal(res.status, 2, `${args.join(' ')}: ${res.stderr}`);
        assert.match(res.stderr, message);
        assert.doesNotMatch(res.stderr, /\n\s+at /);
      }
      fs.writeFileSync(path.join(outputs, 'manifest.json'), '{"documents": 3}');
      const badManifest = run([outputs]);
      assert.equal(badManifest.status, 2);
      assert.match(badManifest.stderr, /manifest\.json is not a corpus manifest/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
