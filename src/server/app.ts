import Koa from 'koa';
import type { Config } from '../config.js';
import type { Jobs } from '../jobs/service.js';
import { DocmarkError, isDocmarkError } from '../errors.js';
import { apiKeyAuth } from './auth.js';
import type { Converter } from './converter.js';
import type { HostGuard } from './host-guard.js';
import type { HostSampler } from './host-stats.js';
import type { Lifecycle } from './lifecycle.js';
import type { MemoryLimit } from './memory-limit.js';
import type { Metrics } from './metrics.js';
import type { MemoryStrikes } from './strikes/guard.js';
import { convertRoute } from './routes/convert.js';
import { healthRoute } from './routes/health.js';
import { jobRoutes } from './routes/jobs.js';
import { metricsRoute } from './routes/metrics.js';
import { openapiRoutes } from './routes/openapi.js';
import { statusRoutes } from './routes/status.js';
import { webRoutes } from './routes/web.js';
import { readyRoute } from './routes/ready.js';
import { discardUnreadBody } from './upload.js';

export interface AppDeps {
  config: Config;
  converter: Converter;
  lifecycle: Lifecycle;
  host: HostSampler;
  guard: HostGuard;
  /** The instance's own memory limit (absent: none). */
  memoryLimit?: MemoryLimit;
  /** Documents refused for taking instances past their memory limit (absent: off). */
  strikes?: MemoryStrikes;
  metrics: Metrics;
  /** Asynchronous jobs (`/jobs` routes); absent, those routes are not served. */
  jobs?: Jobs;
  log?: (line: Record<string, unknown>) => void;
}

type Route = Koa.Middleware;

/**
 * The Koa app: an error boundary, then a fixed route table. Every error leaves as
 * `{ success: false, error: { code, message } }`; nothing a handler throws reaches
 * Koa's default handler.
 */
export function createApp(deps: AppDeps): Koa {
  const app = new Koa();
  app.proxy = false;
  app.silent = true;

  const routes: Record<string, Record<string, Route>> = {
    '/convert': { POST: convertRoute(deps) },
    '/health': { GET: healthRoute(deps) },
    '/metrics': { GET: metricsRoute(deps) },
    ...statusRoutes(deps, { jobCounts: deps.jobs ? () => deps.jobs!.counts() : undefined }),
    ...openapiRoutes(),
    ...webRoutes(deps),
    '/ready': { GET: readyRoute(deps) },
  };

  const jobs = deps.jobs ? jobRoutes(deps, deps.jobs) : undefined;
  const list = `POST /convert, ${jobs ? 'POST /jobs, GET|DELETE /jobs/:id, GET /jobs/:id/result, GET /jobs/:id/events, ' : ''}GET /health, GET /ready, GET /metrics, GET /status.json, GET /openapi.json, GET /, GET /status, GET /docs`;

  app.use(errorBoundary(deps));
  app.use(apiKeyAuth(deps.config.apiKey));
  app.use(async (ctx, next) => {
    const methods = Object.hasOwn(routes, ctx.path) ? routes[ctx.path] : jobs?.match(ctx.path);
    if (!methods) throw new DocmarkError('not_found', `No route ${ctx.method} ${ctx.path}. Routes: ${list}.`);
    const method = ctx.method === 'HEAD' ? 'GET' : ctx.method;
    const handler = methods[method];
    if (!handler) {
      ctx.set('Allow', Object.keys(methods).join(', '));
      throw new DocmarkError('method_not_allowed', `${ctx.method} is not allowed on ${ctx.path}; use ${Object.keys(methods).join(' or ')}.`);
    }
    await handler(ctx, next);
  });
  return app;
}

function errorBoundary(deps: AppDeps): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const error = isDocmarkError(err) ? err : new DocmarkError('internal_error', 'The server failed to handle this request.', { cause: err });
      if (error.code === 'internal_error') {
        deps.log?.({ level: 'error', msg: 'unhandled error', path: ctx.path, error: String((err as Error)?.stack ?? err) });
      }
      ctx.status = error.status;
      if (error.retryAfter !== undefined) ctx.set('Retry-After', String(error.retryAfter));
      ctx.type = 'application/json';
      ctx.body = { success: false, error: error.toJSON() };
      discardUnreadBody(ctx);
    }
  };
}
