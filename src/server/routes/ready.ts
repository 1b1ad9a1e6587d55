import type Koa from 'koa';
import { DocmarkError } from '../../errors.js';
import type { AppDeps } from '../app.js';

// GET /ready: whether this instance should be sent work now (a load balancer's or Kubernetes'
// readiness probe). /health says the process is alive and answers even while draining; this one
// turns 503 as soon as a drain begins, and until the worker pool has a worker that can convert.
export function readyRoute({ converter, lifecycle }: AppDeps): Koa.Middleware {
  return (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    if (lifecycle.draining) {
      throw new DocmarkError('draining', `This instance is draining (${lifecycle.drainReason ?? 'shutdown'}) and takes no new work.`);
    }
    const stats = converter.stats();
    // A converter that does not count ready workers (an in-process one) is ready once it exists.
    const ready = typeof stats.ready === 'number' ? stats.ready : 1;
    if (ready < 1) {
      throw new DocmarkError('not_ready', 'No conversion worker is ready yet on this instance; retry in a moment.', { retryAfter: 1 });
    }
    ctx.body = { status: 'ready', ready_workers: ready, busy: stats.busy, queued: stats.queued };
  };
}
