import type client from 'prom-client';

// The instance's own memory limit. PM2 looks at an instance's RSS every 30 s, and in cluster mode
// its memory restart is a reload: the old process drains its running conversions (a scan, for
// minutes) while over the limit, and PM2 refuses another reload of that instance meanwhile. So each
// instance samples its own RSS against the same figure (DOCMARK_MAX_MEMORY, PM2's
// max_memory_restart) and, once over it, acts at once: it stops taking work, gives running
// conversions a bounded grace, ends what still runs, and leaves like a planned exit.

export interface MemoryLimitOptions {
  /** RSS in bytes above which the instance leaves; 0 = off. */
  limitBytes: number;
  /** How often RSS is read. */
  sampleMs?: number;
  /** The process's RSS in bytes (tests substitute it). */
  readRss?: () => number;
  /** Called once, at the first sample over the limit. */
  onOver: (rssBytes: number) => void;
  log?: (line: Record<string, unknown>) => void;
}

export interface MemoryLimitStatus {
  limit_mb: number;
  /** Null while under the limit. */
  over_since: string | null;
  rss_mb_when_over: number | null;
  /** Why the instance is leaving, for /health; null while under the limit. */
  reason: string | null;
}

/** Often enough to act long before PM2's 30 s check; a rss() read costs a few µs. */
export const RSS_SAMPLE_MS = 1000;
/** What refused clients are told to wait: a sibling instance answers at once, the replacement within seconds. */
export const RESTARTING_RETRY_AFTER_S = 2;

const MB = 1024 * 1024;

export class MemoryLimit {
  private timer: NodeJS.Timeout | undefined;
  private overAt: number | undefined;
  private rssWhenOver: number | undefined;
  private readonly readRss: () => number;

  constructor(private readonly options: MemoryLimitOptions) {
    this.readRss = options.readRss ?? (() => process.memoryUsage.rss());
  }

  /** Turned off at start: the limit is below the RSS of an idle instance. */
  private off = false;

  get enabled(): boolean {
    return this.options.limitBytes > 0 && !this.off;
  }

  /** The limit was passed (once over, the instance is leaving: it never goes back). */
  get over(): boolean {
    return this.overAt !== undefined;
  }

  start(): this {
    if (!this.enabled) return this;
    // Over the limit before any work: a replacement would be too, and an instance that leaves at
    // once, again and again, serves nothing. PM2's own check (a reload now and then) is left to act.
    const rss = this.readRss();
    if (rss > this.options.limitBytes) {
      this.off = true;
      this.options.log?.({
        level: 'warn',
        msg: "DOCMARK_MAX_MEMORY is below this instance's RSS at start: the instance-side memory limit is off, only PM2's check applies",
        rss_mb: Math.round(rss / MB),
        limit_mb: Math.round(this.options.limitBytes / MB),
      });
      return this;
    }
    this.timer = setInterval(() => this.check(), this.options.sampleMs ?? RSS_SAMPLE_MS);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One sample; true when this sample found the limit passed for the first time. */
  check(): boolean {
    if (!this.enabled || this.over) return false;
    const rss = this.readRss();
    if (rss <= this.options.limitBytes) return false;
    this.overAt = Date.now();
    this.rssWhenOver = rss;
    this.stop();
    this.options.onOver(rss);
    return true;
  }

  status(): MemoryLimitStatus {
    return {
      limit_mb: Math.round(this.options.limitBytes / MB),
      over_since: this.overAt === undefined ? null : new Date(this.overAt).toISOString(),
      rss_mb_when_over: this.rssWhenOver === undefined ? null : Math.round(this.rssWhenOver / MB),
      reason: this.over ? this.reason() : null,
    };
  }

  /** The message refused and ended clients get. */
  reason(): string {
    return `this instance's memory (${Math.round((this.rssWhenOver ?? 0) / MB)} MB RSS) passed DOCMARK_MAX_MEMORY = ${Math.round(this.options.limitBytes / MB)} MB; it is being replaced`;
  }

  /** docmark_memory_limit_bytes and docmark_memory_limit_over (1 once the instance is leaving for it). */
  register(registry: client.Registry, prom: typeof client): void {
    const limit = this;
    new prom.Gauge({
      name: 'docmark_memory_limit_bytes',
      help: "The instance's own memory limit (DOCMARK_MAX_MEMORY); 0 = off.",
      registers: [registry],
      collect() {
        this.set(limit.options.limitBytes);
      },
    });
    new prom.Gauge({
      name: 'docmark_memory_limit_over',
      help: 'A memory-limit exit is under way: 1 once RSS passed DOCMARK_MAX_MEMORY (new work refused with 503 restarting), else 0.',
      registers: [registry],
      collect() {
        this.set(limit.over ? 1 : 0);
      },
    });
  }
}
