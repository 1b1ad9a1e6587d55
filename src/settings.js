// Every setting docmark reads from the environment, declared once: its name, its default, how a
// value is parsed and checked, and one line of documentation. Plain ESM with no dependencies, so
// that ecosystem.config.js, ops/start.mjs and the restart logger import it as they are, and the
// compiled server (dist/settings.js) reads exactly the same rules. The README's configuration
// table is generated from this list (`npm run docs:settings`) and a test keeps the two equal.
import os from 'node:os';
import path from 'node:path';

export class SettingError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'SettingError';
  }
}

/**
 * @template T
 * @typedef {(raw: string, name: string) => T} Parse
 */

/**
 * @typedef {object} Setting
 * @property {string} name
 * @property {string} default  the default as the docs show it
 * @property {Parse<unknown>} parse
 * @property {string} doc  one line for the README table
 * @property {(env: Record<string, string | undefined>) => unknown} [fallback]  a default computed from the machine or other settings
 * @property {boolean} [emptyIsValue]  an empty string is a value of its own (e.g. "no schedule"), not "unset"
 */

/**
 * @param {number} min
 * @param {number} [max]
 * @returns {Parse<number>}
 */
export const wholeNumber =
  (min, max = Number.MAX_SAFE_INTEGER) =>
  (raw, name) => {
    const text = raw.trim();
    // A digit limit first: a number is never built from an unbounded string.
    if (!/^\d{1,15}$/.test(text)) throw new SettingError(`${name} must be a whole number, got "${raw}"`);
    const n = Number(text);
    if (n < min || n > max) throw new SettingError(`${name} must be between ${min} and ${max}, got ${n}`);
    return n;
  };

/**
 * A decimal number (e.g. hours: `0.01` is 36 s, for tests and short-lived stores).
 * @param {number} min
 * @param {number} max
 * @returns {Parse<number>}
 */
export const decimal = (min, max) => (raw, name) => {
  const text = raw.trim();
  if (!/^\d{1,9}(\.\d{1,9})?$/.test(text)) throw new SettingError(`${name} must be a number, got "${raw}"`);
  const n = Number(text);
  if (n < min || n > max) throw new SettingError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
};

/** PM2's max_memory_restart accepts only an integer with K, M or G ("1.5G" or "512MB" would not start the app). */
/** @type {Parse<string>} */
export const memorySize = (raw, name) => {
  const v = raw.trim();
  if (!/^[1-9]\d{0,9}[KMG]$/.test(v)) {
    throw new SettingError(`${name} must be a whole number followed by K, M or G (e.g. 1536M, 8G), got "${raw}"`);
  }
  return v;
};

/**
 * @template {string} T
 * @param {readonly T[]} values
 * @returns {Parse<T>}
 */
export const oneOf = (values) => (raw, name) => {
  const v = /** @type {T} */ (raw.trim());
  if (!values.includes(v)) throw new SettingError(`${name} must be one of ${values.join(', ')}, got "${raw}"`);
  return v;
};

/** @type {Parse<string>} */
export const text = (raw) => raw.trim();

/** @type {Parse<string>} */
const secret = (raw) => raw;

/**
 * A Redis URL as ioredis reads it; only redis: and rediss: so that a typo is an error at start,
 * not a connection to somewhere else. It may carry a password: error messages never echo it.
 * @type {Parse<string>}
 */
const redisUrl = (raw, name) => {
  const v = raw.trim();
  let url;
  try {
    url = v.length <= 2048 ? new URL(v) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || !url.hostname) {
    throw new SettingError(`${name} must be a URL like redis://host:6379 (or rediss:// for TLS)`);
  }
  return v;
};

/** @type {Parse<boolean>} */
export const flag = (raw, name) => {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new SettingError(`${name} must be true or false, got "${raw}"`);
};

/** @param {Record<string, string | undefined>} env */
export function cores(env = process.env) {
  void env;
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}

/**
 * Server instances sharing this machine: DOCMARK_INSTANCES under PM2 (which sets pm_id), else one.
 * @param {Record<string, string | undefined>} env
 * @returns {number}
 */
export function instancesHere(env = process.env) {
  return env.pm_id !== undefined ? setting('DOCMARK_INSTANCES', env) : 1;
}

/**
 * Default workers per instance: the cores shared among the instances, at least one each.
 * @param {Record<string, string | undefined>} env
 */
export function defaultWorkers(env = process.env) {
  return Math.max(1, Math.floor(cores(env) / instancesHere(env)));
}

/**
 * Default OCR threads per worker: what is left of the cores once every worker of every instance
 * has one, so instances × workers × threads never exceeds the cores unless set so.
 * @param {Record<string, string | undefined>} env
 */
