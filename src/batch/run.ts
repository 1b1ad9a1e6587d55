import fsp from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import type { OutputFormat } from '../engine/types.js';
import { convertOnce } from './client.js';
import { convertByJob } from './job-client.js';
import { outputExists, outputPathFor, outputTakenBy } from './outputs.js';
import { createProgress, type Progress } from './progress.js';
import { Report, emptySummary, type ReportLine, type RetryCause, type Summary } from './report.js';
import { AttemptError, networkError, retryDelayMs } from './retry.js';
import { ServerRotation, type ServerState } from './servers.js';
import { forgetSubmitted, readSubmitted, recordSubmitted, type SubmittedJob } from './submitted.js';
import { walkPdfs, type FoundPdf } from './walk.js';

// A batch: walk the folder, send each PDF that has no complete output yet to a server
// (`concurrency` at a time over one keep-alive pool), write the outputs, append to the
// report. Memory is bounded by `concurrency`, never by the number of files.

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
  /** Stop the batch when no server could be reached for this long. */
  giveUpMs?: number;
  /** Convert again even when the output exists. */
  force: boolean;
  /** Aborting stops the batch: in-flight requests end, their temporary files go. */
  signal?: AbortSignal;
  progress?: Progress;
  /** Sent as `Authorization: Bearer <key>` to servers that need an API key. */
  apiKey?: string;
  /**
   * Files of at least this many bytes go through the jobs API (POST /jobs) instead of /convert; 0 = all.
   * A file whose job an earlier run recorded follows that job whatever this says.
   */
  jobsFromBytes?: number;
}

/** Three missed heartbeats (the server sends one every 10 s). */
const DEFAULT_STALL_MS = 30_000;
/** Longer than a PM2 restart or reload takes; a server gone for a minute is not coming back soon. */
const DEFAULT_GIVE_UP_MS = 60_000;

