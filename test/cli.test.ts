import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makePdf } from './helpers/pdf.ts';
import { Pm2Sandbox, freePort } from './helpers/pm2.ts';
import { CLI, CORPUS, ROOT, startServerProcess, type ServerProcess } from './helpers/server.ts';

// The compiled CLI as a user runs it (a child process), and `npm start`'s script under a real
// PM2 of its own: what it prints, what it writes and the exit codes docs/cli.md promises.

const run = (args: string[], input?: Buffer) => spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'buffer', timeout: 120_000 });
const text = (b: Buffer | string | null) => (b ?? '').toString();
/** A stack trace line, as Node prints them. */
const STACK = /\n\s+at .+[(:]\d+/;

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-cli-'));
}

/** Hold a port on 127.0.0.1, as another program would. */
async function holdPort(): Promise<{ port: number; release(): Promise<void> }> {
  // Connections (start.mjs polls /health) are dropped, so that closing the server never waits.
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, release: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('docmark convert', () => {
  it('writes Markdown to a file atomically and reports on stderr ("1 page", not "1 pages")', async () => {
    const dir = tempDir();
    try {
      const pdf = path.join(dir, 'in.pdf');
      fs.writeFileSync(pdf, await makePdf([{ heading: 'Release Notes', paragraphs: ['Everything that changed in this version.'] }]));
      const out = path.join(dir, 'out.md');
      const res = run(['convert', pdf, '-o', out]);
      assert.equal(res.status, 0, text(res.stderr));
      assert.match(fs.readFileSync(out, 'utf8'), /^# Release Notes\n\nEverything that changed in this version\.\n$/);
      assert.match(text(res.stderr), /: 1 page in \d+ ms → /);
      assert.deepEqual(fs.readdirSync(dir).sort(), ['in.pdf', 'out.md']);
      // --out, batch's old spelling, is accepted too.
      const again = run(['convert', pdf, '--out', path.join(dir, 'again.md'), '-q']);
      assert.equal(again.status, 0, text(again.stderr));
      assert.equal(text(again.stderr), '');
      assert.ok(fs.existsSync(path.join(dir, 'again.md')));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('warns about a page it could not read, even with --quiet, and writes the rest', () => {
    const dir = tempDir();
    try {
      const out = path.join(dir, 'out.md');
      const res = run(['convert', path.join(CORPUS, 'bad', 'cyclic-page-tree.pdf'), '-o', out, '--quiet']);
      assert.equal(res.status, 0, text(res.stderr));
      assert.match(text(res.stderr), /warning: Page 2 could not be read: .+ \(damaged_pdf\)/);
      assert.doesNotMatch(text(res.stderr), /pages? in \d+ ms/, '--quiet still drops the summary');
      assert.match(fs.readFileSync(out, 'utf8'), /^Page tree with a cycle\n\n<!-- docmark: Page 2 could not be read/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('- reads stdin and writes stdout, in each format and page range', () => {
    const bytes = fs.readFileSync(path.join(CORPUS, 'passport.pdf'));
    const md = run(['convert', '-'], bytes);
    assert.equal(md.status, 0);
    assert.match(text(md.stdout), /Passport is \[?Express\]?(\([^)]*\))?-compatible authentication middleware/);
    const html = run(['convert', '-', '--format', 'html', '--page-range', '0'], bytes);
    assert.equal(html.status, 0);
    assert.match(text(html.stdout), /<p>Passport is (<a href="[^"]*">)?Express(<\/a>)?-compatible/);
    const json = run(['convert', '-', '-f', 'json'], bytes);
    assert.ok(JSON.parse(text(json.stdout)).blocks.length > 5);
  });

  it('a missing input or a folder: one clear line, exit 2, no stack trace', () => {
    const dir = tempDir();
    try {
      const missing = run(['convert', path.join(dir, 'missing.pdf')]);
      assert.equal(missing.status, 2);
      assert.match(text(missing.stderr), /^docmark: .*missing\.pdf: no such file\.\n$/);
      const folder = run(['convert', dir]);
      assert.equal(folder.status, 2);
      assert.match(text(folder.stderr), /^docmark: .* is a folder: convert takes one PDF \(use `docmark batch .* -o <out-dir>` for a folder\)\.\n$/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names the CLI's flags, not the API's options; a wrong flag value exits 2, a bad PDF 1", () => {
    const passport = path.join(CORPUS, 'passport.pdf');
    for (const [args, message] of [
      [['--format', 'doc'], /^docmark: --format must be one of markdown, json, html; got "doc"\. \[invalid_option\]\n$/],
      [['--page-range', 'x'], /^docmark: --page-range must look like "0,2-4"/],
      [['--page-range', '7'], /^docmark: --page-range asks for page 7, but the document has 2 pages/],
      [['--bogus'], /^docmark: Unknown option '--bogus'/],
    ] as const) {
      const res = run(['convert', passport, ...args]);
      assert.equal(res.status, 2, `${args.join(' ')}: ${text(res.stderr)}`);
      assert.match(text(res.stderr), message);
      assert.doesNotMatch(text(res.stderr), /output_format|page_range/);
    }
    const enc = run(['convert', path.join(CORPUS, 'bad/encrypted-user-password.pdf')]);
    assert.equal(enc.status, 1);
    assert.equal(text(enc.stderr), 'docmark: The PDF is encrypted: give its password with --password. [encrypted_pdf]\n');
    const wrong = run(['convert', path.join(CORPUS, 'bad/encrypted-user-password.pdf'), '--password', 'nope']);
    assert.equal(wrong.status, 1);
    assert.match(text(wrong.stderr), /--password does not open this PDF\. \[incorrect_password\]/);
    const notPdf = run(['convert', path.join(CORPUS, 'bad/not-a-pdf.pdf')]);
    assert.equal(notPdf.status, 1);
    assert.match(text(notPdf.stderr), /\[not_a_pdf\]/);
    const unknown = run(['frobnicate']);
    assert.equal(unknown.status, 2);
    assert.match(text(unknown.stderr), /unknown command/);
  });

  it('an output that cannot be written: a clear message, exit 1, and no temporary file left behind', () => {
    const dir = tempDir();
    try {
      // The target is a folder: the rename over it fails after the temporary file was written.
      fs.mkdirSync(path.join(dir, 'taken.md'));
      fs.writeFileSync(path.join(dir, 'taken.md', 'keep'), 'x');
      const res = run(['convert', path.join(CORPUS, 'passport.pdf'), '-o', path.join(dir, 'taken.md')]);
      assert.equal(res.status, 1);
      assert.match(text(res.stderr), /^docmark: .*taken\.md: is a folder(, not a file| that is not empty) \((EISDIR|ENOTEMPTY|EEXIST)\)\n$/);
      assert.doesNotMatch(text(res.stderr), STACK);
      assert.deepEqual(fs.readdirSync(dir), ['taken.md']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('docmark (no command), --help, --version', () => {
  it('lists every command; --help exits 0, no command exits 2', () => {
    const help = run(['--help']);
    assert.equal(help.status, 0);
    for (const name of ['convert', 'serve', 'batch', 'eval', 'restarts']) assert.match(text(help.stdout), new RegExp(`^  ${name} `, 'm'));
    assert.equal(run([]).status, 2);
    assert.match(text(run(['--version']).stdout), /^\d+\.\d+\.\d+\n$/);
    const convertHelp = run(['convert', '--help']);
    assert.equal(convertHelp.status, 0);
    assert.match(text(convertHelp.stdout), /-o, --output FILE/);
  });
});

describe('docmark serve', () => {
  it('a port in use: says so and exits 1 at once', async () => {
    const held = await holdPort();
    try {
      const started = Date.now();
      const res = spawnSync(process.execPath, [CLI, 'serve'], {
        env: { ...process.env, DOCMARK_HOST: '127.0.0.1', DOCMARK_PORT: String(held.port) },
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(res.status, 1, res.stderr);
      assert.equal(
        res.stderr,
        `docmark serve: cannot listen on 127.0.0.1:${held.port}: the port is in use (another docmark, or another program, listens there): stop it or choose another DOCMARK_PORT (EADDRINUSE).\n`,
      );
      assert.ok(Date.now() - started < 30_000, `exited after ${Date.now() - started} ms`);
    } finally {
      await held.release();
    }
  });

  it('a wrong setting exits 2 with its name', () => {
    const res = spawnSync(process.execPath, [CLI, 'serve'], { env: { ...process.env, DOCMARK_PORT: 'eighty' }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(res.status, 2);
    assert.match(res.stderr, /DOCMARK_PORT must be a whole number/);
  });

  describe('a running server', () => {
    let srv: ServerProcess;
    before(async () => {
      srv = await startServerProcess({ DOCMARK_WORKERS: '1' });
    });
    after(async () => {
      await srv?.stop();
    });

    it('/metrics names the instance that answered (pm2_instance, and its pid)', async () => {
      const body = await new Promise<string>((resolve, reject) => {
        http
          .get(`${srv.url}/metrics`, (res) => {
            let all = '';
            res.setEncoding('utf8').on('data', (c: string) => (all += c));
            res.on('end', () => resolve(all));
          })
          .on('error', reject);
      });
      assert.match(body, new RegExp(`^docmark_instance_info\\{pid="${srv.child.pid}",pm2_instance="none"\\} 1$`, 'm'));
      assert.match(body, /^docmark_in_flight\{pm2_instance="none"\} \d+$/m);
    });

    it('the quick-start command (curl -fsS … -o report.md) fails loudly on a missing file or a non-PDF, and needs no jq', (t) => {
      if (spawnSync('curl', ['--version']).error) return t.skip('curl is not installed');
      const dir = tempDir();
      try {
        const curl = (file: string) =>
          spawnSync('curl', ['-fsS', '-F', `file=@${file}`, '-H', 'Accept: text/markdown', `${srv.url}/convert`, '-o', 'report.md'], {
            cwd: dir,
            encoding: 'utf8',
            timeout: 60_000,
          });
        const missing = curl('missing.pdf');
        assert.notEqual(missing.status, 0);
        assert.match(missing.stderr, /curl: \(26\)/);
        assert.ok(!fs.existsSync(path.join(dir, 'report.md')), 'no output for a missing file');
        fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a PDF\n');
        const notPdf = curl('notes.txt');
        assert.equal(notPdf.status, 22, notPdf.stderr);
        assert.match(notPdf.stderr, /error: 415/);
        assert.ok(!fs.existsSync(path.join(dir, 'report.md')), 'no output for an error');
        fs.copyFileSync(path.join(CORPUS, 'passport.pdf'), path.join(dir, 'report.pdf'));
        const ok = curl('report.pdf');
        assert.equal(ok.status, 0, ok.stderr);
        assert.match(fs.readFileSync(path.join(dir, 'report.md'), 'utf8'), /^# Passport/m);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

describe('npm start (ops/start.mjs) under a real PM2', { timeout: 5 * 60_000 }, () => {
  const pm2 = new Pm2Sandbox();
  after(async () => {
    await pm2.destroy();
  });

  it('a port in use: prints the instances error and exits 1 long before its 60 s deadline', async () => {
    const held = await holdPort();
    try {
      const started = Date.now();
      const child = spawn(process.execPath, [path.join(ROOT, 'ops/start.mjs')], {
        cwd: ROOT,
        env: { ...pm2.env, DOCMARK_PORT: String(held.port), DOCMARK_RESTART_LOG: pm2.restartLog, DOCMARK_HOST_SAMPLE_S: '60' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
      child.stdout!.resume();
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.equal(code, 1, err);
      assert.match(
        err,
        new RegExp(`docmark did not start: docmark serve: cannot listen on 127\\.0\\.0\\.1:${held.port}: the port is in use .*\\(EADDRINUSE\\)`),
      );
      assert.ok(Date.now() - started < 50_000, `gave up after ${Date.now() - started} ms`);
    } finally {
      await held.release();
    }
  });

  it('a free port: up, with its URL', async () => {
    const port = await freePort();
    const res = spawnSync(process.execPath, [path.join(ROOT, 'ops/start.mjs')], {
      cwd: ROOT,
      env: { ...pm2.env, DOCMARK_PORT: String(port), DOCMARK_RESTART_LOG: pm2.restartLog, DOCMARK_HOST_SAMPLE_S: '60', DOCMARK_WORKERS: '1' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`docmark is up under PM2: http://127\\.0\\.0\\.1:${port} `));
  });
});