export function defaultOcrThreads(env = process.env) {
  return Math.max(1, Math.floor(cores(env) / (instancesHere(env) * setting('DOCMARK_WORKERS', env))));
}

/** The host guard's admission mark: enough headroom for a few conversions' native memory on a small host, a sliver of a big one. */
const MIN_FREE_FRACTION = 0.05;
const MIN_FREE_FLOOR_MB = 256;

/** @param {Record<string, string | undefined>} env */
export function defaultMinFreeMb(env = process.env) {
  void env;
  return Math.max(MIN_FREE_FLOOR_MB, Math.round((os.totalmem() / 1024 / 1024) * MIN_FREE_FRACTION));
}

/** PM2's home folder: PM2_HOME, else ~/.pm2 (as PM2 itself decides). Batons and the restart log live there. */
export function pm2Home(env = process.env) {
  return env.PM2_HOME || path.join(env.HOME || os.homedir(), '.pm2');
}

/** @param {Record<string, string | undefined>} env */
export function defaultRestartLog(env = process.env) {
  return path.join(pm2Home(env), 'logs', 'docmark-restarts.jsonl');
}

/**
 * Where asynchronous jobs are kept: XDG's data folder, as other tools of the user's keep theirs.
 * @param {Record<string, string | undefined>} env
 */
export function defaultDataDir(env = process.env) {
  const base = env.XDG_DATA_HOME || path.join(env.HOME || os.homedir(), '.local', 'share');
  return path.join(base, 'docmark');
}

/** The largest page limit accepted: option parsers bound page numbers by it even without a Config. */
export const MAX_PAGES_CEILING = 100_000;

