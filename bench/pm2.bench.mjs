#!/usr/bin/env node
// PM2 restarts under steady load (real PM2 in a throw-away PM2_HOME, 2 cluster instances,
// loopback only, bounded): for each restart cause, the time from the old process's exit
// to its replacement's `ready`, and failed requests per restart; then the restart
// logger's RSS. Prints a table; takes about 3 minutes.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PM2_BIN = path.join(ROOT, 'node_modules/.bin/pm2');
const PDF = fs.readFileSync(path.join(ROOT, 'test/fixtures/corpus/bull.pdf'));
const HOME = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-pm2-bench-'));
const RESTART_LOG = path.join(HOME, 'restarts.jsonl');
// PM2 reads PM2_HOME when it is first required: set it before.
process.env.PM2_HOME = HOME;
process.env.PM2_WORKER_INTERVAL = '1000';
process.env.PM2_DISABLE_VERSION_CHECK = '1';
const pm2api = createRequire(import.meta.url)('pm2');

const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DOCMARK_')));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function pm2(args, extra = {}) {
  return new Promise((resolve) => {
    execFile(PM2_BIN, args, { cwd: ROOT, env: { ...env, ...extra }, maxBuffer: 32 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? 1 : 0, stdout, stderr }),
    );
  });
}

async function jlist() {
  const out = (await pm2(['jlist'])).stdout;
  return JSON.parse(out.slice(out.indexOf('[')));
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function until(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

// A failed request is counted once, then its client pauses 100 ms (as a client would
// before retrying): the count then reflects how long the service refused, not how fast
// a refusing socket can be hammered.
function steadyLoad(port, concurrency = 3) {
  const fail = (why, done) => {
    r.failed++;
    r.why.add(why);
    setTimeout(done, 100);
  };
  const r = { ok: 0, failed: 0, why: new Set() };
  let running = true;
  const one = () =>
    new Promise((resolve) => {
      const req = http.request(
        { host: '127.0.0.1', port, path: '/convert', method: 'POST', agent: false, headers: { 'content-type': 'application/pdf' }, timeout: 120_000 },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) r.ok++;
            else fail(`HTTP ${res.statusCode}`, resolve);
            if (res.statusCode === 200) resolve();
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err) => fail(err.code ?? err.message, resolve));
      req.end(PDF);
    });
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) await one();
  });
  return { r, stop: async () => ((running = false), await Promise.all(loops), r) };
}

// Bus: when each docmark process said it was ready (by pid).
const readyByPid = new Map();
let busReady;
function listen() {
  return new Promise((resolve, reject) => {
    pm2api.connect((err) => {
      if (err) return reject(err);
      pm2api.launchBus((e, bus) => {
        if (e) return reject(e);
        bus.on('process:msg', (d) => {
          if (d.data?.event === 'docmark:ready') readyByPid.set(d.data.pid, d.at);
        });
        busReady = bus;
        resolve();
      });
    });
  });
}

async function scenario(label, settings, trigger, restarts) {
  await pm2(['delete', 'all']);
  fs.rmSync(RESTART_LOG, { force: true });
  const port = await freePort();
  const start = await pm2(['start', path.join(ROOT, 'ecosystem.config.js')], {
    DOCMARK_PORT: String(port),
    DOCMARK_RESTART_LOG: RESTART_LOG,
    DOCMARK_WORKERS: '1',
    DOCMARK_CRON_RESTART: '',
    // Each scenario measures one cause: the conversion limit is off unless it is the one measured.
    DOCMARK_MAX_CONVERSIONS: '0',
    DOCMARK_HOST_SAMPLE_S: '60',
    ...settings,
  });
  if (start.code) throw new Error(start.stderr);
  await until(async () => (await jlist()).filter((p) => p.name === 'docmark' && p.pm2_env.status === 'online').length === 2, 60_000, 'online');
  await sleep(1500); // let the logger attach to the bus and the instances settle
  const since = Date.now();
  const load = steadyLoad(port);
  await trigger();
  const records = await until(
    () => {
      const lines = (
        fs.existsSync(RESTART_LOG)
          ? fs
              .readFileSync(RESTART_LOG, 'utf8')
              .trim()
              .split('\n')
              .filter(Boolean)
              .map((l) => JSON.parse(l))
          : []
      ).filter((l) => Date.parse(l.time) >= since);
      return lines.length >= restarts ? lines : undefined;
    },
    180_000,
    `${restarts} restarts (${label})`,
  );
  // Let the last replacement come up before counting.
  await until(async () => (await jlist()).filter((p) => p.name === 'docmark' && p.pm2_env.status === 'online').length === 2, 60_000, 'online again');
  await sleep(1000);
  const r = await load.stop();
  const causes = [...new Set(records.map((x) => x.cause))].join(',');
  // Exit of the old process → `ready` of its replacement (negative: ready first, a reload).
  const gaps = records.filter((x) => readyByPid.has(x.new_pid)).map((x) => readyByPid.get(x.new_pid) - Date.parse(x.time));
  const sorted = gaps.sort((a, b) => a - b);
  const median = sorted.length ? sorted[Math.floor(sorted.length / 2)] : NaN;
  return {
    label,
    causes,
    restarts: records.length,
    ok: r.ok,
    failed: r.failed,
    why: [...r.why].join('; '),
    perRestart: r.failed / records.length,
    medianGap: median,
    maxGap: sorted.at(-1) ?? NaN,
  };
}

