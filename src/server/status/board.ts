// This instance's part of the host's status page: it writes its own status and RSS history where
// its siblings can read them (under PM2), and assembles GET /status.json from everyone's files,
// its own live figures and the restart log. Everything here is a few small file reads: the
// answer never waits on a worker, so it stays fast while every worker is busy.
import type { Converter } from '../converter.js';
import type { Lifecycle } from '../lifecycle.js';
import type { Metrics } from '../metrics.js';
import type { StatusFolder } from './folder.js';
import type { RestartLog } from './restart-log.js';
import type { HistorySample, HostStatus, InstanceStatus } from './types.js';

/** How often an instance rewrites its status file: what a sibling reports of it is never older than this. */
export const STATUS_INTERVAL_MS = 1_000;
/** How often an RSS sample goes into the history: fine enough for a chart of hours, a few hundred KB per instance. */
export const SAMPLE_INTERVAL_MS = 5_000;
/** How far back the charts reach. */
export const WINDOW_MS = 6 * 3600_000;
/** Points per instance in one answer: the chart's width in pixels, roughly; keeps /status.json small. */
export const MAX_POINTS = 720;

const MB = 1024 * 1024;
const MINUTE = 60_000;

export interface StatusBoardOptions {
  app: string;
  /** PM2's instance index; null outside PM2. */
  instance: number | null;
  /** Shared with the siblings (PM2's home); without it the board knows only this process. */
  folder?: StatusFolder;
  restartLog: RestartLog;
  memoryLimitMb: number;
  lifecycle: Lifecycle;
  converter: Converter;
  metrics: Metrics;
  /** Job counts by state, once the server runs asynchronous jobs. */
  jobCounts?: () => Record<string, number>;
  intervalMs?: number;
  sampleIntervalMs?: number;
  now?: () => number;
}

export class StatusBoard {
  private timer: NodeJS.Timeout | undefined;
  private failuresByCode: Record<string, number> = {};
  /** Outside PM2, this process's own history (under PM2 the files hold it). */
  private readonly memory: HistorySample[] = [];
  private lastSample = 0;
  private lastTrim = 0;
  private readonly now: () => number;

