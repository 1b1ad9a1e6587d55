import fsp from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import { convertOnce } from './client.js';
import { outputExists, outputPathFor, type OutputFormat } from './outputs.js';
import { createProgress, type Progress } from './progress.js';
import { Report, emptySummary, type RetryCause, type Summary } from './report.js';
import { AttemptError, networkError, retryDelayMs } from './retry.js';
import { ServerRotation, type ServerState } from './servers.js';
import { walkPdfs, type FoundPdf } from './walk.js';

/**
 * A batch: walk the folder, send each PDF that has no complete output yet to a server
 * (`concurrency` at a time over one keep-alive pool), write the outputs, append to the
 * report. Memory is bounded by `concurrency`, never by the number of files.
 */
export interface BatchOptions {
  inputDir: string;
  outDir: string;
  servers: string[];
  concurrency: number;
  format: OutputFormat;
  /** Attempts after the first, per file. */
  retries: number;
  /** Per request: the longest wait for the answer to start, and between its chunks. */
  timeoutMs: number;
  /** Per request, to a server that sends heartbeats: the longest silence before the answer starts. */
  stallMs?: number;
  /** Convert again even when the output exists. */
  force: boolean;
  /** Aborting stops the batch: in-flight requests end, their temporary files go. */
  signal?: AbortSignal;
  progress?: Progress;
}

/** Three missed heartbeats (the server sends one every 10 s). */
export const DEFAULT_STALL_MS = 30_000;

export async function runBatch(options: BatchOptions): Promise<Summary> {
  const started = Date.now();
  const signal = options.signal ?? new AbortController().signal;
  const progress = options.progress ?? createProgress();
  const inputDir = path.resolve(options.inputDir);
  const outDir = path.resolve(options.outDir);
  await fsp.mkdir(outDir, { recursive: true });
  // An output folder inside the input folder is not walked.
  const walk = (): AsyncGenerator<FoundPdf> => walkPdfs(inputDir, { exclude: [outDir] });

  const summary = emptySummary();
  const todo = await countTodo(walk(), outDir, options);
  summary.found = todo.found;
  const total = todo.found - todo.done;
  summary.toConvert = total;
  progress.start(total);
  let done = 0;
  const update = (): void => progress.update({ done, total: Math.max(total, done), failed: summary.failed, pages: summary.pages });

  const rotation = new ServerRotation(options.servers, {
    onChange: ({ url, down, pauseMs }) =>
      progress.log(
        down ? `server ${url} is unreachable: out of rotation for ${Math.round((pauseMs ?? 0) / 1000)} s` : `server ${url} is back in rotation`,
      ),
  });
  // One keep-alive pool per server, never more than `concurrency` connections each.
  // A connection is renewed every so often: behind PM2's cluster master (or any balancer)
  // kept-alive sockets would otherwise stay pinned to whichever instance outlived a restart.
  const agent = new Agent({ connections: options.concurrency, maxRequestsPerClient: 25 });
  const report = await Report.open(outDir);
  const files = walk();

  const convertWithRetries = async (pdf: FoundPdf, target: string) => {
    // Why each earlier attempt failed: recorded, so a retried file says what it went through.
    const retried: RetryCause[] = [];
    for (let attempt = 1; ; attempt++) {
      const server = await nextServer(rotation, signal);
      try {
        const { pages, failedPages } = await convertOnce({
          dispatcher: agent,
          server: server.url,
          file: pdf.path,
          size: pdf.size,
          format: options.format,
          target,
          timeoutMs: options.timeoutMs,
          heartbeat: server,
          stallMs: options.stallMs ?? DEFAULT_STALL_MS,
          signal,
        });
        rotation.succeeded(server);
        return { ok: true as const, pages, failedPages, attempts: attempt, retried, server };
      } catch (err) {
        if (signal.aborted) throw err;
        const error = err instanceof AttemptError ? err : networkError(err);
        if (error.details.unreachable) rotation.unreachable(server);
        else if (error.details.status !== undefined) rotation.succeeded(server);
        const retries = Math.min(options.retries, error.details.maxRetries ?? options.retries);
        if (!error.details.retryable || attempt > retries) return { ok: false as const, error, attempts: attempt, retried, server };
        retried.push({ code: error.code, ...(error.details.status ? { http_status: error.details.status } : {}) });
        summary.retries++;
        await sleep(retryDelayMs(attempt, error.details.retryAfterMs), undefined, { signal });
      }
    }
  };

  const worker = async (): Promise<void> => {
    while (!signal.aborted) {
      const next = await files.next();
      if (next.done) return;
      const pdf = next.value;
      const target = outputPathFor(outDir, pdf.rel, options.format);
      if (!options.force && (await outputExists(target))) {
        summary.skipped++;
        continue;
      }
      const fileStarted = Date.now();
      let result: Awaited<ReturnType<typeof convertWithRetries>>;
      try {
        result = await convertWithRetries(pdf, target);
      } catch (err) {
        if (signal.aborted) return; // not recorded: a rerun does this file
        throw err;
      }
      const ms = Date.now() - fileStarted;
      const line = {
        file: pdf.rel,
        ms,
        attempts: result.attempts,
        ...(result.retried.length ? { retried: result.retried } : {}),
        server: result.server.url,
      };
      if (result.ok) {
        summary.converted++;
        summary.pages += result.pages;
        const unreadable = result.failedPages.length ? { failed_pages: result.failedPages } : {};
        if (result.failedPages.length) {
          summary.unreadablePages += result.failedPages.length;
          summary.filesWithUnreadablePages++;
        }
        await report.append({
          ...line,
          output: path.relative(outDir, target).split(path.sep).join('/'),
          status: 'converted',
          pages: result.pages,
          ...unreadable,
        });
      } else {
        const { code, message, details } = result.error;
        summary.failed++;
        summary.failedByCode[code] = (summary.failedByCode[code] ?? 0) + 1;
        await report.append({ ...line, status: 'failed', error: { code, message, ...(details.status ? { http_status: details.status } : {}) } });
      }
      done++;
      update();
    }
  };

  try {
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  } finally {
    await files.return(undefined);
    summary.interrupted = signal.aborted;
    // After an abort nothing is worth waiting for; otherwise let sockets close politely.
    await (signal.aborted ? agent.destroy() : agent.close());
    await report.close();
    progress.stop();
    summary.elapsedMs = Date.now() - started;
  }
  return summary;
}

/** A first quick pass, so progress has a total and an ETA: names and stats only. */
async function countTodo(files: AsyncGenerator<FoundPdf>, outDir: string, options: BatchOptions): Promise<{ found: number; done: number }> {
  let found = 0;
  let done = 0;
  for await (const pdf of files) {
    found++;
    if (!options.force && (await outputExists(outputPathFor(outDir, pdf.rel, options.format)))) done++;
  }
  return { found, done };
}

/** The next server in rotation; while every one is out, wait for the first to come back. */
async function nextServer(rotation: ServerRotation, signal: AbortSignal): Promise<ServerState> {
  for (;;) {
    const pick = rotation.pick();
    if ('server' in pick) return pick.server;
    await sleep(pick.waitMs, undefined, { signal });
  }
}