async function pidsOf() {
  return (await jlist()).filter((p) => p.name === 'docmark').map((p) => p.pid);
}

const rows = [];
try {
  await pm2(['ping']);
  await listen();
  rows.push(await scenario('memory limit (40M < idle RSS)', { DOCMARK_MAX_MEMORY: '40M' }, async () => {}, 4));
  rows.push(await scenario('conversion count (6, staggered)', { DOCMARK_MAX_CONVERSIONS: '6' }, async () => {}, 4));
  rows.push(await scenario('cron, app mode (default)', { DOCMARK_CRON_RESTART: '*/10 * * * * *' }, async () => {}, 4));
  rows.push(await scenario('cron, pm2 mode (cron_restart)', { DOCMARK_CRON_RESTART: '*/10 * * * * *', DOCMARK_CRON_MODE: 'pm2' }, async () => {}, 4));
  rows.push(await scenario('manual: pm2 reload', {}, async () => void (await sleep(2000), await pm2(['reload', 'docmark'])), 2));
  rows.push(await scenario('manual: pm2 restart', {}, async () => void (await sleep(2000), await pm2(['restart', 'docmark'])), 2));
  rows.push(
    await scenario(
      'crash (uncaught exception)',
      { DOCMARK_TEST_CRASH_HOOK: '1' },
      async () => {
        await sleep(2000);
        const [a] = await pidsOf();
        process.kill(a, 'SIGUSR2');
      },
      1,
    ),
  );
  const logger = (await jlist()).find((p) => p.name === 'docmark-restart-logger');
  const loggerRss = Math.round((logger?.monit?.memory ?? 0) / 1024 / 1024);

  const ms = (v) => (Number.isFinite(v) ? `${v} ms` : '-');
  console.log(`\nPM2 restarts under steady load (3 clients, bull.pdf, 2 cluster instances, ${os.cpus().length} cores)`);
  console.log('scenario                          logged cause       restarts   ok  failed  failed/restart  exit→ready median  max');
  for (const r of rows) {
    console.log(
      `${r.label.padEnd(33)} ${r.causes.padEnd(18)} ${String(r.restarts).padStart(8)} ${String(r.ok).padStart(4)} ${String(r.failed).padStart(7)} ${r.perRestart.toFixed(2).padStart(15)} ${ms(r.medianGap).padStart(18)} ${ms(r.maxGap).padStart(8)}`,
    );
  }
  console.log('(exit→ready < 0: the replacement was ready before the old process exited — a reload)');
  for (const r of rows) if (r.failed) console.log(`  ${r.label}: ${r.why}`);
  console.log(`restart logger RSS: ${loggerRss} MB`);
} finally {
  try {
    busReady?.close?.();
    pm2api.disconnect();
  } catch {}
  await pm2(['kill']);
  const pidFile = path.join(HOME, 'pm2.pid');
  if (fs.existsSync(pidFile)) {
    try {
      process.kill(Number(fs.readFileSync(pidFile, 'utf8')), 'SIGKILL');
    } catch {}
  }
  fs.rmSync(HOME, { recursive: true, force: true });
}
process.exit(0);
