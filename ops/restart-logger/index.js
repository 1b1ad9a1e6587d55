'use strict';
/*
 * restart-logger: a PM2 module (or a plain app in ecosystem.config.js) that listens on
 * the PM2 bus and writes ONE JSON line per app restart, with its cause, to a file and
 * to stdout (so `pm2 logs restart-logger` shows it too). The file is rotated by size.
 *
 * Settings (module: `pm2 set restart-logger:<key> <value>`; app: the same keys as env). The
 * DOCMARK_* variables of the project's settings schema (src/settings.js) win over both:
 *   log_file   where to append (DOCMARK_RESTART_LOG)
 *   max_mb     rotate when the file would grow past this many MB (DOCMARK_RESTART_LOG_MAX_MB)
 *   keep       rotated files kept besides the current one (DOCMARK_RESTART_LOG_KEEP)
 *   apps       comma-separated app names to watch, or * for all (default docmark)
 *   settle_ms  how long to wait for PM2's `manually` event before naming a
 *              PM2-initiated stop (default 3000)
 */
const fs = require('node:fs');
const path = require('node:path');
const { createRequire } = require('node:module');
const { pathToFileURL } = require('node:url');
const { createTracker } = require('./classify.js');
const { createRotatingLog } = require('./rotate.js');

const NAME = 'restart-logger';

function loadPm2() {
  // Our own node_modules or the project's (a file:// install is a symlink into ops/);
  // then the copy of PM2 that is running us (ProcessContainer lives in pm2/lib).
  const bases = [__filename, require.main?.filename, path.join(process.cwd(), 'index.js')];
  for (const base of bases) {
    if (!base) continue;
    try {
      return createRequire(base)('pm2');
    } catch {
      // try the next place
    }
  }
  throw new Error('restart-logger: cannot find the pm2 package (install it next to this module or the project)');
}

/** The project's settings schema (ESM): the same restart-log rule as the server and `docmark restarts`. */
const SCHEMA = pathToFileURL(path.join(__dirname, '..', '..', 'src', 'settings.js')).href;

/** The longest wait for a `manually` event that still makes sense (PM2 sends it within a second). */
const MAX_SETTLE_MS = 60_000;

async function readSettings(env = process.env) {
  const schema = await import(SCHEMA);
  let conf = {};
  try {
    // PM2 passes a module's whole configuration as JSON in an env var named after it.
    if (env[NAME]) conf = JSON.parse(env[NAME]);
  } catch {
    conf = {};
  }
  if (!conf || typeof conf !== 'object') conf = {};
  const pick = (key) => {
    const v = conf[key] ?? env[key];
    return v === undefined || v === null || v === '' ? undefined : String(v);
  };
  // A schema setting: from its DOCMARK_* variable, else the module's key (checked by the same
  // parser, so a bad `pm2 set` value stops the logger with a message), else the default.
  const fromSchema = (name, key) => {
    if (schema.isSet(name, env)) return schema.setting(name, env);
    const v = pick(key);
    const spec = schema.SETTINGS.find((s) => s.name === name);
    return v === undefined ? schema.setting(name, env) : spec.parse(v, `${NAME}:${key}`);
  };
  const apps = (pick('apps') ?? 'docmark')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const settle = pick('settle_ms');
  return {
    logFile: fromSchema('DOCMARK_RESTART_LOG', 'log_file'),
    maxBytes: fromSchema('DOCMARK_RESTART_LOG_MAX_MB', 'max_mb') * 1024 * 1024,
    keep: fromSchema('DOCMARK_RESTART_LOG_KEEP', 'keep'),
    apps,
    settleMs: settle === undefined ? 3000 : schema.wholeNumber(0, MAX_SETTLE_MS)(settle, `${NAME}:settle_ms`),
  };
}

async function main() {
  const settings = await readSettings();
  const watchAll = settings.apps.includes('*');
  const tracker = createTracker({
    settleMs: settings.settleMs,
    watch: (name) => name !== NAME && (watchAll || settings.apps.includes(name)),
  });
  fs.mkdirSync(path.dirname(settings.logFile), { recursive: true });
  const log = createRotatingLog({ file: settings.logFile, maxBytes: settings.maxBytes, keep: settings.keep });

  const write = (records) => {
    for (const rec of records) {
      const line = JSON.stringify(rec) + '\n';
      log.append(line);
      process.stdout.write(line);
    }
  };

  const pm2 = loadPm2();
  pm2.connect((err) => {
    if (err) {
      console.error(`${NAME}: cannot connect to PM2: ${err.message}`);
      process.exit(1);
    }
    pm2.launchBus((busErr, bus, socket) => {
      if (busErr) {
        console.error(`${NAME}: cannot open the PM2 bus: ${busErr.message}`);
        process.exit(1);
      }
      for (const type of ['process:event', 'process:msg', 'process:exception', 'log:PM2']) {
        bus.on(type, (data) => write(tracker.push({ type, data })));
      }
      // Without the bus there is nothing to log: let PM2 restart us.
      socket?.on?.('close', () => process.exit(1));
      console.log(
        JSON.stringify({
          time: new Date().toISOString(),
          msg: `${NAME} watching`,
          apps: settings.apps,
          log_file: settings.logFile,
          max_bytes: settings.maxBytes,
          keep: settings.keep,
        }),
      );
      process.send?.('ready');
    });
  });

  setInterval(() => write(tracker.flush(Date.now())), 500);

  const stop = () => {
    write(tracker.flush());
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module || process.env.pm_id !== undefined) {
  main().catch((err) => {
    console.error(`${NAME}: ${err.message}`);
    process.exit(1);
  });
}

module.exports = { readSettings };