  constructor(private readonly options: StatusBoardOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Write now and every interval, until the process has drained. The timer never keeps the process alive. */
  start(): this {
    const interval = this.options.intervalMs ?? STATUS_INTERVAL_MS;
    void this.tick();
    this.timer = setInterval(() => {
      void this.tick();
      // A drained instance has said it is draining; its file goes with its process.
      if (this.options.lifecycle.draining && this.options.lifecycle.inFlight === 0) this.stop();
    }, interval);
    this.timer.unref();
    this.options.lifecycle.on('drain', () => void this.tick());
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** This process, now. */
  self(): InstanceStatus {
    const { lifecycle, converter, instance } = this.options;
    const stats = converter.stats();
    const now = this.now();
    return {
      instance,
      pid: process.pid,
      started_at: new Date(lifecycle.startedAt).toISOString(),
      updated_at: new Date(now).toISOString(),
      uptime_s: Math.round((now - lifecycle.startedAt) / 1000),
      state: lifecycle.draining ? 'draining' : 'serving',
      conversions: lifecycle.conversions,
      failures: lifecycle.failures,
      in_flight: lifecycle.inFlight,
      busy_workers: stats.busy,
      workers: typeof stats.workers === 'number' ? stats.workers : 0,
      queued: stats.queued,
      rss_mb: Math.round(process.memoryUsage.rss() / MB),
      failures_by_code: this.failuresByCode,
    };
  }

  async tick(): Promise<void> {
    try {
      this.failuresByCode = await failuresByCode(this.options.metrics);
      const self = this.self();
      const now = this.now();
      const { folder, instance } = this.options;
      folder?.write(self);
      if (now - this.lastSample < (this.options.sampleIntervalMs ?? SAMPLE_INTERVAL_MS)) return;
      this.lastSample = now;
      const sample: HistorySample = { t: now, pid: self.pid, rss: self.rss_mb, c: self.conversions, f: self.failures };
      if (!folder) {
        this.memory.push(sample);
        while (this.memory.length && this.memory[0].t < now - WINDOW_MS) this.memory.shift();
        return;
      }
      folder.append(instance, sample);
      // Trimmed a few times per window, so a history file never holds much more than the window.
      if (now - this.lastTrim >= WINDOW_MS / 4) {
        if (this.lastTrim) folder.trim(instance, now - WINDOW_MS);
        this.lastTrim = now;
      }
    } catch {
      // A full disk or a removed folder must not take the server down: the page shows stale data.
    }
  }

  /** GET /status.json. */
  host(): HostStatus {
    const now = this.now();
    const since = now - WINDOW_MS;
    const { folder, app, instance, memoryLimitMb, restartLog, jobCounts } = this.options;
    const instances = [this.self(), ...(folder?.readInstances(now, process.pid) ?? [])];
    instances.sort((a, b) => (a.instance ?? -1) - (b.instance ?? -1) || a.pid - b.pid);
    const histories = folder ? folder.readHistories(since) : new Map([[String(instance ?? 'solo'), this.memory.filter((s) => s.t >= since)]]);
    const sum = (key: 'queued' | 'in_flight' | 'busy_workers' | 'workers'): number => instances.reduce((n, i) => n + i[key], 0);
    const failures: Record<string, number> = {};
    for (const i of instances) for (const [code, n] of Object.entries(i.failures_by_code)) failures[code] = (failures[code] ?? 0) + n;
    return {
      generated_at: new Date(now).toISOString(),
      app,
      window_s: WINDOW_MS / 1000,
      memory_limit_mb: memoryLimitMb,
      instances,
      queue: { queued: sum('queued'), in_flight: sum('in_flight'), busy_workers: sum('busy_workers'), workers: sum('workers') },
      rss: [...histories].map(([slot, samples]) => ({ instance: slot === 'solo' ? null : Number(slot), points: downsample(samples, since, now) })),
      conversions_per_minute: perMinute([...histories.values()], since, now),
      failures_by_code: failures,
      restarts: restartLog.read(since),
      jobs: jobCounts ? jobCounts() : null,
    };
  }
}

/** PM2's max_memory_restart ("8G", "1536M", "900K") in MB. */
export function memoryLimitMb(value: string): number {
  const m = /^(\d+)([KMG])$/.exec(value);
  if (!m) return 0;
  const n = Number(m[1]);
  return m[2] === 'G' ? n * 1024 : m[2] === 'M' ? n : Math.round(n / 1024);
}

/** At most MAX_POINTS per slot: the highest RSS of each bucket (a peak must not vanish from the chart). */
export function downsample(samples: HistorySample[], since: number, now: number): Array<[number, number, number]> {
  // Slices of the span the samples cover: a young history is shown in full detail.
  const from = Math.max(since, samples[0]?.t ?? since);
  const width = Math.max(1, (now - from) / MAX_POINTS);
  const out: Array<[number, number, number]> = [];
  let bucket = -1;
  for (const s of samples) {
    const b = Math.floor((s.t - from) / width);
    const last = out[out.length - 1];
    // A new pid starts its own point, so the chart shows where a restart happened.
    if (b !== bucket || !last || last[2] !== s.pid) {
      out.push([s.t, s.rss, s.pid]);
      bucket = b;
    } else if (s.rss > last[1]) {
      last[1] = s.rss;
    }
  }
  return out;
}

/**
 * Conversions and failures per minute over the window, from the cumulative counts in the
 * samples: the difference between two samples of one process; a replacement process counts from zero.
 */
export function perMinute(slots: HistorySample[][], since: number, now: number): Array<[number, number, number]> {
  const minutes = new Map<number, [number, number]>();
  for (const samples of slots) {
    let prev: HistorySample | undefined;
    for (const s of samples) {
      const before = prev;
      prev = s;
      // The first sample in the window has nothing to be compared with.
      if (!before) continue;
      const same = before.pid === s.pid;
      const dc = same ? s.c - before.c : s.c;
      const df = same ? s.f - before.f : s.f;
      if (dc <= 0 && df <= 0) continue;
      const m = Math.floor(s.t / MINUTE) * MINUTE;
      const cell = minutes.get(m) ?? [0, 0];
      cell[0] += Math.max(0, dc);
      cell[1] += Math.max(0, df);
      minutes.set(m, cell);
    }
  }
  const first = Math.min(...slots.filter((s) => s.length).map((s) => s[0].t), now);
  const out: Array<[number, number, number]> = [];
  for (let m = Math.floor(Math.max(first, since) / MINUTE) * MINUTE; m <= now; m += MINUTE) {
    const cell = minutes.get(m) ?? [0, 0];
    out.push([m, cell[0], cell[1]]);
  }
  return out;
}

async function failuresByCode(metrics: Metrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metrics.conversions.get()).values) {
    const code = String(v.labels.code ?? '');
    if (v.labels.outcome !== 'ok' && code) out[code] = (out[code] ?? 0) + v.value;
  }
  return out;
}
