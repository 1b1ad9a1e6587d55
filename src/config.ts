import { parseAllowList } from './jobs/webhook.js';
import { SettingError, instancesHere, isSet, readSettings, SETTINGS } from './settings.js';

/**
 * The server's configuration, built from the settings schema (src/settings.js), which is the
 * one place a setting's name, default and parser are declared. Everything below the entry
 * points receives a Config instead of reading the environment.
 */
export { SETTINGS, SettingError as ConfigError };

export interface Config {
  host: string;
  port: number;
  maxUploadBytes: number;
  /** Self-exit after this many conversions (0 = never); PM2 starts a fresh process. */
  maxConversions: number;
  /** Longest a graceful shutdown waits for in-flight conversions. */
  drainTimeoutMs: number;
  /** Per-conversion time limit. */
  timeoutMs: number;
  /** Added to the time limit for each page read with OCR. */
  ocrPageMs: number;
  /** Server instances on this machine (PM2 cluster instances, or 1). */
  instances: number;
  workers: number;
  workerMaxTasks: number;
  workerHeapMb: number;
  maxPages: number;
  /** Most a PDF may decompress to open it, and then per page. */
  maxInflateBytes: number;
  maxQueue: number;
  /** Threads per OCR inference in each worker. */
  ocrThreads: number;
  /** A conversion of more pages than this is shared with idle workers. */
  splitPages: number;
  apiKey: string | undefined;
  hostSampleMs: number;
  /** Host guard: below this available memory, refuse new work (0 = off). */
  minFreeBytes: number;
  /** Host guard: below this available memory, end the biggest running conversion (0 = off). */
  criticalFreeBytes: number;
  /** The instance's own memory limit in bytes (DOCMARK_MAX_MEMORY, PM2's max_memory_restart); 0 = off. */
  memoryLimitBytes: number;
  /** Over the memory limit, running conversions may finish for this long before they are ended. */
  memoryGraceMs: number;
  /** A document converting during this many memory-limit exits is refused (0 = off). */
  memoryStrikes: number;
  /** Tests only: SIGUSR2 throws an uncaught error, SIGWINCH holds memory past the limit. */
  testCrashHook: boolean;
  /** PM2 settings (read by ecosystem.config.js; shown by /health, used for planned exits). */
  pm2: Pm2Config;
  jobs: JobsConfig;
}

export interface JobsConfig {
  /** The job store's folder, shared by the instances of a host. */
  dataDir: string;
  /** A finished job keeps its result this long. */
  ttlMs: number;
  /** Most the store may hold (uploads and results). */
  maxBytes: number;
  /** Hosts webhooks may call (empty: webhooks are off). */
  webhookAllow: string[];
  webhookSecret: string | undefined;
  /** The shared store on Redis (several hosts); undefined keeps the embedded store. */
  redis: RedisConfig | undefined;
}

export interface RedisConfig {
  url: string;
  /** Uploads and results up to this size live in Redis; larger ones under dataDir (a shared volume). */
  inlineBytes: number;
  /** A running job not renewed for this long goes back to the queue (its host vanished). */
  leaseMs: number;
}

export interface Pm2Config {
  name: string;
  instances: number;
  /** PM2's max_memory_restart value, e.g. `8G`. */
  maxMemory: string;
  /** Cron pattern of the scheduled restart; '' = none. */
  cronRestart: string;
  /** `app`: each instance leaves at the scheduled time, one at a time; `pm2`: PM2's cron_restart. */
  cronMode: 'app' | 'pm2';
  /** A planned exit waits until the process is this old, so PM2 never counts it unstable. */
  minUptimeMs: number;
  restartLog: string;
}

export interface LoadOptions {
  /**
   * Running under a supervisor that restarts the process (PM2). Without one, the conversion
   * limit applies only when DOCMARK_MAX_CONVERSIONS is set: a hand-run server that exits by
   * itself after 50 conversions would just stop.
   */
  supervised?: boolean;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, { supervised = env.pm_id !== undefined }: LoadOptions = {}): Config {
  const s = readSettings(env);
  return {
    host: s.DOCMARK_HOST,
    port: s.DOCMARK_PORT,
    maxUploadBytes: s.DOCMARK_MAX_UPLOAD_MB * 1024 * 1024,
    maxConversions: supervised || isSet('DOCMARK_MAX_CONVERSIONS', env) ? s.DOCMARK_MAX_CONVERSIONS : 0,
    drainTimeoutMs: s.DOCMARK_DRAIN_TIMEOUT_S * 1000,
    timeoutMs: s.DOCMARK_TIMEOUT_S * 1000,
    ocrPageMs: s.DOCMARK_OCR_PAGE_S * 1000,
    instances: instancesHere(env),
    workers: s.DOCMARK_WORKERS,
    workerMaxTasks: s.DOCMARK_WORKER_MAX_TASKS,
    workerHeapMb: s.DOCMARK_WORKER_HEAP_MB,
    maxPages: s.DOCMARK_MAX_PAGES,
    maxInflateBytes: s.DOCMARK_MAX_INFLATE_MB * 1024 * 1024,
    maxQueue: s.DOCMARK_MAX_QUEUE,
    ocrThreads: s.DOCMARK_OCR_THREADS,
    splitPages: s.DOCMARK_SPLIT_PAGES,
    apiKey: s.DOCMARK_API_KEY,
    hostSampleMs: s.DOCMARK_HOST_SAMPLE_S * 1000,
    minFreeBytes: s.DOCMARK_MIN_FREE_MB * 1024 * 1024,
    criticalFreeBytes: s.DOCMARK_CRITICAL_FREE_MB * 1024 * 1024,
    // Like the conversion limit: a hand-run server that leaves by itself would just stop.
    memoryLimitBytes: supervised || isSet('DOCMARK_MAX_MEMORY', env) ? memoryBytes(s.DOCMARK_MAX_MEMORY) : 0,
    memoryGraceMs: s.DOCMARK_MEMORY_GRACE_S * 1000,
    memoryStrikes: s.DOCMARK_MEMORY_STRIKES,
    testCrashHook: s.DOCMARK_TEST_CRASH_HOOK,
    pm2: {
      name: s.DOCMARK_PM2_NAME,
      instances: s.DOCMARK_INSTANCES,
      maxMemory: s.DOCMARK_MAX_MEMORY,
      cronRestart: s.DOCMARK_CRON_RESTART,
      cronMode: s.DOCMARK_CRON_MODE,
      minUptimeMs: s.DOCMARK_MIN_UPTIME_S * 1000,
      restartLog: s.DOCMARK_RESTART_LOG,
    },
    jobs: {
      dataDir: s.DOCMARK_DATA_DIR,
      ttlMs: Math.round(s.DOCMARK_JOB_TTL_H * 3_600_000),
      maxBytes: Math.round(s.DOCMARK_DATA_MAX_GB * 1024 ** 3),
      webhookAllow: parseAllowList(s.DOCMARK_WEBHOOK_ALLOW),
      webhookSecret: s.DOCMARK_WEBHOOK_SECRET,
      redis: s.DOCMARK_REDIS_URL
        ? { url: s.DOCMARK_REDIS_URL, inlineBytes: Math.round(s.DOCMARK_REDIS_INLINE_MB * 1024 * 1024), leaseMs: s.DOCMARK_REDIS_LEASE_S * 1000 }
        : undefined,
    },
  };
}

/** `900M`, `8G` in bytes, as PM2 reads max_memory_restart (powers of 1024). */
export function memoryBytes(size: string): number {
  const unit = { K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[size.slice(-1) as 'K' | 'M' | 'G'];
  return Number(size.slice(0, -1)) * unit;
}
