import type Koa from 'koa';
import type { AppDeps } from '../app.js';

/** GET /metrics: Prometheus text format. */
export function metricsRoute({ metrics }: AppDeps): Koa.Middleware {
  return async (ctx) => {
    ctx.set('Content-Type', metrics.registry.contentType);
    ctx.body = await metrics.registry.metrics();
  };
}