/** @type {Setting[]} */
export const SETTINGS = [
  { name: 'DOCMARK_HOST', default: '127.0.0.1', parse: text, doc: 'Address the server binds to. Use `0.0.0.0` to serve other machines.' },
  { name: 'DOCMARK_PORT', default: '8002', parse: wholeNumber(0, 65535), doc: 'TCP port (0 picks a free one and prints it).' },
  {
    name: 'DOCMARK_MAX_UPLOAD_MB',
    default: '100',
    parse: wholeNumber(1, 4096),
    doc: 'Largest accepted upload; bigger bodies get 413 and are not read further.',
  },
  {
    name: 'DOCMARK_MAX_CONVERSIONS',
    default: '50',
    parse: wholeNumber(0),
    doc: 'Under PM2, an instance drains and exits (PM2 starts a fresh one) after this many conversions, staggered per instance; 0 = never. `docmark serve` outside PM2 only does so when the variable is set.',
  },
  {
    name: 'DOCMARK_DRAIN_TIMEOUT_S',
    default: '150',
    parse: wholeNumber(1, 86_400),
    doc: 'On shutdown, how long to wait for in-flight conversions before leaving anyway.',
  },
  {
    name: 'DOCMARK_TIMEOUT_S',
    default: '120',
    parse: wholeNumber(1, 86_400),
    doc: 'Per-conversion time limit (plus `DOCMARK_OCR_PAGE_S` per OCR page); a conversion over it is cancelled and the client gets 504.',
  },
  {
    name: 'DOCMARK_WORKERS',
    default: 'cores ÷ instances',
    parse: wholeNumber(1, 64),
    fallback: defaultWorkers,
    doc: 'Worker threads that run conversions in each instance (at least 1); instances are `DOCMARK_INSTANCES` under PM2, else 1.',
  },
  {
    name: 'DOCMARK_WORKER_MAX_TASKS',
    default: '100',
    parse: wholeNumber(1),
    doc: 'A worker thread is replaced after this many conversions (returns native memory to the OS).',
  },
  {
    name: 'DOCMARK_WORKER_HEAP_MB',
    default: '1024',
    parse: wholeNumber(64, 65_536),
    doc: 'V8 heap limit of each worker thread; a PDF that exhausts it ends only its worker.',
  },
  {
    name: 'DOCMARK_MAX_PAGES',
    default: '2000',
    parse: wholeNumber(1, MAX_PAGES_CEILING),
    doc: 'Documents with more pages are refused with 422 `too_many_pages`.',
  },
  {
    name: 'DOCMARK_MAX_INFLATE_MB',
    default: '512',
    parse: wholeNumber(16, 4096),
    doc: 'Most a PDF may decompress to open it, and then per page (outside the V8 heap too); over it, 422 `decompression_limit` for that page or the document.',
  },
  {
    name: 'DOCMARK_OCR_THREADS',
    default: 'cores ÷ (instances × workers)',
    parse: wholeNumber(1, 64),
    fallback: defaultOcrThreads,
    doc: 'Threads per OCR inference (onnxruntime `intraOpNumThreads`) in each worker (at least 1, never more than the cores).',
  },
  {
    name: 'DOCMARK_OCR_PAGE_S',
    default: '60',
    parse: wholeNumber(0, 3600),
    doc: "Added to a conversion's time limit for every page it reads with OCR, so a long scan is not taken for a stuck conversion.",
  },
  {
    name: 'DOCMARK_MAX_QUEUE',
    default: '8',
    parse: wholeNumber(0, 10_000),
    doc: 'Conversions waiting for a worker; when every worker and queue place is taken, 503 with `Retry-After`, the upload unread.',
  },
  {
    name: 'DOCMARK_API_KEY',
    default: '(unset)',
    parse: secret,
    fallback: () => undefined,
    doc: 'When set, `POST /convert` needs `Authorization: Bearer <key>`; `/health` stays open.',
  },
  {
    name: 'DOCMARK_HOST_SAMPLE_S',
    default: '10',
    parse: wholeNumber(1, 3600),
    doc: 'How often host figures (systeminformation) are sampled in the background for `/health`.',
  },
  {
    name: 'DOCMARK_MIN_FREE_MB',
    default: '5% of memory (≥ 256)',
    parse: wholeNumber(0, 16_777_216),
    fallback: defaultMinFreeMb,
    doc: 'Below this much available host memory an instance refuses new conversions (503 `low_memory`, upload unread) and `/health` says why; 0 = off. See docs/operations.md.',
  },
  {
    name: 'DOCMARK_CRITICAL_FREE_MB',
    default: 'half of DOCMARK_MIN_FREE_MB',
    parse: wholeNumber(0, 16_777_216),
    fallback: (env) => Math.floor(setting('DOCMARK_MIN_FREE_MB', env) / 2),
    doc: 'Below this much available host memory an instance ends its biggest running conversion (503 `low_memory` to its client) before the kernel OOM killer picks a process; 0 = off.',
  },
  { name: 'DOCMARK_INSTANCES', default: '2', parse: wholeNumber(1, 64), doc: 'PM2 cluster instances (`ecosystem.config.js`).' },
  {
    name: 'DOCMARK_MAX_MEMORY',
    default: '8G',
    parse: memorySize,
    doc: 'PM2 `max_memory_restart`: an instance whose RSS exceeds it is replaced (new one first). Integer + `K`/`M`/`G`; `1.5G` is refused, write `1536M`.',
  },
  {
    name: 'DOCMARK_MEMORY_GRACE_S',
    default: '10',
    parse: wholeNumber(0, 3600),
    doc: "An instance whose own RSS passes `DOCMARK_MAX_MEMORY` refuses new work at once (503 `restarting`), lets running conversions finish for this long, then ends them (503 `restarting`) and exits (PM2 starts a fresh one). Keep it well under PM2's 30 s memory check.",
  },
  {
    name: 'DOCMARK_MEMORY_STRIKES',
    default: '3',
    parse: wholeNumber(0, 20),
    doc: 'A document converting when an instance passed `DOCMARK_MAX_MEMORY` this many times in 24 h is refused (422 `memory_limit_document`, not retried); 0 = off. The record is `memory-strikes.jsonl` in `DOCMARK_DATA_DIR`. See docs/operations.md.',
  },
  {
    name: 'DOCMARK_CRON_RESTART',
    default: '0 */10 * * *',
    parse: text,
    emptyIsValue: true,
    doc: 'Scheduled restart (cron, 5 or 6 fields); empty = none. See docs/operations.md.',
  },
  {
    name: 'DOCMARK_CRON_MODE',
    default: 'app',
    parse: oneOf(/** @type {const} */ (['app', 'pm2'])),
    doc: "`app`: instances leave at the scheduled time one at a time (no failed request); `pm2`: PM2's own `cron_restart` (all instances at once).",
  },
  {
    name: 'DOCMARK_MIN_UPTIME_S',
    default: '6',
    parse: wholeNumber(0, 3600),
    doc: "A planned exit waits until the process is this old; PM2's `min_uptime` is set 1 s below it, so such exits never count as unstable.",
  },
  {
    name: 'DOCMARK_PM2_NAME',
    default: 'docmark',
    parse: text,
    doc: 'PM2 app name (`ecosystem.config.js`); the restart logger is `<name>-restart-logger`.',
  },
  {
    name: 'DOCMARK_RESTART_LOG',
    default: '$PM2_HOME/logs/docmark-restarts.jsonl',
    parse: text,
    fallback: defaultRestartLog,
    doc: 'Restart log written by the restart logger, read by `docmark restarts`.',
  },
  {
    name: 'DOCMARK_DATA_DIR',
    default: '$XDG_DATA_HOME/docmark',
    parse: text,
    fallback: defaultDataDir,
    doc: 'Folder of the job store (`POST /jobs`), shared by the instances of a host (default `~/.local/share/docmark`).',
  },
  {
    name: 'DOCMARK_JOB_TTL_H',
    default: '24',
    parse: decimal(0.0001, 8760),
    doc: 'Hours a finished job keeps its result (decimals allowed); then `GET /jobs/:id/result` answers 410 for as long again.',
  },
  {
    name: 'DOCMARK_DATA_MAX_GB',
    default: '10',
    parse: decimal(0.0001, 1_000_000),
    doc: 'Largest size of the job store in GB (uploads and results; decimals allowed); when full, new jobs get 507 `store_full`.',
  },
  {
    name: 'DOCMARK_WEBHOOK_ALLOW',
    default: '(empty: off)',
    parse: text,
    fallback: () => '',
    doc: "Hosts a job's `webhook_url` may call: comma-separated `host`, `host:port`, `*.domain`, or `*`; empty refuses every webhook.",
  },
  {
    name: 'DOCMARK_WEBHOOK_SECRET',
    default: '(unset)',
    parse: secret,
    fallback: () => undefined,
    doc: "Key of the webhooks' `X-Docmark-Signature` (HMAC-SHA256); unset sends them unsigned.",
  },
  {
    name: 'DOCMARK_REDIS_URL',
    default: '(unset: the embedded store)',
    parse: redisUrl,
    fallback: () => undefined,
    doc: 'Keep jobs in Redis through BullMQ (`redis://[user:password@]host:port[/db]`, or `rediss://` for TLS), shared by every host; unset keeps them in `DOCMARK_DATA_DIR`.',
  },
  {
    name: 'DOCMARK_REDIS_INLINE_MB',
    default: '1',
    parse: decimal(0, 64),
    doc: 'With Redis: uploads and results up to this size live in Redis, larger ones under `DOCMARK_DATA_DIR` (a volume every host mounts); 0 puts them all there.',
  },
  {
    name: 'DOCMARK_REDIS_LEASE_S',
    default: '30',
    parse: wholeNumber(10, 600),
    doc: 'With Redis: a running job whose host stops renewing it (crashed, killed, cut off) goes back to the queue after this many seconds.',
  },
  {
    name: 'DOCMARK_SPLIT_PAGES',
    default: '32',
    parse: wholeNumber(2, 100_000),
    doc: 'A conversion (or job) with more pages than this is shared with the workers idle at its start: each reads a part of the pages.',
  },
  {
    name: 'DOCMARK_RESTART_LOG_MAX_MB',
    default: '10',
    parse: wholeNumber(1, 1024),
    doc: 'The restart log is rotated when it would grow past this size (`<log>.1`, `.2`, …).',
  },
  {
    name: 'DOCMARK_RESTART_LOG_KEEP',
    default: '5',
    parse: wholeNumber(0, 100),
    doc: 'Rotated restart logs kept besides the current one; older ones are deleted. `docmark restarts` reads them all.',
  },
  {
    name: 'DOCMARK_TEST_CRASH_HOOK',
    default: '(unset)',
    parse: flag,
    fallback: () => false,
    doc: 'Tests only: `1` makes SIGUSR2 throw an uncaught error (a real crash) and SIGWINCH hold enough resident memory to pass `DOCMARK_MAX_MEMORY`.',
  },
];

