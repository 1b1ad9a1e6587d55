import os from 'node:os';
import path from 'node:path';

/**
 * Configuration comes from the environment only (PM2 and containers set it there).
 * Each setting is declared once here with its default and meaning; the README table
 * mirrors this list and a test keeps the two in step.
 */
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
  workers: number;
  workerMaxTasks: number;
  workerHeapMb: number;
  maxPages: number;
  maxQueue: number;
  apiKey: string | undefined;
  hostSampleMs: number;
  /** PM2 settings (read by ecosystem.config.js; shown by /health, used for planned exits). */
  pm2: Pm2Config;
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

type Parse<T> = (raw: string, name: string) => T;

export interface SettingSpec {
  name: string;
  default: string;
  description: string;
}

export const SETTINGS: SettingSpec[] = [
  { name: 'DOCMARK_HOST', default: '127.0.0.1', description: 'Address the server binds to. Use `0.0.0.0` to serve other machines.' },
  { name: 'DOCMARK_PORT', default: '8002', description: 'TCP port (0 picks a free one and prints it).' },
  { name: 'DOCMARK_MAX_UPLOAD_MB', default: '100', description: 'Largest accepted upload; bigger bodies get 413 and are not read further.' },
  { name: 'DOCMARK_MAX_CONVERSIONS', default: '0', description: 'Self-exit (code 0, after draining) after this many conversions; 0 = never. `ecosystem.config.js` sets 50 (staggered per instance).' },
  { name: 'DOCMARK_DRAIN_TIMEOUT_S', default: '150', description: 'On shutdown, how long to wait for in-flight conversions before leaving anyway.' },
  { name: 'DOCMARK_TIMEOUT_S', default: '120', description: 'Per-conversion time limit; a conversion over it is ended and the client gets 504.' },
  { name: 'DOCMARK_WORKERS', default: 'CPU cores', description: 'Worker threads that run conversions.' },
  { name: 'DOCMARK_WORKER_MAX_TASKS', default: '100', description: 'A worker thread is replaced after this many conversions (returns native memory to the OS).' },
  { name: 'DOCMARK_WORKER_HEAP_MB', default: '1024', description: 'V8 heap limit of each worker thread; a PDF that exhausts it ends only its worker.' },
  { name: 'DOCMARK_MAX_PAGES', default: '2000', description: 'Documents with more pages are refused with 422 `too_many_pages`.' },
  { name: 'DOCMARK_OCR_THREADS', default: '2', description: 'Threads per OCR inference (onnxruntime `intraOpNumThreads`) in each process or worker; with several workers, use cores ÷ workers.' },
  { name: 'DOCMARK_MAX_QUEUE', default: '32', description: 'Conversions waiting for a worker; when full, 503 with `Retry-After`.' },
  { name: 'DOCMARK_API_KEY', default: '(unset)', description: 'When set, `POST /convert` needs `Authorization: Bearer <key>`; `/health` stays open.' },
  { name: 'DOCMARK_HOST_SAMPLE_S', default: '10', description: 'How often host figures (systeminformation) are sampled in the background for `/health`.' },
  { name: 'DOCMARK_INSTANCES', default: '2', description: 'PM2 cluster instances (`ecosystem.config.js`).' },
  { name: 'DOCMARK_MAX_MEMORY', default: '8G', description: 'PM2 `max_memory_restart`: an instance whose RSS exceeds it is replaced (new one first). Integer + `K`/`M`/`G`; `1.5G` is refused, write `1536M`.' },
  { name: 'DOCMARK_CRON_RESTART', default: '0 */10 * * *', description: 'Scheduled restart (cron, 5 or 6 fields); empty = none. See "Running under PM2".' },
  { name: 'DOCMARK_CRON_MODE', default: 'app', description: '`app`: instances leave at the scheduled time one at a time (no failed request); `pm2`: PM2\'s own `cron_restart` (all instances at once).' },
  { name: 'DOCMARK_MIN_UPTIME_S', default: '0', description: 'A planned exit waits until the process is this old; `ecosystem.config.js` sets PM2\'s `min_uptime` + 1 s so such exits never count as unstable.' },
  { name: 'DOCMARK_PM2_NAME', default: 'docmark', description: 'PM2 app name (`ecosystem.config.js`); the restart logger is `<name>-restart-logger`.' },
  { name: 'DOCMARK_RESTART_LOG', default: '$PM2_HOME/logs/docmark-restarts.jsonl', description: 'Restart log written by the restart logger, read by `docmark restarts`.' },
  { name: 'DOCMARK_TEST_CRASH_HOOK', default: '(unset)', description: 'Tests only: `1` makes SIGUSR2 throw an uncaught error (a real crash).' },
];

