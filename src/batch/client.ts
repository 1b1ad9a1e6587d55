import fs from 'node:fs';
import { request, type Dispatcher } from 'undici';
import type { OutputFormat } from '../engine/types.js';
import { writeAtomically } from './outputs.js';
import { AttemptError, isRetryableStatus, networkError, parseRetryAfter } from './retry.js';

// One attempt at one file: stream the PDF from disk as the raw request body, stream the
// answer into the output file (atomically). Throws an AttemptError that says whether
// trying again may help.

export interface AttemptInput {
  dispatcher: Dispatcher;
  server: string;
  file: string;
  size: number;
  format: OutputFormat;
  target: string;
  timeoutMs: number;
  /**
   * The server's heartbeats (`102 Processing`, see the server's convert route): once it has been
   * seen to send them (`heartbeats`, set here), an answer that neither starts nor beats for
   * `stallMs` is a lost request, given up on without waiting for `timeoutMs`.
   */
  heartbeat: { heartbeats: boolean };
  stallMs: number;
  signal: AbortSignal;
  /** For a server that needs one (DOCMARK_API_KEY). */
  apiKey?: string;
}

/** Error bodies are small JSON; never hold more than this of one. */
const MAX_ERROR_BODY = 64 * 1024;

export interface Converted {
  pages: number;
  /** 0-based pages the server could not read (the rest of the file was converted). */
  failedPages: number[];
}

export async function convertOnce(input: AttemptInput): Promise<Converted> {
  const url = `${input.server.replace(/\/+$/, '')}/convert?output_format=${input.format}`;
  const stall = new StallWatch(input.stallMs, input.heartbeat, input.signal);
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, {
      dispatcher: input.dispatcher,
      method: 'POST',
      headers: {
        'content-type': 'application/pdf',
        'content-length': String(input.size),
        // Markdown comes back bare, so it streams straight to disk.
        accept: input.format === 'markdown' ? 'text/markdown' : 'application/json',
        'x-docmark-heartbeat': '1',
        ...(input.apiKey ? { authorization: `Bearer ${input.apiKey}` } : {}),
      },
      body: input.size === 0 ? '' : fs.createReadStream(input.file),
      signal: stall.signal,
      onInfo: ({ statusCode }) => {
        if (statusCode === 102) stall.beat();
      },
      headersTimeout: input.timeoutMs,
      bodyTimeout: input.timeoutMs,
    });
  } catch (err) {
    if (input.signal.aborted) throw err;
    if (stall.stalled) {
      const seconds = Math.round(input.stallMs / 1000);
      throw new AttemptError(
        'stalled',
        `No answer and no heartbeat from the server in ${seconds} s: the request was lost on its way (an instance went away).`,
        { retryable: true },
      );
    }
    throw networkError(err);
  } finally {
    stall.stop();
  }
  return saveAnswer(res, input);
}

/** Write a 200 answer of /convert (or of a job's result) to the target file, atomically. */
export async function saveAnswer(res: Dispatcher.ResponseData, input: Pick<AttemptInput, 'target' | 'signal'>): Promise<Converted> {
  try {
    if (res.statusCode !== 200) throw await errorFromResponse(res);
    if (String(res.headers['content-type'] ?? '').startsWith('text/markdown')) {
      const pages = Number(res.headers['x-docmark-pages']);
      const failed = String(res.headers['x-docmark-failed-pages'] ?? '');
      await writeAtomically(input.target, res.body);
      return { pages: Number.isFinite(pages) ? pages : 0, failedPages: failed ? failed.split(',').map(Number).filter(Number.isInteger) : [] };
    }
    // JSON and HTML come inside the JSON envelope: one file's answer in memory at a time.
    const answer = (await res.body.json()) as {
      success?: boolean;
      output?: unknown;
      metadata?: { pages?: number; failed_pages?: Array<{ page: number }> };
    };
    if (!answer?.success || typeof answer.output !== 'string') {
      throw new AttemptError('bad_response', 'The server answered 200 without an output.', { retryable: false, status: 200 });
    }
    await writeAtomically(input.target, answer.output);
    return { pages: answer.metadata?.pages ?? 0, failedPages: (answer.metadata?.failed_pages ?? []).map((f) => f.page) };
  } catch (err) {
    res.body.destroy();
    if (err instanceof AttemptError || input.signal.aborted) throw err;
    // The answer broke off half-way (the server went away): a network failure.
    throw networkError(err);
  }
}

/**
 * Aborts a request whose answer neither starts nor beats for `stallMs`, once its server is known
 * to send heartbeats (a server that never sent one is left to the request's own timeouts).
 */
class StallWatch {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  stalled = false;

  constructor(
    private readonly stallMs: number,
    private readonly heartbeat: { heartbeats: boolean },
    outer: AbortSignal,
  ) {
    this.signal = AbortSignal.any([outer, this.controller.signal]);
    this.arm();
  }

  readonly signal: AbortSignal;

  beat(): void {
    this.heartbeat.heartbeats = true;
    this.arm();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (!this.heartbeat.heartbeats) return this.arm();
      this.stalled = true;
      this.controller.abort();
    }, this.stallMs);
  }
}

export async function errorFromResponse(res: Dispatcher.ResponseData): Promise<AttemptError> {
  const status = res.statusCode;
  let text = '';
  for await (const chunk of res.body) {
    if (text.length < MAX_ERROR_BODY) text += chunk.toString('utf8');
  }
  let code = `http_${status}`;
  let message = `HTTP ${status}: ${text.slice(0, 200)}`;
  try {
    const error = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
    if (typeof error?.code === 'string') code = error.code;
    if (typeof error?.message === 'string') message = error.message;
  } catch {
    // Not our JSON (a proxy's page, say): keep the status and the start of the text.
  }
  if (isRetryableStatus(status))
    return new AttemptError(code, message, { retryable: true, status, retryAfterMs: parseRetryAfter(res.headers['retry-after']) });
  if (status >= 500 && status !== 501) return new AttemptError(code, message, { retryable: true, status, maxRetries: 1 });
  return new AttemptError(code, message, { retryable: false, status });
}