export async function runBatch(options: BatchOptions): Promise<Summary> {
  const started = Date.now();
  const interrupt = options.signal ?? new AbortController().signal;
  // Stops the workers when the batch gives up, as well as on the caller's interrupt.
  const giveUp = new AbortController();
  const signal = AbortSignal.any([interrupt, giveUp.signal]);
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
  const giveUpMs = options.giveUpMs ?? DEFAULT_GIVE_UP_MS;
  // One keep-alive pool per server, never more than `concurrency` connections each.
  // A connection is renewed every so often: behind PM2's cluster master (or any balancer)
  // kept-alive sockets would otherwise stay pinned to whichever instance outlived a restart.
  const agent = new Agent({ connections: options.concurrency, maxRequestsPerClient: 25 });
  const report = await Report.open(outDir);
  const files = walk();

  const record = async (line: ReportLine): Promise<void> => {
    if (line.status === 'failed' && line.error) {
      summary.failed++;
      summary.failedByCode[line.error.code] = (summary.failedByCode[line.error.code] ?? 0) + 1;
    }
    await report.append(line);
    done++;
    update();
  };

  const convertWithRetries = async (pdf: FoundPdf, target: string) => {
    // Why each earlier attempt failed: recorded, so a retried file says what it went through.
    const retried: RetryCause[] = [];
    // Failures that count against --retries: a server that cannot be reached is the rotation's
    // and the give-up's business, not the file's (the file is left for a rerun, never failed).
    let counted = 0;
    // The file's job on a server, once one was submitted (by this run or an earlier one).
    let submitted: SubmittedJob | undefined = await readSubmitted(target, pdf);
    const viaJob = submitted !== undefined || (options.jobsFromBytes !== undefined && pdf.size >= options.jobsFromBytes);
    for (let attempt = 1; ; attempt++) {
      // A job is followed on the server that has it, while that server is in rotation.
      const server = rotation.inRotation(submitted?.server) ?? (await nextServer(rotation, signal, giveUpMs));
      if (!server) {
        summary.gaveUp = `no server could be reached for ${Math.round(giveUpMs / 1000)} s (${options.servers.join(', ')})`;
        giveUp.abort();
        throw signal.reason;
      }
      const input = {
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
        apiKey: options.apiKey,
      };
      try {
        const { pages, failedPages } = viaJob
          ? await convertByJob(input, {
              resume: submitted?.server === server.url ? submitted.id : undefined,
              onSubmitted: async (id) => {
                submitted = { id, server: server.url, size: pdf.size, mtimeMs: pdf.mtimeMs, at: new Date().toISOString() };
                await recordSubmitted(target, submitted);
              },
            })
          : await convertOnce(input);
        rotation.succeeded(server);
        return { ok: true as const, pages, failedPages, attempts: attempt, retried, server, job: submitted?.id };
      } catch (err) {
        if (signal.aborted) throw err;
        const error = err instanceof AttemptError ? err : networkError(err);
        if (error.details.unreachable) rotation.unreachable(server);
        else if (error.details.status !== undefined) rotation.succeeded(server);
        if (!error.details.unreachable) counted++;
        const retries = Math.min(options.retries, error.details.maxRetries ?? options.retries);
        if (!error.details.retryable || counted > retries)
          return { ok: false as const, error, attempts: attempt, retried, server, job: submitted?.id };
        retried.push({ code: error.code, ...(error.details.status ? { http_status: error.details.status } : {}) });
        summary.retries++;
        // The attempt's connection is closed by now (undici destroys it on a timeout or an abort),
        // so the server has seen the disconnect and cancelled its conversion: no double work.
        await sleep(retryDelayMs(Math.max(1, counted), error.details.retryAfterMs), undefined, { signal });
      }
    }
  };

  const worker = async (): Promise<void> => {
    while (!signal.aborted) {
      const next = await files.next();
      if (next.done) return;
      const pdf = next.value;
      const target = outputPathFor(outDir, pdf.rel, options.format);
      const takenBy = await outputTakenBy(pdf.path);
      if (takenBy) {
        const message = `${path.basename(pdf.rel)} would be written to ${path.basename(target)}, like ${takenBy}: rename one of them and run the batch again.`;
        await record({ file: pdf.rel, status: 'failed', ms: 0, attempts: 0, error: { code: 'output_name_taken', message } });
        continue;
      }
      if (!options.force && (await outputExists(target))) {
        summary.skipped++;
        // Done, though the batch that did it stopped before clearing its job record.
        await forgetSubmitted(target);
        continue;
      }
      const fileStarted = Date.now();
      let result: Awaited<ReturnType<typeof convertWithRetries>>;
      try {
        result = await convertWithRetries(pdf, target);
      } catch (err) {
        if (signal.aborted) {
          // Not recorded: a rerun does this file, following its job if it has one.
          if (await readSubmitted(target, pdf)) summary.jobsLeft++;
          return;
        }
        throw err;
      }
      const line = {
        file: pdf.rel,
        ms: Date.now() - fileStarted,
        attempts: result.attempts,
        ...(result.retried.length ? { retried: result.retried } : {}),
        server: result.server.url,
        ...(result.job ? { job: result.job } : {}),
      };
      if (result.ok) {
        summary.converted++;
        summary.pages += result.pages;
        const unreadable = result.failedPages.length ? { failed_pages: result.failedPages } : {};
        if (result.failedPages.length) {
          summary.unreadablePages += result.failedPages.length;
          summary.filesWithUnreadablePages++;
        }
        await record({
          ...line,
          output: path.relative(outDir, target).split(path.sep).join('/'),
          status: 'converted',
          pages: result.pages,
          ...unreadable,
        });
      } else {
        const { code, message, details } = result.error;
        await record({ ...line, status: 'failed', error: { code, message, ...(details.status ? { http_status: details.status } : {}) } });
      }
      // A file that failed for a reason that may pass (the server out of reach too long) keeps its
      // job for the rerun; any other end means its job is nothing to come back to.
      if (result.ok || !result.error.details.retryable) await forgetSubmitted(target);
    }
  };

  try {
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  } finally {
    await files.return(undefined);
    summary.interrupted = interrupt.aborted;
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
    if (options.force || (await outputTakenBy(pdf.path))) continue;
    if (await outputExists(outputPathFor(outDir, pdf.rel, options.format))) done++;
  }
  return { found, done };
}

/**
 * The next server in rotation; while every one is out, wait for the first to come back.
 * Undefined when none has been reachable for `giveUpMs`: the batch stops.
 */
async function nextServer(rotation: ServerRotation, signal: AbortSignal, giveUpMs: number): Promise<ServerState | undefined> {
  for (;;) {
    const pick = rotation.pick();
    if ('server' in pick) return pick.server;
    if (rotation.allUnreachableForMs() >= giveUpMs) return undefined;
    await sleep(Math.min(pick.waitMs, giveUpMs), undefined, { signal });
  }
}
