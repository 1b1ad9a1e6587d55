// Jobs in a server instance: the store, this instance's runner, and the figures /health and
// /metrics show. Built by startServer; the routes receive it through the app's dependencies.
import client from 'prom-client';
import type { Config } from '../config.js';
import type { Converter } from '../server/converter.js';
import type { Lifecycle } from '../server/lifecycle.js';
import type { Metrics } from '../server/metrics.js';
import { FileJobStore } from './file-store.js';
import { RedisJobStore } from './redis-store.js';
import { JobRunner } from './runner.js';
import type { JobStore, StoreStats } from './types.js';

export interface JobsDeps {
  config: Config;
  converter: Converter;
  lifecycle: Lifecycle;
  metrics: Metrics;
  log?: (line: Record<string, unknown>) => void;
  /** Another store (a shared one for several hosts); the embedded file store by default. */
  store?: JobStore;
}

export interface JobsHealth extends Omit<StoreStats, 'bytes'> {
  running_here: number;
  store_mb: number;
  max_store_mb: number;
  ttl_h: number;
  webhooks: boolean;
}

/** The shared store on Redis when DOCMARK_REDIS_URL is set, the embedded one otherwise. */
function openStore(config: Config, log: JobsDeps['log']): JobStore {
  const { dataDir: dir, ttlMs, maxBytes, redis } = config.jobs;
  if (!redis) return new FileJobStore({ dir, ttlMs, maxBytes });
  return new RedisJobStore({ ...redis, dir, ttlMs, maxBytes, concurrency: config.workers, log });
}

/** Store-wide figures are read from the store at most this often (a scan of its folders). */
const STATS_MAX_AGE_MS = 2_000;

export class Jobs {
  readonly store: JobStore;
  readonly runner: JobRunner;
  private cached: StoreStats | undefined;
  private cachedAt = 0;
  private refreshing: Promise<StoreStats> | undefined;

  constructor(private readonly deps: JobsDeps) {
    const { config, converter, lifecycle, metrics, log } = deps;
    this.store = deps.store ?? openStore(config, log);
    this.runner = new JobRunner({
      store: this.store,
      converter,
      lifecycle,
      workers: config.workers,
      maxPages: config.maxPages,
      maxInflateBytes: config.maxInflateBytes,
      ttlMs: config.jobs.ttlMs,
      webhookAllow: config.jobs.webhookAllow,
      webhookSecret: config.jobs.webhookSecret,
      log,
      onConverted: (_job, outcome, seconds) => {
        const ok = 'result' in outcome;
        const code = ok ? 'ok' : outcome.error.code;
        finished.inc({ outcome: ok ? 'succeeded' : 'failed' });
        const kind = ok ? 'ok' : code === 'internal_error' || code === 'worker_crashed' ? 'server_error' : 'client_error';
        metrics.record(kind, code, seconds, ok ? outcome.result.metadata.pages : 0);
      },
    });
    const finished = this.registerMetrics(metrics.registry);
    // A planned exit gives the running jobs back at once: they carry on elsewhere or after the restart.
    lifecycle.on('drain', () => void this.runner.drain());
  }

  start(): this {
    this.runner.start();
    void this.stats();
    return this;
  }

  /** Store-wide figures, at most STATS_MAX_AGE_MS old. */
  async stats(): Promise<StoreStats> {
    if (this.cached && Date.now() - this.cachedAt < STATS_MAX_AGE_MS) return this.cached;
    this.refreshing ??= this.store
      .stats()
      .then((s) => {
        this.cached = s;
        this.cachedAt = Date.now();
        return s;
      })
      .finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** Jobs by state for the status page: the last store-wide figures (refreshed in the background). */
  counts(): Record<string, number> {
    void this.stats().catch(() => undefined);
    const s = this.cached;
    return s ? { queued: s.queued, running: s.running, ...s.finished } : {};
  }

  /** For /health, which stays cheap: store-wide figures are read at most every STATS_MAX_AGE_MS. */
  async health(): Promise<JobsHealth> {
    const s = await this.stats().catch(() => this.cached);
    const { config } = this.deps;
    const base = {
      running_here: this.runner.runningHere,
      max_store_mb: Math.round(config.jobs.maxBytes / 1024 / 1024),
      ttl_h: config.jobs.ttlMs / 3_600_000,
      webhooks: config.jobs.webhookAllow.length > 0,
    };
    if (!s) return { queued: 0, running: 0, finished: { succeeded: 0, failed: 0, canceled: 0 }, oldest_queued_s: 0, store_mb: 0, ...base };
    const { bytes, ...rest } = s;
    return { ...rest, store_mb: Math.round(bytes / 1024 / 1024), ...base };
  }

  async close(): Promise<void> {
    await this.runner.close();
    await this.store.close();
  }

  private registerMetrics(registry: client.Registry): client.Counter<'outcome'> {
    const stats = (): Promise<StoreStats> => this.stats();
    new client.Gauge({
      name: 'docmark_jobs',
      help: 'Jobs in the store by state (queued, running, succeeded, failed, canceled); finished ones until they expire. Store-wide: every instance reports the same.',
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        const s = await stats();
        this.set({ state: 'queued' }, s.queued);
        this.set({ state: 'running' }, s.running);
        for (const [state, n] of Object.entries(s.finished)) this.set({ state }, n);
      },
    });
    new client.Gauge({
      name: 'docmark_jobs_oldest_queued_seconds',
      help: 'Age of the oldest queued job (0 when none waits).',
      registers: [registry],
      async collect() {
        this.set((await stats()).oldest_queued_s);
      },
    });
    new client.Gauge({
      name: 'docmark_jobs_store_bytes',
      help: 'Bytes of uploads and results in the job store.',
      registers: [registry],
      async collect() {
        this.set((await stats()).bytes);
      },
    });
    const runner = this.runner;
    new client.Gauge({
      name: 'docmark_jobs_running_here',
      help: 'Jobs this instance is converting now.',
      registers: [registry],
      collect() {
        this.set(runner.runningHere);
      },
    });
    return new client.Counter({
      name: 'docmark_jobs_finished_total',
      help: 'Jobs this instance finished, by outcome (succeeded, failed).',
      labelNames: ['outcome'],
      registers: [registry],
    });
  }
}
