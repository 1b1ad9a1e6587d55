import fs from 'node:fs';
import { parseArgs } from 'node:util';
import type { OutputFormat } from '../../batch/outputs.js';
import { REPORT_NAME, formatSummary } from '../../batch/report.js';
import { UsageError, type Command } from '../command.js';

const DEFAULT_SERVER = 'http://127.0.0.1:8002';

export const batchCommand: Command = {
  name: 'batch',
  usage: 'batch <pdf-dir> --out <dir> [--server URL ...] [-c N]',
  summary: 'Convert every PDF under a folder through one or more servers.',
  help: `Usage: docmark batch <pdf-dir> --out <dir> [options]

Sends every PDF under <pdf-dir> (recursively; recognised by the .pdf name or the
%PDF- signature) to the server and writes one output per PDF under --out, mirroring
the folder tree. A rerun skips PDFs whose output exists (outputs are written to a
temporary name and renamed when complete). Each file is recorded in
<out>/${REPORT_NAME}. Ctrl-C stops cleanly; rerun to finish.

Options:
  -o, --out DIR           output folder (required)
  -s, --server URL        a docmark server; repeat to spread the work (default ${DEFAULT_SERVER})
  -c, --concurrency N     requests in flight at once (default 4)
  -f, --format F          markdown (default) | json | html
      --retries N         attempts after the first for connection failures and 502/503/504 (default 8)
      --timeout S         seconds to wait for an answer to start or continue (default 300)
      --stall S           seconds without an answer or a heartbeat after which a request is
                          taken as lost and sent again (default 30; docmark servers beat every 10 s)
      --force             convert again even when the output exists

Exit code: 0 when nothing failed, 1 when some PDFs failed (see the report),
2 for wrong arguments, 130/143 when stopped by Ctrl-C/SIGTERM.`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        out: { type: 'string', short: 'o' },
        server: { type: 'string', short: 's', multiple: true },
        concurrency: { type: 'string', short: 'c' },
        format: { type: 'string', short: 'f' },
        retries: { type: 'string' },
        timeout: { type: 'string' },
        stall: { type: 'string' },
        force: { type: 'boolean' },
      },
    });
    if (positionals.length !== 1) throw new UsageError('batch takes exactly one input folder.');
    const inputDir = positionals[0];
    if (!fs.statSync(inputDir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`${inputDir} is not a folder.`);
    if (!values.out) throw new UsageError('batch needs --out <dir>.');
    const servers = (values.server?.length ? values.server : [DEFAULT_SERVER]).map(serverUrl);
    const format = (values.format ?? 'markdown').toLowerCase().replace(/^md$/, 'markdown');
    if (!['markdown', 'json', 'html'].includes(format)) throw new UsageError(`--format must be markdown, json or html; got "${values.format}".`);

    const stop = new AbortController();
    let stoppedBy: NodeJS.Signals | undefined;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stoppedBy) return;
      stoppedBy = signal;
      process.stderr.write(`\ndocmark batch: ${signal}, stopping (unfinished files are left for a rerun)\n`);
      stop.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      // Loaded on use: `docmark --help` and the other commands don't pay for undici and friends.
      const { runBatch } = await import('../../batch/run.js');
      const summary = await runBatch({
        inputDir,
        outDir: values.out,
        servers,
        concurrency: wholeNumber(values.concurrency, 'concurrency', 4, 1, 256),
        format: format as OutputFormat,
        retries: wholeNumber(values.retries, 'retries', 8, 0, 100),
        timeoutMs: wholeNumber(values.timeout, 'timeout', 300, 1, 86_400) * 1000,
        stallMs: wholeNumber(values.stall, 'stall', 30, 1, 86_400) * 1000,
        force: values.force ?? false,
        signal: stop.signal,
      });
      process.stdout.write(formatSummary(summary, `${values.out.replace(/\/+$/, '')}/${REPORT_NAME}`) + '\n');
      if (stoppedBy) return stoppedBy === 'SIGINT' ? 130 : 143;
      return summary.failed > 0 ? 1 : 0;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};

function wholeNumber(raw: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max)
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}; got "${raw}".`);
  return Number(raw);
}

function serverUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--server must be a URL like ${DEFAULT_SERVER}; got "${raw}".`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--server must be http(s); got "${raw}".`);
  return url.href.replace(/\/+$/, '');
}
