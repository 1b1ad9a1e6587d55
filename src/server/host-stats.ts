import os from 'node:os';
import si from 'systeminformation';

// Host figures for /health, sampled in the background so a health check never
// waits on a system call. The timer is unref'd: it never keeps the process alive.

export interface HostStats {
  sampled_at: string | null;
  mem_total_gb: number | null;
  mem_available_gb: number | null;
  mem_used_percent: number | null;
  load_1m: number;
  load_5m: number;
  load_15m: number;
  cpu_count: number;
  cpu_load_percent: number | null;
}

const GB = 1024 ** 3;
const round2 = (n: number): number => Math.round(n * 100) / 100;

export class HostSampler {
  private latest: HostStats;
  private timer: NodeJS.Timeout | undefined;
  private sampling = false;

  constructor(private readonly intervalMs: number) {
    this.latest = {
      sampled_at: null,
      mem_total_gb: null,
      mem_available_gb: null,
      mem_used_percent: null,
      load_1m: 0,
      load_5m: 0,
      load_15m: 0,
      cpu_count: os.availableParallelism?.() ?? os.cpus().length,
      cpu_load_percent: null,
    };
  }

  start(): this {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The last sample; load averages are always current (they cost nothing to read). */
  current(): HostStats {
    const [l1, l5, l15] = os.loadavg();
    return { ...this.latest, load_1m: round2(l1), load_5m: round2(l5), load_15m: round2(l15) };
  }

  private async sample(): Promise<void> {
    if (this.sampling) return;
    this.sampling = true;
    try {
      const [mem, load] = await Promise.all([si.mem(), si.currentLoad().catch(() => undefined)]);
      this.latest = {
        ...this.latest,
        sampled_at: new Date().toISOString(),
        mem_total_gb: round2(mem.total / GB),
        mem_available_gb: round2(mem.available / GB),
        mem_used_percent: round2(((mem.total - mem.available) / mem.total) * 100),
        cpu_load_percent: load ? round2(load.currentLoad) : null,
      };
    } catch {
      // Keep the previous sample: health must not fail because a host probe did.
    } finally {
      this.sampling = false;
    }
  }
}
