#!/usr/bin/env node
// `npm start` (after the build): start — or reload, when already running — the service
// under the project's own PM2, wait until it answers, then say where and how to look.
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SettingError, readSettings } from '../src/settings.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PM2 = path.join(ROOT, 'node_modules/.bin/pm2');
const ecosystem = path.join(ROOT, 'ecosystem.config.js');

let settings;
try {
  settings = readSettings(process.env);
} catch (err) {
  if (!(err instanceof SettingError)) throw err;
  console.error(`docmark: ${err.message}`);
  process.exit(2);
}

const res = spawnSync(PM2, ['startOrReload', ecosystem, '--update-env'], { cwd: ROOT, stdio: 'inherit' });
if (res.status !== 0) process.exit(res.status ?? 1);

const host = settings.DOCMARK_HOST;
const port = settings.DOCMARK_PORT;
const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
const url = `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
const name = settings.DOCMARK_PM2_NAME;

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

const deadline = Date.now() + 60_000;
let up = false;
while (!(up = await health()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));

console.log(`
docmark ${up ? 'is up' : 'was started but does not answer yet'} under PM2: ${url}  (try ${url}/health)
  logs      npx pm2 logs ${name}            restarts: npx pm2 logs ${name}-restart-logger
  monitor   npx pm2 monit                  status: npx pm2 ls
  restarts  node bin/docmark.js restarts   (summary of the restart log)
  reload    npx pm2 reload ${name}         (rolling, no request lost)
  stop      npm stop
`);
process.exit(up ? 0 : 1);
