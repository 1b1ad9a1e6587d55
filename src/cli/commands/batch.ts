import { parseArgs } from 'node:util';
import type { ServerCapacity } from '../../batch/preflight.js';
import { REPORT_NAME, formatSummary } from '../../batch/report.js';
import type { OutputFormat } from '../../engine/types.js';
import { setting } from '../../settings.js';
import { CliError, type Command, EXIT, UsageError } from '../command.js';
import { checkFolder, DEFAULT_SERVER, serverUrl } from '../input.js';

export const batchCommand: Command = {
  name: 'batch',
  usage: 'batch <pdf-dir> -o <out-dir> [--server URL ...] [-c N]',
  summary: 'Convert every PDF under a folder through one or more servers.',
  help: `Usage: docmark batch <pdf-dir> -o <out-dir> [options]

Sends every PDF under <pdf-dir> (recursively; recognised by the .pdf name or the
%PDF- signature) to the server and writes one output per PDF under <out-dir>, mirroring
the folder tree: a/report.pdf → <out-dir>/a/report.md. A rerun skips PDFs whose output
exists (outputs are written to a temporary name and renamed when complete). Each file is
recorded in <out-dir>/${REPORT_NAME}. Ctrl-C stops cleanly; rerun to finish.

Every server's /health is asked first: the batch stops at once when one does not answer.
Two names for one output (report.pdf, report.PDF, an extension-less report) are not
both converted: report.pdf keeps report.md, the others fail as output_name_taken.

Options:
  -o, --output DIR        output folder (required; --out is accepted too)
  -s, --server URL        a docmark server; repeat to spread the work (default ${DEFAULT_SERVER})
  -c, --concurrency N     requests in flight at once (default: what the servers advertise
                          they run at once, plus one per server instance, together;
                          3 per server when they do not say)
  -f, --format F          markdown (default) | json | html
      --retries N         attempts after the first for connection failures and 502/503/504 (default 8)
      --timeout S         seconds to wait for an answer to start or continue (default 300)
      --stall S           seconds without an answer or a heartbeat after which a request is
                          taken as lost and sent again (default 30; docmark servers beat every 10 s)
      --give-up S         stop when no server could be reached for this long (default 60)
      --force             convert again even when the output exists
      --jobs              send every PDF through the jobs API (POST /jobs, then poll and fetch):
                          no connection is held during a conversion, restarts are waited out;
                          each job is recorded beside its output (<output>.docmark-job), so a
                          batch stopped or killed leaves its jobs running and the rerun follows
                          them instead of submitting those files again
      --jobs-over MB      only PDFs of at least MB megabytes go through the jobs API

A server started with DOCMARK_API_KEY needs the same key: set DOCMARK_API_KEY for the batch too.

Exit code: 0 when nothing failed, 1 when some PDFs failed (see the report), no server
answered, or the batch gave up; 2 for wrong arguments; 130/143 when stopped by Ctrl-C/SIGTERM.`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        output: { type: 'string', short: 'o' },
        out: { type: 'string' },
        server: { type: 'string', short: 's', multiple: true },
        concurrency: { type: 'string', short: 'c' },
        format: { type: 'string', short: 'f' },
        retries: { type: 'string' },
        timeout: { type: 'string' },
        stall: { type: 'string' },
        'give-up': { type: 'string' },
        force: { type: 'boolean' },
        jobs: { type: 'boolean' },
        'jobs-over': { type: 'string' },
      },
    });
    if (positionals.length !== 1) throw new UsageError('batch takes exactly one input folder.');
    const inputDir = positionals[0];
    await checkFolder(inputDir, 'the PDFs to convert');
    const outDir = values.output ?? values.out;
    if (!outDir) throw new UsageError('batch needs an output folder: -o <out-dir>.');
    const servers = (values.server?.length ? values.server : [DEFAULT_SERVER]).map(serverUrl);
    const format = (values.format ?? 'markdown').toLowerCase().replace(/^md$/, 'markdown');
    if (!['markdown', 'json', 'html'].includes(format)) throw new UsageError(`--format must be markdown, json or html; got "${values.format}".`);
    const explicitConcurrency = values.concurrency === undefined ? undefined : wholeNumber(values.concurrency, 'concurrency', 1, 256);
    const retries = values.retries === undefined ? 8 : wholeNumber(values.retries, 'retries', 0, 100);
    const timeoutS = values.timeout === undefined ? 300 : wholeNumber(values.timeout, 'timeout', 1, 86_400);
    const stallMs = values.stall === undefined ? undefined : wholeNumber(values.stall, 'stall', 1, 86_400) * 1000;
    const jobsOverMb = values['jobs-over'] === undefined ? undefined : wholeNumber(values['jobs-over'], 'jobs-over', 0, 1_000_000);
    const jobsFromBytes = values.jobs ? 0 : jobsOverMb === undefined ? undefined : jobsOverMb * 1024 * 1024;
    const giveUpMs = values['give-up'] === undefined ? undefined : wholeNumber(values['give-up'], 'give-up', 1, 86_400) * 1000;

    // Loaded on use: `docmark --help` and the other commands don't pay for undici and friends.
    const { NoServerError, checkServers, totalConcurrency } = await import('../../batch/preflight.js');
    let capacities: ServerCapacity[];
    try {
      capacities = await checkServers(servers);
    } catch (err) {
      if (err instanceof NoServerError) throw new CliError(err.message);
      throw err;
    }
    const concurrency = explicitConcurrency ?? totalConcurrency(capacities);
    process.stderr.write(`docmark batch: ${describeConcurrency(concurrency, explicitConcurrency !== undefined, capacities)}\n`);

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
      const { runBatch } = await import('../../batch/run.js');
      const summary = await runBatch({
        inputDir,
        outDir,
        servers,
        concurrency,
        format: format as OutputFormat,
        retries,
        timeoutMs: timeoutS * 1000,
        stallMs,
        giveUpMs,
        force: values.force ?? false,
        signal: stop.signal,
        apiKey: setting('DOCMARK_API_KEY') || undefined,
        jobsFromBytes,
      });
      process.stdout.write(formatSummary(summary, `${outDir.replace(/\/+$/, '')}/${REPORT_NAME}`) + '\n');
      if (stoppedBy) return stoppedBy === 'SIGINT' ? 130 : 143;
      return summary.failed > 0 || summary.gaveUp ? EXIT.failed : EXIT.ok;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};

function describeConcurrency(concurrency: number, explicit: boolean, capacities: ServerCapacity[]): string {
  if (explicit) return `concurrency ${concurrency} (--concurrency)`;
  const from = { capacity: 'as it advertises', workers: 'its worker threads', default: 'assumed: it does not say' };
  const parts = capacities.map((c) => `${c.url}: ${c.runsAtOnce} at once (${from[c.source]}) + ${c.instances} waiting, one per instance`);
  return `concurrency ${concurrency} (${parts.join('; ')})`;
}

function wholeNumber(raw: string, name: string, min: number, max: number): number {
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max)
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}; got "${raw}".`);
  return Number(raw);
}
