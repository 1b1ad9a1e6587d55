import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { summarizeLog } from '../src/cli/commands/restarts.ts';
import { CLI, ROOT } from './helpers/server.ts';

// The restart log over a long life: an abort is a crash, the file is rotated by size, and
// `docmark restarts` sums any length of log, rotated files included, in bounded memory.

const require = createRequire(import.meta.url);
const { classify } = require('../ops/restart-logger/classify.js') as {
  classify(events: Array<{ type: string; data: unknown }>): Array<{ cause: string; signal: string | null; exit_code: number | null; app: string }>;
};
const { createRotatingLog } = require('../ops/restart-logger/rotate.js') as {
  createRotatingLog(o: { file: string; maxBytes: number; keep: number }): { append(line: string): void; files(): string[] };
};
const { readSettings } = require('../ops/restart-logger/index.js') as { readSettings(env: Record<string, string>): Promise<Record<string, unknown>> };

/** Bus events recorded under PM2 7.0.4 by test/fixtures/pm2/record-aborts.mjs. */
function trace(scenario: string): Array<{ type: string; data: unknown }> {
  const lines = fs.readFileSync(path.join(ROOT, 'test/fixtures/pm2/abort-samples.jsonl'), 'utf8').split('\n').filter(Boolean);
  const events = lines.map((l) => JSON.parse(l)).filter((e) => e.scenario === scenario);
  assert.ok(events.length > 5, `trace ${scenario}`);
  return events.map((e) => ({ type: e.event, data: e.data }));
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-restarts-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(args: string[], nodeArgs: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...nodeArgs, CLI, ...args], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const record = (time: number, cause: string, rss = 500): string =>
  `${JSON.stringify({ time: new Date(time).toISOString(), cause, rss_mb: rss, uptime_s: 60 })}\n`;

describe('the restart log calls an abort a crash', () => {
  it('abort(), a segfault and V8 running out of memory are crashes, with their signal kept', () => {
    for (const scenario of ['abort-fork', 'abort-cluster', 'segv-fork', 'oom-fork']) {
      const records = classify(trace(scenario));
      assert.equal(records.length, 1, scenario);
      assert.equal(records[0].cause, 'crash', scenario);
      assert.equal(records[0].signal, scenario.startsWith('segv') ? 'SIGSEGV' : 'SIGABRT', scenario);
    }
  });

  it('a signal sent from outside is still a signal', () => {
    const records = classify(trace('sigterm-fork'));
    assert.deepEqual(
      records.map((r) => [r.cause, r.signal]),
      [['signal', 'SIGTERM']],
    );
  });
});

describe('the restart log is rotated by size', () => {
  it('keeps each file under the limit, whole lines only, and the newest `keep` old files', () => {
    const file = path.join(tmp, 'rotate', 'restarts.jsonl');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const log = createRotatingLog({ file, maxBytes: 1000, keep: 2 });
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const lines: string[] = [];
    for (let i = 0; i < 100; i++) {
      const line = record(t0 + i * 1000, 'crash', i);
      lines.push(line);
      log.append(line);
    }
    const files = log.files();
    assert.deepEqual(files, [`${file}.2`, `${file}.1`, file]);
    const kept = files.map((f) => fs.readFileSync(f, 'utf8'));
    for (const text of kept) {
      assert.ok(Buffer.byteLength(text) <= 1000);
      assert.ok(text.endsWith('\n'));
    }
    // What is kept is the newest lines, in order, none cut.
    const joined = kept.join('');
    assert.ok(lines.join('').endsWith(joined));
    assert.ok(joined.split('\n').length > 20);
    assert.ok(!fs.existsSync(`${file}.3`));
  });

  it('keeps a line longer than the limit whole, in a file of its own', () => {
    const file = path.join(tmp, 'long', 'restarts.jsonl');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const log = createRotatingLog({ file, maxBytes: 100, keep: 1 });
    log.append('short line\n');
    log.append(`${'x'.repeat(500)}\n`);
    assert.equal(fs.readFileSync(file, 'utf8').length, 501);
    assert.equal(fs.readFileSync(`${file}.1`, 'utf8'), 'short line\n');
  });

  it('takes its size and count from the settings schema, the module config, or the defaults', async () => {
    const base = { HOME: tmp };
    const defaults = await readSettings(base);
    assert.equal(defaults.maxBytes, 10 * 1024 * 1024);
    assert.equal(defaults.keep, 5);
    const fromModule = await readSettings({ ...base, 'restart-logger': JSON.stringify({ max_mb: 2, keep: 1, settle_ms: 500 }) });
    assert.deepEqual([fromModule.maxBytes, fromModule.keep, fromModule.settleMs], [2 * 1024 * 1024, 1, 500]);
    const envWins = await readSettings({ ...base, 'restart-logger': JSON.stringify({ max_mb: 2 }), DOCMARK_RESTART_LOG_MAX_MB: '3' });
    assert.equal(envWins.maxBytes, 3 * 1024 * 1024);
    await assert.rejects(readSettings({ ...base, 'restart-logger': JSON.stringify({ max_mb: '1e9' }) }), /restart-logger:max_mb/);
    await assert.rejects(readSettings({ ...base, settle_ms: '99999999999999999999' }), /settle_ms/);
  });
});

describe('docmark restarts reads any length of log', () => {
  it('sums the rotated files with the current one, oldest first', async () => {
    const file = path.join(tmp, 'sum', 'restarts.jsonl');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    fs.writeFileSync(`${file}.2`, record(t0, 'crash', 100) + record(t0 + 1000, 'crash', 300));
    fs.writeFileSync(`${file}.1`, record(t0 + 2000, 'memory_limit', 900));
    fs.writeFileSync(file, record(t0 + 3000, 'crash', 200));
    fs.writeFileSync(`${file}.old`, record(t0, 'not_read'));
    const summary = (await summarizeLog(file))!;
    assert.deepEqual(summary.files, [`${file}.2`, `${file}.1`, file]);
    assert.equal(summary.total, 4);
    const crash = summary.by_cause.find((c) => c.cause === 'crash')!;
    assert.deepEqual([crash.count, crash.mean_interval_s, crash.mean_rss_mb, crash.max_rss_mb], [3, 1.5, 200, 300]);
    assert.equal(summary.first, new Date(t0).toISOString());
    assert.equal(summary.last, new Date(t0 + 3000).toISOString());
  });

  it('sums 300 000 restarts in a small heap, skipping a line too long to be one', async () => {
    const file = path.join(tmp, 'big', 'restarts.jsonl');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const out = fs.openSync(file, 'w');
    const t0 = Date.parse('2020-01-01T00:00:00Z');
    const causes = ['crash', 'memory_limit', 'cron', 'conversion_limit'];
    const n = 300_000;
    let chunk = '';
    for (let i = 0; i < n; i++) {
      chunk += record(t0 + i * 60_000, causes[i % 4], 100 + (i % 1000));
      if (chunk.length > 1 << 20) {
        fs.writeSync(out, chunk);
        chunk = '';
      }
    }
    // A megabyte of garbage with no newline, then a mangled line.
    fs.writeSync(out, `${chunk}${'z'.repeat(1 << 20)}\n{"time":"x","cause":"<script>"}\n`);
    fs.closeSync(out);
    // The whole file is far bigger than this heap: only a streaming reader gets through.
    assert.ok(fs.statSync(file).size > 20 * 1024 * 1024);
    const res = await run(['restarts', '--log', file, '--json'], ['--max-old-space-size=16']);
    assert.equal(res.code, 0, res.stderr.slice(0, 2000));
    const summary = JSON.parse(res.stdout);
    assert.equal(summary.total, n);
    assert.equal(summary.skipped_lines, 2);
    assert.deepEqual(
      summary.by_cause.map((c: { cause: string; count: number }) => [c.cause, c.count]),
      [
        ['conversion_limit', n / 4],
        ['crash', n / 4],
        ['cron', n / 4],
        ['memory_limit', n / 4],
      ],
    );
    assert.equal(summary.mean_interval_s, 60);
    assert.equal(summary.by_cause[0].max_rss_mb, 1099);
  });

  it('answers a bad --since at once, as a usage error', async () => {
    const res = await run(['restarts', '--log', path.join(tmp, 'none.jsonl'), '--since', '9007199254740993w']);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /at most 6 digits/);
  });
});
