// PM2 configuration: `npm start` (or `pm2 start ecosystem.config.js` with the project's own
// pm2). Every value comes from the environment through the settings schema (src/settings.js),
// the same rules the server reads, so the two can never disagree on a default. See
// docs/operations.md.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SettingError, readSettings } from './src/settings.js';

const ROOT = path.dirname(fileURLToPath(import.meta.url));

let s;
try {
  s = readSettings(process.env);
} catch (err) {
  // PM2 prints the error and starts nothing: better than an app that never comes up.
  if (err instanceof SettingError) throw new Error(`ecosystem.config.js: ${err.message}`);
  throw err;
}

const name = s.DOCMARK_PM2_NAME;
/** The longest one OCR stage (an onnxruntime call) takes on a loaded machine. */
const NATIVE_STAGE_MAX_S = 30;
// PM2 counts an exit sooner than min_uptime after start as "unstable"; the app holds a planned
// exit until it is older than DOCMARK_MIN_UPTIME_S, one second more, so only crash loops count.
const minUptimeS = Math.max(1, s.DOCMARK_MIN_UPTIME_S - 1);

/** The app gets every DOCMARK_* setting explicitly, resolved (PM2 passes its own environment too). */
const appEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('DOCMARK_'))),
  DOCMARK_MAX_CONVERSIONS: String(s.DOCMARK_MAX_CONVERSIONS),
  DOCMARK_INSTANCES: String(s.DOCMARK_INSTANCES),
  DOCMARK_MAX_MEMORY: s.DOCMARK_MAX_MEMORY,
  DOCMARK_CRON_RESTART: s.DOCMARK_CRON_RESTART,
  DOCMARK_CRON_MODE: s.DOCMARK_CRON_MODE,
  DOCMARK_MIN_UPTIME_S: String(minUptimeS + 1),
  DOCMARK_PM2_NAME: name,
  DOCMARK_RESTART_LOG: s.DOCMARK_RESTART_LOG,
  NODE_ENV: process.env.NODE_ENV || 'production',
};

export const apps = [
  {
    name,
    script: path.join(ROOT, 'dist/cli/main.js'),
    args: 'serve',
    cwd: ROOT,
    exec_mode: 'cluster',
    instances: s.DOCMARK_INSTANCES,
    // Memory restarts are reloads in cluster mode: the new worker is ready first.
    max_memory_restart: s.DOCMARK_MAX_MEMORY,
    // 'app' mode: each instance leaves at the scheduled time by itself, one at a time.
    ...(s.DOCMARK_CRON_RESTART && s.DOCMARK_CRON_MODE === 'pm2' ? { cron_restart: s.DOCMARK_CRON_RESTART } : {}),
    wait_ready: true,
    listen_timeout: 30_000,
    // SIGKILL only after the whole drain, a conversion's time limit and the wait for cancelled
    // conversions to leave native code (an OCR stage; the thread is never ended inside one) had
    // their time, plus margin. Conversions still running when the drain times out are cancelled.
    kill_timeout: (s.DOCMARK_DRAIN_TIMEOUT_S + s.DOCMARK_TIMEOUT_S + NATIVE_STAGE_MAX_S + 15) * 1000,
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
      DOCMARK_RESTART_LOG: s.DOCMARK_RESTART_LOG,
      DOCMARK_RESTART_LOG_MAX_MB: String(s.DOCMARK_RESTART_LOG_MAX_MB),
      DOCMARK_RESTART_LOG_KEEP: String(s.DOCMARK_RESTART_LOG_KEEP),
      apps: name,
      settle_ms: '3000',
    },
  },
];

export default { apps };
