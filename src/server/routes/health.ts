import type Koa from 'koa';
import type { AppDeps } from '../app.js';
import { capacityOf } from '../capacity.js';

const GB = 1024 ** 3;
const round3 = (n: number): number => Math.round(n * 1000) / 1000;

// GET /health: cheap by design — counters and the last background host sample.
// While the host guard refuses work the answer is still 200 with status `low_memory`: the instance
// is healthy and must not be restarted (a restart frees nothing the host lacks); the body says why.
export function healthRoute({ config, converter, lifecycle, host, guard, memoryLimit, strikes, jobs }: AppDeps): Koa.Middleware {
  return async (ctx) => {
    const jobsHealth = await jobs?.health();
    const mem = process.memoryUsage();
    const hostGuard = guard.status();
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      status: lifecycle.draining || lifecycle.refusing ? 'draining' : guard.refusing ? 'low_memory' : 'ok',
      // Why the instance is leaving (memory_limit, conversion_limit, cron, signal, …); null while serving.
      leaving: lifecycle.refusing ?? lifecycle.drainReason ?? null,
      pid: process.pid,
      instance: process.env.NODE_APP_INSTANCE ?? null,
      uptime_s: Math.round(lifecycle.uptimeSeconds()),
      conversions: lifecycle.conversions,
      conversion_failures: lifecycle.failures,
      in_flight: lifecycle.inFlight,
      memory_usage_gb: round3(mem.rss / GB),
      memory: {
        rss_mb: Math.round(mem.rss / 1024 / 1024),
        heap_used_mb: Math.round(mem.heapUsed / 1024 / 1024),
        heap_total_mb: Math.round(mem.heapTotal / 1024 / 1024),
        external_mb: Math.round(mem.external / 1024 / 1024),
        array_buffers_mb: Math.round(mem.arrayBuffers / 1024 / 1024),
      },
      capacity: capacityOf(config),
      converter: converter.stats(),
      limits: {
        max_conversions: config.maxConversions,
        max_upload_mb: Math.round(config.maxUploadBytes / 1024 / 1024),
        max_pages: config.maxPages,
        timeout_s: config.timeoutMs / 1000,
        ocr_page_s: config.ocrPageMs / 1000,
        max_memory: config.pm2.maxMemory,
        cron_restart: config.pm2.cronRestart || null,
        cron_mode: config.pm2.cronMode,
      },
      host: host.current(),
      host_guard: hostGuard,
      ...(memoryLimit?.enabled ? { memory_limit: memoryLimit.status() } : {}),
      ...(strikes ? { memory_strikes: strikes.status() } : {}),
      ...(jobsHealth ? { jobs: jobsHealth } : {}),
    };
  };
}
