#!/usr/bin/env node
// `npm start` (after the build): start — or reload, when already running — the service under the
// project's own PM2, wait until it answers, then say where and how to look. When the instances
// cannot start (a port in use, a wrong setting) it says why at once, from their error log, and
// exits non-zero instead of waiting for an answer that will never come.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SettingError, pm2Home, readSettings } from '../src/settings.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PM2 = path.join(ROOT, 'node_modules/.bin/pm2');
const ecosystem = path.join(ROOT, 'ecosystem.config.js');
/** Long enough for a cold start of every instance on a loaded machine. */
const ANSWER_DEADLINE_MS = 60_000;
const POLL_MS = 500;
/** `pm2 jlist` spawns a process: asked less often than /health. */
const STATUS_EVERY_MS = 2000;
/** What `docmark serve` prints when it cannot start (src/cli/commands/serve.ts). */
const FATAL_LINE = /^docmark serve: .*/m;

let settings;
try {
  settings = readSettings(process.env);
} catch (err) {
  if (!(err instanceof SettingError)) throw err;
  console.error(`docmark: ${err.message}`);
  process.exit(2);
}

const name = settings.DOCMARK_PM2_NAME;
const host = settings.DOCMARK_HOST;
const port = settings.DOCMARK_PORT;
const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
const url = `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;

// Only what the instances write from now on counts: the log keeps earlier runs' errors.
const errorLog = path.join(pm2Home(process.env), 'logs', `${name}-error.log`);
const errorLogStart = fileSize(errorLog);

const res = spawnSync(PM2, ['startOrReload', ecosystem, '--update-env'], { cwd: ROOT, stdio: 'inherit' });
if (res.status !== 0) process.exit(res.status ?? 1);

const deadline = Date.now() + ANSWER_DEADLINE_MS;
let nextStatusCheck = 0;
let up = false;
let failure;
while (!(up = await health()) && Date.now() < deadline) {
  failure = fatalLogLines();
  if (!failure && Date.now() >= nextStatusCheck) {
    nextStatusCheck = Date.now() + STATUS_EVERY_MS;
    const errored = instances().filter((p) => p.status === 'errored');
    if (errored.length) failure = `PM2 gave up restarting instance(s) ${errored.map((p) => p.pm_id).join(', ')} (status errored).`;
  }
  if (failure) break;
  await new Promise((resolve) => setTimeout(resolve, POLL_MS));
}

if (!up) {
  const why = failure ?? `no answer at ${url}/health within ${ANSWER_DEADLINE_MS / 1000} s.`;
  console.error(`
docmark did not start: ${why}
  its error log  npx pm2 logs ${name} --err --lines 50 --nostream
  status         npx pm2 ls
  remove it      npm stop
`);
  process.exit(1);
}

console.log(`
docmark is up under PM2: ${url}  (try ${url}/health)
  logs      npx pm2 logs ${name}            restarts: npx pm2 logs ${name}-restart-logger
  monitor   npx pm2 monit                  status: npx pm2 ls
  restarts  node bin/docmark.js restarts   (summary of the restart log)
  reload    npx pm2 reload ${name}         (rolling, no request lost)
  stop      npm stop
`);
process.exit(0);

function health() {
  return new Promise((resolve) => {
    const req = http.get(`${url}/health`, { agent: false, timeout: 2000 }, (r) => {
      r.resume();
      r.on('end', () => resolve(r.statusCode === 200));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function fileSize(file) {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** The distinct fatal lines the instances wrote to the error log since this start. */
function fatalLogLines() {
  const size = fileSize(errorLog);
  if (size <= errorLogStart) return undefined;
  const fd = fs.openSync(errorLog, 'r');
  try {
    // Errors are short: the first 64 KB written since the start hold them.
    const length = Math.min(size - errorLogStart, 64 * 1024);
    const buffer = Buffer.alloc(length);
    fs.readSync(fd, buffer, 0, length, errorLogStart);
    const lines = [...new Set(buffer.toString('utf8').match(new RegExp(FATAL_LINE.source, 'gm')) ?? [])];
    return lines.length ? lines.join('\n  ') : undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** This app's instances as PM2 lists them (`pm2 jlist`). */
function instances() {
  const list = spawnSync(PM2, ['jlist'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  try {
    const all = JSON.parse(list.stdout.slice(list.stdout.indexOf('[')));
    return all.filter((p) => p.name === name).map((p) => ({ pm_id: p.pm_id, status: p.pm2_env?.status }));
  } catch {
    return [];
  }
}
