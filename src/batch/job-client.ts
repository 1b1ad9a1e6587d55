import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Dispatcher } from 'undici';
import { type AttemptInput, type Converted, errorFromResponse, saveAnswer } from './client.js';
import { AttemptError, networkError } from './retry.js';

// One attempt at one file through the jobs API (`docmark batch --jobs`): submit the PDF to
// POST /jobs, follow the job until it finishes, and write its result like a /convert answer.
// No connection is held for the conversion, so proxies that cut idle connections and instance
// restarts cost nothing: the job carries on in the server's store, and polling reaches any
// instance. The same AttemptError contract as convertOnce, so the batch's retries and report
// work unchanged. The job is handed to `onSubmitted` (the batch records it) as soon as the
// server accepts it; an attempt given a job submitted before (`resume`) follows that one instead,
// while the server still has it, and submits the file again only when it does not.

/** Between two status requests. */
const POLL_MS = 1_000;
/** Status answers are small; never read more of one. */
const MAX_STATUS_BODY = 64 * 1024;

export interface JobAttempt {
  /** A job submitted for this file before (an earlier attempt, or an earlier run of the batch). */
  resume?: string;
  /** Told the id the moment the server accepted a new job, before it is followed. */
  onSubmitted(id: string): Promise<void>;
}

export async function convertByJob(input: AttemptInput, job: JobAttempt): Promise<Converted> {
  const base = input.server.replace(/\/+$/, '');
  const auth: Record<string, string> = input.apiKey ? { authorization: `Bearer ${input.apiKey}` } : {};
  if (job.resume && (await stillThere(base, job.resume, input, auth))) {
    const converted = await finish(base, job.resume, input, auth, true);
    if (converted) return converted;
  }
  const id = await submit(base, input, auth);
  try {
    await job.onSubmitted(id);
  } catch (err) {
    // Not recorded, so no rerun would find it: it must not run on unwatched.
    void cancel(base, id, input.dispatcher, auth);
    throw new AttemptError('state_not_written', `Could not record job ${id} beside the output: ${(err as Error).message}`, { retryable: false });
  }
  return (await finish(base, id, input, auth, false)) as Converted;
}

/**
 * Whether a job submitted before is worth following: queued, running, or succeeded with its
 * result. Gone (404, 410), failed or canceled: no (the file is submitted again).
 */
async function stillThere(base: string, id: string, input: AttemptInput, auth: Record<string, string>): Promise<boolean> {
  let res: Dispatcher.ResponseData;
  try {
    res = await requestStatus(base, id, input, auth);
  } catch (err) {
    throw networkError(err);
  }
  if (res.statusCode === 404 || res.statusCode === 410) {
    await res.body.dump();
    return false;
  }
  if (res.statusCode !== 200) throw await errorFromResponse(res);
  const status = ((await readJson(res)) as { status?: string })?.status;
  return status === 'queued' || status === 'running' || status === 'succeeded';
}

/**
 * Follow the job to its end and save its result. Undefined when a job followed again (`resumed`)
 * turns out to have expired in the meantime: the file is submitted again.
 */
async function finish(base: string, id: string, input: AttemptInput, auth: Record<string, string>, resumed: boolean): Promise<Converted | undefined> {
  const status = await follow(base, id, input, auth);
  if (status === 'canceled') throw new AttemptError('job_canceled', `Job ${id} was canceled on the server.`, { retryable: false });
  let res: Dispatcher.ResponseData;
  try {
    res = await request(`${base}/jobs/${id}/result`, {
      dispatcher: input.dispatcher,
      method: 'GET',
      headers: { accept: input.format === 'markdown' ? 'text/markdown' : 'application/json', ...auth },
      signal: input.signal,
      headersTimeout: input.timeoutMs,
      bodyTimeout: input.timeoutMs,
    });
  } catch (err) {
    throw networkError(err);
  }
  if (resumed && res.statusCode === 410) {
    await res.body.dump();
    return undefined;
  }
  // A failed job answers with its conversion's error, as /convert would have.
  return saveAnswer(res, input);
}

async function submit(base: string, input: AttemptInput, auth: Record<string, string>): Promise<string> {
  let res: Dispatcher.ResponseData;
  try {
    res = await request(`${base}/jobs?output_format=${input.format}`, {
      dispatcher: input.dispatcher,
      method: 'POST',
      headers: { 'content-type': 'application/pdf', 'content-length': String(input.size), accept: 'application/json', ...auth },
      body: input.size === 0 ? '' : fs.createReadStream(input.file),
      signal: input.signal,
      headersTimeout: input.timeoutMs,
      bodyTimeout: input.timeoutMs,
    });
  } catch (err) {
    throw networkError(err);
  }
  if (res.statusCode !== 202) throw await errorFromResponse(res);
  const answer = (await readJson(res)) as { id?: unknown };
  if (typeof answer?.id !== 'string')
    throw new AttemptError('bad_response', 'The server answered 202 without a job id.', { retryable: false, status: 202 });
  return answer.id;
}

/**
 * Poll the job's status until it is finished. Instances that restart meanwhile are waited out
 * (the job is in the store, not in them) for as long as --timeout allows between two answers.
 */
async function follow(base: string, id: string, input: AttemptInput, auth: Record<string, string>): Promise<string> {
  let lastAnswer = Date.now();
  for (;;) {
    let status: string | undefined;
    try {
      const res = await requestStatus(base, id, input, auth);
      if (res.statusCode === 404) {
        await res.body.dump();
        throw new AttemptError('job_lost', `Job ${id} is not on the server any more (another store, or it expired).`, {
          retryable: true,
          status: 404,
        });
      }
      if (res.statusCode === 200) {
        status = ((await readJson(res)) as { status?: string })?.status;
        lastAnswer = Date.now();
      } else {
        await res.body.dump();
      }
    } catch (err) {
      if (err instanceof AttemptError || input.signal.aborted) throw err;
      if (Date.now() - lastAnswer > input.timeoutMs) throw networkError(err);
    }
    if (status === 'succeeded' || status === 'failed' || status === 'canceled') return status;
    await sleep(POLL_MS, undefined, { signal: input.signal });
  }
}

/** GET /jobs/:id, within the attempt's time limit and signal. */
function requestStatus(base: string, id: string, input: AttemptInput, auth: Record<string, string>): Promise<Dispatcher.ResponseData> {
  return request(`${base}/jobs/${id}`, {
    dispatcher: input.dispatcher,
    method: 'GET',
    headers: { accept: 'application/json', ...auth },
    signal: input.signal,
    headersTimeout: input.timeoutMs,
    bodyTimeout: input.timeoutMs,
  });
}

async function readJson(res: Dispatcher.ResponseData): Promise<unknown> {
  let text = '';
  for await (const chunk of res.body) {
    text += chunk.toString('utf8');
    if (text.length > MAX_STATUS_BODY) {
      res.body.destroy();
      throw new AttemptError('bad_response', 'The server answered with more than a status document.', { retryable: false });
    }
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new AttemptError('bad_response', `The server answered with something other than JSON: ${text.slice(0, 120)}`, { retryable: false });
  }
}

async function cancel(base: string, id: string, dispatcher: Dispatcher, auth: Record<string, string>): Promise<void> {
  try {
    const res = await request(`${base}/jobs/${id}`, { dispatcher, method: 'DELETE', headers: auth, signal: AbortSignal.timeout(5_000) });
    await res.body.dump();
  } catch {
    // Best effort: the job then runs to its end and expires.
  }
}
