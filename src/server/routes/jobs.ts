import { PassThrough } from 'node:stream';
import type Koa from 'koa';
import { DocmarkError } from '../../errors.js';
import { parseOptions, type RawOptions } from '../../engine/options.js';
import type { Jobs } from '../../jobs/service.js';
import { jobUrls, readStatus, type JobStatus } from '../../jobs/status.js';
import { FINISHED, type JobOptions } from '../../jobs/types.js';
import { streamUpload } from '../../jobs/upload.js';
import { checkWebhookUrl } from '../../jobs/webhook.js';
import type { AppDeps } from '../app.js';
import { checkUploadHeaders, inviteBody } from '../upload.js';
import { sendResult } from './convert.js';

// Asynchronous jobs over HTTP: POST /jobs stores the upload and answers 202 at once; any instance
// answers GET /jobs/:id, /result and /events for any job (they read the shared store); DELETE
// cancels. Conversions themselves run in the instances' job runners (src/jobs/runner.ts).

type Route = Koa.Middleware;

/** Job ids are checked for length and characters before any store sees them. */
const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const PATH_PATTERN = /^\/jobs\/([^/]{1,200})(\/result|\/events)?$/;
/** Event streams open at once per instance: each holds a connection and polls the store. */
export const MAX_EVENT_STREAMS = 64;
/** How often an event stream looks at its job. */
const EVENTS_POLL_MS = 500;
/** A comment line this often keeps proxies from closing a quiet stream. */
const EVENTS_KEEPALIVE_MS = 15_000;
/** What a client's EventSource waits before reconnecting (e.g. to another instance after a restart). */
const EVENTS_RETRY_MS = 2_000;

export interface JobRoutes {
  /** The methods for `path` when it is a jobs path; undefined otherwise. */
  match(path: string): Record<string, Route> | undefined;
}

export function jobRoutes(deps: AppDeps, jobs: Jobs): JobRoutes {
  const submit = submitRoute(deps, jobs);
  const events = eventStreams(deps, jobs);
  return {
    match(path): Record<string, Route> | undefined {
      if (path === '/jobs') return { POST: submit };
      const m = PATH_PATTERN.exec(path);
      if (!m) return undefined;
      const id = m[1];
      if (m[2] === '/result') return { GET: withId(id, (ctx) => resultRoute(ctx, deps, jobs, id)) };
      if (m[2] === '/events') return { GET: withId(id, (ctx) => events(ctx, id)) };
      return { GET: withId(id, (ctx) => statusRoute(ctx, deps, jobs, id)), DELETE: withId(id, (ctx) => cancelRoute(ctx, deps, jobs, id)) };
    },
  };
}

const noSuchJob = (id: string): DocmarkError =>
  new DocmarkError('not_found', `No job ${JSON.stringify(id.length > 64 ? `${id.slice(0, 64)}…` : id)} (unknown, or forgotten after it expired).`);

function withId(id: string, handler: (ctx: Koa.Context) => Promise<void>): Route {
  return async (ctx) => {
    if (!ID_PATTERN.test(id)) throw noSuchJob(id);
    ctx.set('Cache-Control', 'no-store');
    await handler(ctx);
  };
}

/**
 * POST /jobs: the same checks as /convert (auth, options, size) in the same order, then the body
 * goes to the store as it arrives. Answered once the job is stored whole.
 */
function submitRoute({ config, lifecycle }: AppDeps, jobs: Jobs): Route {
  return async (ctx) => {
    if (!lifecycle.acquire()) {
      ctx.set('Connection', 'close');
      throw lifecycle.refusal();
    }
    try {
      const query: RawOptions = Object.create(null);
      for (const [k, v] of Object.entries(ctx.query)) query[k] = Array.isArray(v) ? v[v.length - 1] : v;
      const { options: queryOptions, webhook: queryWebhook } = splitWebhook(query);
      parseOptions(queryOptions, { maxPages: config.maxPages });
      if (queryWebhook !== undefined) checkWebhookUrl(queryWebhook, config.jobs.webhookAllow);
      checkUploadHeaders(ctx, config.maxUploadBytes);
      inviteBody(ctx);
      const upload = streamUpload(ctx, config.maxUploadBytes);
      const describe = async () => {
        const { filename, fields } = await upload.rest();
        const { options, webhook } = splitWebhook({ ...query, ...fields });
        parseOptions(options, { maxPages: config.maxPages });
        return {
          options: definedOnly(options),
          filename,
          webhookUrl: webhook === undefined || webhook === '' ? null : checkWebhookUrl(webhook, config.jobs.webhookAllow),
        };
      };
      const job = await jobs.store.create(describe, upload.file, config.maxUploadBytes).catch((err) => {
        upload.stop();
        throw err;
      });
      jobs.runner.poke();
      const urls = jobUrls(job.id);
      ctx.status = 202;
      ctx.set('Location', urls.status_url);
      ctx.body = { id: job.id, status: job.status, ...urls };
    } finally {
      lifecycle.release(false, false);
    }
  };
}

