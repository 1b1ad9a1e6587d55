// What one instance publishes about itself, and what GET /status.json answers for the whole host.

/** One instance, as it last wrote itself down (or as it is now, for the instance answering). */
export interface InstanceStatus {
  /** PM2's instance index (NODE_APP_INSTANCE); null outside PM2. */
  instance: number | null;
  pid: number;
  started_at: string;
  updated_at: string;
  uptime_s: number;
  state: 'serving' | 'draining';
  conversions: number;
  failures: number;
  in_flight: number;
  busy_workers: number;
  workers: number;
  queued: number;
  rss_mb: number;
  /** Failed conversions since this process started, by error code. */
  failures_by_code: Record<string, number>;
}

/** One point of an instance slot's RSS history (compact: a line of the history file). */
export interface HistorySample {
  /** Unix time, ms. */
  t: number;
  pid: number;
  rss: number;
  /** Conversions and failures of that pid so far (per-minute rates come from their differences). */
  c: number;
  f: number;
}

export interface RestartMark {
  time: string;
  cause: string;
  instance: number | null;
  old_pid: number | null;
  new_pid: number | null;
  rss_mb: number | null;
}

export interface CauseCount {
  cause: string;
  count: number;
  mean_interval_s: number | null;
}

export interface HostStatus {
  generated_at: string;
  app: string;
  /** The span the series cover, seconds. */
  window_s: number;
  /** PM2's max_memory_restart in MB: the line an instance's RSS must stay under. */
  memory_limit_mb: number;
  instances: InstanceStatus[];
  queue: { queued: number; in_flight: number; busy_workers: number; workers: number };
  /** RSS per instance slot: [unix ms, MB, pid] triples, oldest first. */
  rss: Array<{ instance: number | null; points: Array<[number, number, number]> }>;
  /** Conversions and failures per minute, whole host: [unix ms of the minute, conversions, failures]. */
  conversions_per_minute: Array<[number, number, number]>;
  failures_by_code: Record<string, number>;
  restarts: {
    /** False when the restart log does not exist (the restart logger is not running). */
    available: boolean;
    total: number;
    mean_interval_s: number | null;
    first: string | null;
    by_cause: CauseCount[];
    /** Restarts inside the window, oldest first. */
    recent: RestartMark[];
  };
  /** Asynchronous jobs by state, once the server has them; null until then. */
  jobs: Record<string, number> | null;
}
