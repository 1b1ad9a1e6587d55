import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { makePdf } from './helpers/pdf.ts';
import { CLI, CORPUS } from './helpers/server.ts';

const run = (args: string[], input?: Buffer) => spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'buffer', timeout: 60_000 });

describe('docmark CLI', () => {
  it('convert writes Markdown to a file atomically and reports on stderr', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-cli-'));
    try {
      const pdf = path.join(dir, 'in.pdf');
      fs.writeFileSync(pdf, await makePdf([{ heading: 'Release Notes', paragraphs: ['Everything that changed in this version.'] }]));
      const out = path.join(dir, 'out.md');
      const res = run(['convert', pdf, '-o', out]);
      assert.equal(res.status, 0, res.stderr.toString());
      assert.match(fs.readFileSync(out, 'utf8'), /^# Release Notes\n\nEverything that changed in this version\.\n$/);
      assert.match(res.stderr.toString(), /1 pages? in \d+ ms/);
      assert.deepEqual(fs.readdirSync(dir).sort(), ['in.pdf', 'out.md']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('convert warns about a page it could not read, even with --quiet, and writes the rest', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-cli-'));
    try {
      const out = path.join(dir, 'out.md');
      const res = run(['convert', path.join(CORPUS, 'bad', 'cyclic-page-tree.pdf'), '-o', out, '--quiet']);
      assert.equal(res.status, 0, res.stderr.toString());
      assert.match(res.stderr.toString(), /warning: Page 2 could not be read: .+ \(damaged_pdf\)/);
      assert.doesNotMatch(res.stderr.toString(), /pages? in \d+ ms/, '--quiet still drops the summary');
      assert.match(fs.readFileSync(out, 'utf8'), /^Page tree with a cycle\n\n<!-- docmark: Page 2 could not be read/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('convert - reads stdin and writes stdout, in each format and page range', () => {
    const bytes = fs.readFileSync(path.join(CORPUS, 'passport.pdf'));
    const md = run(['convert', '-'], bytes);
    assert.equal(md.status, 0);
    assert.match(md.stdout.toString(), /Passport is \[?Express\]?(\([^)]*\))?-compatible authentication middleware/);
    const html = run(['convert', '-', '--format', 'html', '--page-range', '0'], bytes);
    assert.equal(html.status, 0);
    assert.match(html.stdout.toString(), /<p>Passport is (<a href="[^"]*">)?Express(<\/a>)?-compatible/);
    const json = run(['convert', '-', '-f', 'json'], bytes);
    assert.ok(JSON.parse(json.stdout.toString()).blocks.length > 5);
  });

  it('exits non-zero with a clear message on bad input and bad options', () => {
    const enc = run(['convert', path.join(CORPUS, 'bad/encrypted-user-password.pdf')]);
    assert.equal(enc.status, 1);
    assert.match(enc.stderr.toString(), /encrypted.*\[encrypted_pdf\]/);
    const notPdf = run(['convert', path.join(CORPUS, 'bad/not-a-pdf.pdf')]);
    assert.equal(notPdf.status, 1);
    assert.match(notPdf.stderr.toString(), /\[not_a_pdf\]/);
    const badFormat = run(['convert', path.join(CORPUS, 'passport.pdf'), '--format', 'doc']);
    assert.equal(badFormat.status, 1);
    assert.match(badFormat.stderr.toString(), /output_format must be one of/);
    const unknown = run(['frobnicate']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr.toString(), /unknown command/);
  });
});