function splitWebhook(raw: RawOptions): { options: RawOptions; webhook: string | undefined } {
  const { webhook_url: webhook, ...options } = raw;
  return { options, webhook };
}

function definedOnly(raw: RawOptions): JobOptions {
  const out: JobOptions = {};
  for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') out[k] = v;
  return out;
}

async function statusRoute(ctx: Koa.Context, { config }: AppDeps, jobs: Jobs, id: string): Promise<void> {
  const status = await readStatus(jobs.store, id, config.jobs.ttlMs);
  if (!status) throw noSuchJob(id);
  ctx.body = status;
}

/** Exactly what /convert would have answered: the result (format negotiation included), or the conversion's error. */
async function resultRoute(ctx: Koa.Context, { config }: AppDeps, jobs: Jobs, id: string): Promise<void> {
  const job = await jobs.store.get(id);
  if (!job) throw noSuchJob(id);
  const expired = (): DocmarkError =>
    new DocmarkError('job_expired', `The job's result expired (results are kept ${config.jobs.ttlMs / 3_600_000} h after the job finishes).`);
  if (job.expired) throw expired();
  switch (job.status) {
    case 'queued':
    case 'running':
      throw new DocmarkError(
        'job_not_finished',
        `The job is ${job.status}; its result is not ready. Poll GET /jobs/${id} or follow /jobs/${id}/events.`,
        {
          retryAfter: 2,
        },
      );
    case 'canceled':
      throw new DocmarkError('job_canceled', 'The job was canceled and its data deleted.');
    case 'failed':
      throw new DocmarkError(job.error?.code ?? 'internal_error', job.error?.message ?? 'The conversion failed.');
  }
  const result = await jobs.store.readResult(id);
  if (!result) throw expired();
  const { outputFormat } = parseOptions(job.options);
  sendResult(ctx, result, outputFormat, job.filename);
}

async function cancelRoute(ctx: Koa.Context, { config }: AppDeps, jobs: Jobs, id: string): Promise<void> {
  const job = await jobs.store.cancel(id);
  if (!job) throw noSuchJob(id);
  jobs.runner.cancelled(id);
  ctx.body = await readStatus(jobs.store, id, config.jobs.ttlMs);
}

/**
 * GET /jobs/:id/events: Server-Sent Events. `status` (the status document) first and at every
 * change of status, `progress` ({id, pages_done, pages_total}) as pages are read; the stream ends
 * after the final status. An instance that restarts ends its streams; EventSource reconnects.
 */
function eventStreams({ config, lifecycle }: AppDeps, jobs: Jobs): (ctx: Koa.Context, id: string) => Promise<void> {
  const open = new Set<() => void>();
  lifecycle.on('drain', () => {
    for (const end of [...open]) end();
  });
  return async (ctx, id) => {
    const first = await readStatus(jobs.store, id, config.jobs.ttlMs);
    if (!first) throw noSuchJob(id);
    if (lifecycle.draining) throw new DocmarkError('draining', 'This server instance is restarting; retry shortly.', { retryAfter: 2 });
    if (open.size >= MAX_EVENT_STREAMS) {
      throw new DocmarkError('queue_full', `${MAX_EVENT_STREAMS} event streams are open on this instance; retry later or poll GET /jobs/${id}.`, {
        retryAfter: 5,
      });
    }
    const stream = new PassThrough();
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    ctx.status = 200;
    ctx.type = 'text/event-stream';
    ctx.set('X-Accel-Buffering', 'no');
    ctx.body = stream;

    let last: JobStatus = first;
    let ended = false;
    const send = (event: string, data: unknown): void => {
      if (!ended) stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const end = (): void => {
      if (ended) return;
      ended = true;
      clearInterval(poll);
      clearInterval(keepalive);
      open.delete(end);
      stream.end();
    };
    open.add(end);
    stream.write(`retry: ${EVENTS_RETRY_MS}\n\n`);
    send('status', first);
    let polling = false;
    const poll = setInterval(() => {
      if (polling) return;
      polling = true;
      readStatus(jobs.store, id, config.jobs.ttlMs)
        .then((now) => {
          if (!now) return end();
          if (now.status !== last.status) send('status', now);
          else if (now.pages_done !== last.pages_done || now.pages_total !== last.pages_total) {
            send('progress', { id, pages_done: now.pages_done, pages_total: now.pages_total });
          }
          last = now;
          if (FINISHED.has(now.status)) end();
        })
        .catch(() => end())
        .finally(() => (polling = false));
    }, EVENTS_POLL_MS);
    const keepalive = setInterval(() => !ended && stream.write(': keep-alive\n\n'), EVENTS_KEEPALIVE_MS);
    ctx.res.once('close', end);
    stream.once('close', end);
    if (FINISHED.has(first.status)) end();
  };
}
