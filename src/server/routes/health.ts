import type Koa from 'koa';
import type { AppDeps } from '../app.js';
import { capacityOf } from '../capacity.js';

const GB = 1024 ** 3;
const round3 = (n: number): number => Math.round(n * 1000) / 1000;

// GET /health: cheap by design — counters and the last background host sample.
export function healthRoute({ config, converter, lifecycle, host, jobs }: AppDeps): Koa.Middleware {
  return async (ctx) => {
    const jobsHealth = await jobs?.health();
    const mem = process.memoryUsage();
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      status: lifecycle.draining ? 'draining' : 'ok',
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
      ...(jobsHealth ? { jobs: jobsHealth } : {}),
    };
  };
}
