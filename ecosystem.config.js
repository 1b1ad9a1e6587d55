// PM2 configuration: `npm start` (or `pm2 start ecosystem.config.js` with the project's
// own pm2). Every value comes from the environment, so tests and operators can override
// port, instances, limits and names; see "Running under PM2" in the README.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;

function fail(message) {
  // PM2 prints the error and starts nothing: better than an app that never comes up.
  throw new Error(`ecosystem.config.js: ${message}`);
}

function wholeNumber(name, fallback, min = 0) {
  const raw = (env[name] ?? '').trim();
  if (raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) fail(`${name} must be a whole number >= ${min}, got "${raw}"`);
  return Number(raw);
}

/** PM2 accepts only an integer with K, M or G ("1.5G" or "512MB" would not start the app). */
export function memoryLimit(raw) {
  const value = String(raw ?? '').trim() || '8G';
  if (!/^[1-9]\d*[KMG]$/.test(value)) {
    fail(`DOCMARK_MAX_MEMORY must be a whole number followed by K, M or G (e.g. 1536M, 8G), got "${raw}"`);
  }
  return value;
}

const name = (env.DOCMARK_PM2_NAME ?? '').trim() || 'docmark';
const instances = wholeNumber('DOCMARK_INSTANCES', 2, 1);
const maxMemory = memoryLimit(env.DOCMARK_MAX_MEMORY);
// A 10-hour rhythm by the clock: 00:00, 10:00, 20:00. Empty turns it off.
const cronRestart = (env.DOCMARK_CRON_RESTART ?? '0 */10 * * *').trim();
const cronMode = (env.DOCMARK_CRON_MODE ?? '').trim() || 'app';
if (!['app', 'pm2'].includes(cronMode)) fail(`DOCMARK_CRON_MODE must be app or pm2, got "${cronMode}"`);
const timeoutS = wholeNumber('DOCMARK_TIMEOUT_S', 120, 1);
const drainS = wholeNumber('DOCMARK_DRAIN_TIMEOUT_S', 150, 1);
// PM2 counts an exit sooner than min_uptime after start as "unstable"; the app holds a
// planned exit until it is older than that, so only real crash loops count.
const minUptimeS = 5;
const pm2Home = env.PM2_HOME || path.join(env.HOME || '', '.pm2');
const restartLog = (env.DOCMARK_RESTART_LOG ?? '').trim() || path.join(pm2Home, 'logs', 'docmark-restarts.jsonl');

/** Only DOCMARK_* settings reach the app explicitly (PM2 passes its own environment too). */
const appEnv = {
  ...Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('DOCMARK_'))),
  DOCMARK_MAX_CONVERSIONS: String(wholeNumber('DOCMARK_MAX_CONVERSIONS', 50)),
  DOCMARK_INSTANCES: String(instances),
  DOCMARK_MAX_MEMORY: maxMemory,
  DOCMARK_CRON_RESTART: cronRestart,
  DOCMARK_CRON_MODE: cronMode,
  DOCMARK_MIN_UPTIME_S: String(minUptimeS + 1),
  DOCMARK_PM2_NAME: name,
  DOCMARK_RESTART_LOG: restartLog,
  NODE_ENV: env.NODE_ENV || 'production',
};

export const apps = [
  {
    name,
    script: path.join(ROOT, 'dist/cli/main.js'),
    args: 'serve',
    cwd: ROOT,
    exec_mode: 'cluster',
    instances,
    // Memory restarts are reloads in cluster mode: the new worker is ready first.
    max_memory_restart: maxMemory,
    // 'app' mode: each instance leaves at the scheduled time by itself, one at a time.
    ...(cronRestart && cronMode === 'pm2' ? { cron_restart: cronRestart } : {}),
    wait_ready: true,
    listen_timeout: 30_000,
    // SIGKILL only after the longest conversion and the whole drain (plus margin) had their time.
    kill_timeout: (timeoutS + drainS + 15) * 1000,
    min_uptime: minUptimeS * 1000,
    max_restarts: 10,
    merge_logs: true,
    env: appEnv,
  },
  {
    // The restart logger, also installable as a PM2 module (ops/restart-logger).
    name: `${name}-restart-logger`,
    script: path.join(ROOT, 'ops/restart-logger/index.js'),
    cwd: path.join(ROOT, 'ops/restart-logger'),
    exec_mode: 'fork',
    instances: 1,
    max_memory_restart: '150M',
    env: {
      DOCMARK_RESTART_LOG: restartLog,
      apps: name,
      settle_ms: '3000',
    },
  },
];

export default { apps };
