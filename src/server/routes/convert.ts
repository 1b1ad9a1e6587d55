import type Koa from 'koa';
import { isDocmarkError } from '../../errors.js';
import { assertPdfBytes } from '../../engine/load/pdf.js';
import { parseOptions, type RawOptions } from '../../engine/options.js';
import type { ConvertResult, OutputFormat } from '../../engine/types.js';
import type { AppDeps } from '../app.js';
import type { Admission } from '../converter.js';
import { checkUploadHeaders, inviteBody, readUpload } from '../upload.js';

// POST /convert. In this order, so that a request that cannot be served costs no memory: the
// headers and query options are checked, the host has memory to spare (host-guard.ts), the request takes a place in the pool (or gets 503 with
// its body unread), only then is the PDF read, converted and answered as JSON (or bare Markdown
// for `Accept: text/markdown`). A client that leaves cancels its conversion. Counted in the
// lifecycle whatever happens.
export function convertRoute(deps: AppDeps): Koa.Middleware {
  const { config, converter, lifecycle, metrics, guard } = deps;
  return async (ctx) => {
    if (!lifecycle.acquire()) {
      ctx.set('Connection', 'close');
      throw lifecycle.refusal();
    }
    const started = performance.now();
    const clientGone = whenClientLeaves(ctx);
    let admission: Admission | undefined;
    let stopHeartbeat = (): void => undefined;
    let counted = false;
    let ok = false;
    let pages = 0;
    let code = 'ok';
    try {
      const query: RawOptions = Object.create(null);
      for (const [k, v] of Object.entries(ctx.query)) query[k] = Array.isArray(v) ? v[v.length - 1] : v;
      // Options in the query are checked before the request takes a place or its body is read.
      parseOptions(query, { maxPages: config.maxPages });
      checkUploadHeaders(ctx, config.maxUploadBytes);
      guard.admit();
      admission = converter.admit();
      inviteBody(ctx);
      stopHeartbeat = heartbeat(ctx);
      const upload = await readUpload(ctx, config.maxUploadBytes);
      const options = { ...parseOptions({ ...query, ...upload.fields }, { maxPages: config.maxPages }), maxInflateBytes: config.maxInflateBytes };
      assertPdfBytes(upload.bytes);
      counted = true;
      const result = await admission.convert(upload.bytes, options, clientGone.signal);
      ok = true;
      pages = result.metadata.pages;
      sendResult(ctx, result, options.outputFormat, upload.filename ?? null);
    } catch (err) {
      code = isDocmarkError(err) ? err.code : 'internal_error';
      throw err;
    } finally {
      admission?.release();
      clientGone.dispose();
      stopHeartbeat();
      lifecycle.release(counted, ok);
      if (counted) {
        const outcome = ok ? 'ok' : code === 'internal_error' || code === 'worker_crashed' ? 'server_error' : 'client_error';
        metrics.record(outcome, code, (performance.now() - started) / 1000, pages);
      }
    }
  };
}

/** Aborts when the connection closes before the answer is sent (the client gave up). */
function whenClientLeaves(ctx: Koa.Context): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onClose = (): void => {
    if (!ctx.res.writableFinished) controller.abort();
  };
  ctx.res.once('close', onClose);
  return { signal: controller.signal, dispose: () => ctx.res.off('close', onClose) };
}

/** Between two `102 Processing` heartbeats. */
export const HEARTBEAT_MS = 10_000;

/**
 * A client that sends `X-Docmark-Heartbeat: 1` gets `102 Processing` once it is admitted and
 * every HEARTBEAT_MS until the answer starts: silence then means the request was lost on its way
 * (a connection PM2's cluster master was handing to an instance that died is never answered, nor
 * closed). Only on request: some HTTP clients take any 1xx for the answer.
 */
function heartbeat(ctx: Koa.Context): () => void {
  if (!ctx.get('x-docmark-heartbeat')) return () => undefined;
  const beat = (): void => {
    if (!ctx.res.headersSent && !ctx.res.writableEnded && !ctx.req.socket.destroyed) ctx.res.writeProcessing();
  };
  beat();
  const timer = setInterval(beat, HEARTBEAT_MS);
  return () => clearInterval(timer);
}

/** The answer to a conversion: JSON, or bare Markdown for clients that accept it (also GET /jobs/:id/result). */
export function sendResult(ctx: Koa.Context, result: ConvertResult, outputFormat: OutputFormat, filename: string | null): void {
  if (outputFormat === 'markdown' && prefersMarkdown(ctx)) {
    ctx.type = 'text/markdown; charset=utf-8';
    ctx.set('X-Docmark-Pages', String(result.metadata.pages));
    // The JSON envelope's metadata.failed_pages, for clients that asked for bare Markdown.
    if (result.metadata.failed_pages?.length) ctx.set('X-Docmark-Failed-Pages', result.metadata.failed_pages.map((f) => f.page).join(','));
    ctx.body = result.output;
    return;
  }
  ctx.body = {
    success: true,
    output_format: outputFormat,
    output: result.output,
    ...(result.images ? { images: result.images } : {}),
    metadata: { ...result.metadata, filename },
  };
}

function prefersMarkdown(ctx: Koa.Context): boolean {
  const accept = ctx.get('accept');
  if (!accept) return false;
  return ctx.accepts('application/json', 'text/markdown') === 'text/markdown' && /text\/markdown/i.test(accept);
}
