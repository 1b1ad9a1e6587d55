import client from 'prom-client';
import { appInstance } from './recycle.js';

// Prometheus metrics for GET /metrics. One registry per server instance (tests start
// several in one process); process-level figures come from prom-client's defaults.

export class Metrics {
  readonly registry = new client.Registry();
  readonly conversions: client.Counter<'outcome' | 'code'>;
  readonly duration: client.Histogram<'outcome'>;
  readonly pages: client.Counter;
  readonly inFlight: client.Gauge;
  readonly queued: client.Gauge;

  constructor(
    gauges: { inFlight: () => number; queued: () => number; converter?: () => Record<string, unknown> },
    instance: number | undefined = appInstance(),
  ) {
    // Under PM2's cluster mode a scrape reaches whichever instance the balancer picks: every
    // series names the instance that answered, and docmark_instance_info gives its current pid.
    this.registry.setDefaultLabels({ pm2_instance: instance === undefined ? 'none' : String(instance) });
    new client.Gauge({
      name: 'docmark_instance_info',
      help: 'Always 1; labels: the PM2 instance (none outside PM2) and the process id that answered this scrape.',
      labelNames: ['pid'],
      registers: [this.registry],
      collect() {
        this.set({ pid: String(process.pid) }, 1);
      },
    });
    client.collectDefaultMetrics({ register: this.registry, prefix: 'docmark_' });
    this.conversions = new client.Counter({
      name: 'docmark_conversions_total',
      help: 'Conversions by outcome (ok, client_error, server_error) and error code.',
      labelNames: ['outcome', 'code'],
      registers: [this.registry],
    });
    this.duration = new client.Histogram({
      name: 'docmark_conversion_duration_seconds',
      help: 'Time from upload received to result ready.',
      labelNames: ['outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120],
      registers: [this.registry],
    });
    this.pages = new client.Counter({
      name: 'docmark_pages_total',
      help: 'Pages converted.',
      registers: [this.registry],
    });
    this.inFlight = new client.Gauge({
      name: 'docmark_in_flight',
      help: 'Conversion requests being handled now.',
      registers: [this.registry],
      collect() {
        this.set(gauges.inFlight());
      },
    });
    this.queued = new client.Gauge({
      name: 'docmark_queued',
      help: 'Conversions waiting for a worker.',
      registers: [this.registry],
      collect() {
        this.set(gauges.queued());
      },
    });
    // The worker pool's own counters (tasks, recycled workers, timeouts, crashes, OOM kills):
    // cumulative since the process started, read from converter.stats() at scrape time.
    new client.Gauge({
      name: 'docmark_worker_events',
      help: 'Worker pool events since the process started, by event.',
      labelNames: ['event'],
      registers: [this.registry],
      collect() {
        const stats = gauges.converter?.() ?? {};
        for (const event of [
          'tasks_done',
          'ocr_pages',
          'recycled',
          'timeouts',
          'cancelled',
          'replaced',
          'crashes',
          'out_of_memory',
          'busy',
          'queued',
          'uploading',
          'workers',
        ]) {
          const value = stats[event];
          if (typeof value === 'number') this.set({ event }, value);
        }
      },
    });
  }

  record(outcome: 'ok' | 'client_error' | 'server_error', code: string, seconds: number, pages: number): void {
    this.conversions.inc({ outcome, code });
    this.duration.observe({ outcome }, seconds);
    if (pages > 0) this.pages.inc(pages);
  }
}