const int = (min: number, max = Number.MAX_SAFE_INTEGER): Parse<number> => (raw, name) => {
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
};

/** PM2's max_memory_restart accepts only an integer with K, M or G. */
const memorySize: Parse<string> = (raw, name) => {
  const v = raw.trim();
  if (!/^[1-9]\d*[KMG]$/.test(v)) throw new ConfigError(`${name} must be a whole number followed by K, M or G (e.g. 900M, 8G), got "${raw}"`);
  return v;
};

const oneOf = <T extends string>(values: readonly T[]): Parse<T> => (raw, name) => {
  const v = raw.trim() as T;
  if (!values.includes(v)) throw new ConfigError(`${name} must be one of ${values.join(', ')}, got "${raw}"`);
  return v;
};

export function defaultRestartLog(env: NodeJS.ProcessEnv = process.env): string {
  const pm2Home = env.PM2_HOME || path.join(os.homedir(), '.pm2');
  return path.join(pm2Home, 'logs', 'docmark-restarts.jsonl');
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function read<T>(env: NodeJS.ProcessEnv, name: string, fallback: T, parse: Parse<T>): T {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  return parse(raw, name);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const cores = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  return {
    host: read(env, 'DOCMARK_HOST', '127.0.0.1', (s) => s.trim()),
    port: read(env, 'DOCMARK_PORT', 8002, int(0, 65535)),
    maxUploadBytes: read(env, 'DOCMARK_MAX_UPLOAD_MB', 100, int(1, 4096)) * 1024 * 1024,
    maxConversions: read(env, 'DOCMARK_MAX_CONVERSIONS', 0, int(0)),
    drainTimeoutMs: read(env, 'DOCMARK_DRAIN_TIMEOUT_S', 150, int(1)) * 1000,
    timeoutMs: read(env, 'DOCMARK_TIMEOUT_S', 120, int(1)) * 1000,
    workers: read(env, 'DOCMARK_WORKERS', cores, int(1, 64)),
    workerMaxTasks: read(env, 'DOCMARK_WORKER_MAX_TASKS', 100, int(1)),
    workerHeapMb: read(env, 'DOCMARK_WORKER_HEAP_MB', 1024, int(64)),
    maxPages: read(env, 'DOCMARK_MAX_PAGES', 2000, int(1)),
    maxQueue: read(env, 'DOCMARK_MAX_QUEUE', 32, int(0)),
    apiKey: read<string | undefined>(env, 'DOCMARK_API_KEY', undefined, (s) => s),
    hostSampleMs: read(env, 'DOCMARK_HOST_SAMPLE_S', 10, int(1)) * 1000,
    pm2: {
      name: read(env, 'DOCMARK_PM2_NAME', 'docmark', (s) => s.trim()),
      instances: read(env, 'DOCMARK_INSTANCES', 2, int(1, 64)),
      maxMemory: read(env, 'DOCMARK_MAX_MEMORY', '8G', memorySize),
      // Empty means "no scheduled restart", so it is read raw.
      cronRestart: (env.DOCMARK_CRON_RESTART ?? '0 */10 * * *').trim(),
      cronMode: read(env, 'DOCMARK_CRON_MODE', 'app', oneOf(['app', 'pm2'] as const)),
      minUptimeMs: read(env, 'DOCMARK_MIN_UPTIME_S', 0, int(0, 3600)) * 1000,
      restartLog: read(env, 'DOCMARK_RESTART_LOG', defaultRestartLog(env), (s) => s.trim()),
    },
  };
}