/** @type {Map<string, Setting>} */
const BY_NAME = new Map(SETTINGS.map((s) => [s.name, s]));

/**
 * The value of one setting: parsed from the environment, or its default.
 * @param {string} name
 * @param {Record<string, string | undefined>} [env]
 * @returns {any}
 */
export function setting(name, env = process.env) {
  const spec = BY_NAME.get(name);
  if (!spec) throw new SettingError(`unknown setting ${name}`);
  const raw = env[name];
  if (raw !== undefined && (raw.trim() !== '' || spec.emptyIsValue)) return spec.parse(raw, name);
  return spec.fallback ? spec.fallback(env) : spec.parse(spec.default, name);
}

/**
 * Whether the environment sets a value (an empty string counts only where it means something).
 * @param {string} name
 * @param {Record<string, string | undefined>} [env]
 */
export function isSet(name, env = process.env) {
  const raw = env[name];
  const spec = BY_NAME.get(name);
  return raw !== undefined && (raw.trim() !== '' || Boolean(spec?.emptyIsValue));
}

/**
 * Every setting, parsed. Throws a SettingError naming the first bad variable.
 * @param {Record<string, string | undefined>} [env]
 * @returns {Record<string, any>}
 */
export function readSettings(env = process.env) {
  return Object.fromEntries(SETTINGS.map((s) => [s.name, setting(s.name, env)]));
}

/** The README's configuration table, made from the list above. */
export function settingsTable() {
  const rows = SETTINGS.map((s) => `| \`${s.name}\` | \`${s.default}\` | ${s.doc} |`);
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
