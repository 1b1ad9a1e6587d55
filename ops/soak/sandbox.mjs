// The real ecosystem (ecosystem.config.js) under the project's own PM2, in a PM2_HOME of its own
// (a temporary folder), torn down with `pm2 kill` in that same home, then SIGKILL of the daemon's
// pid if it is still there. Nothing here touches ~/.pm2 or any process it did not start.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PM2_BIN = path.join(ROOT, 'node_modules/.bin/pm2');

export class Pm2Sandbox {
  /** @param {{ workerIntervalMs: number, settings: Record<string, string> }} options */
  constructor({ workerIntervalMs, settings }) {
    this.home = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-soak-pm2-'));
    this.restartLog = path.join(this.home, 'docmark-restarts.jsonl');
    this.workerIntervalMs = workerIntervalMs;
    this.settings = settings;
    this.port = 0;
    /** @type {any} */
    this.api = undefined;
    const env = { ...process.env };
    // Nothing PM2 set for an outer process may leak into ours.
    for (const k of Object.keys(env)) if (k.startsWith('DOCMARK_') || k === 'pm_id' || k === 'NODE_APP_INSTANCE') delete env[k];
    // The job store lives in the sandbox too, never in the user's data folder.
    this.env = {
      ...env,
      PM2_HOME: this.home,
      DOCMARK_DATA_DIR: path.join(this.home, 'data'),
      PM2_WORKER_INTERVAL: String(workerIntervalMs),
      PM2_DISABLE_VERSION_CHECK: '1',
    };
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** @param {string[]} args @param {number} [timeoutMs] @returns {Promise<{ code: number, stdout: string, stderr: string }>} */
  pm2(args, timeoutMs = 120_000) {
    return new Promise((resolve) => {
      execFile(PM2_BIN, args, { cwd: ROOT, env: this.appEnv(), timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
      );
    });
  }

  appEnv() {
    return { ...this.env, DOCMARK_PORT: String(this.port), DOCMARK_RESTART_LOG: this.restartLog, ...this.settings };
  }

  async start() {
    this.port = await freePort();
    const res = await this.pm2(['start', path.join(ROOT, 'ecosystem.config.js')]);
    if (res.code !== 0) throw new Error(`pm2 start failed: ${res.stderr || res.stdout}`);
    // PM2's programmatic client reads PM2_HOME when it is loaded: set it first. It talks to the
    // daemon over its socket, far cheaper than a `pm2 jlist` process every few seconds.
    process.env.PM2_HOME = this.home;
    const pm2 = createRequire(path.join(ROOT, 'package.json'))('pm2');
    await new Promise((resolve, reject) => pm2.connect((err) => (err ? reject(err) : resolve(undefined))));
    this.api = pm2;
  }

  /** @returns {Promise<Array<{ name: string, pm_id: number, pid: number, status: string, instance: number, restarts: number, memory: number, uptime: number }>>} */
  list() {
    return new Promise((resolve, reject) =>
      this.api.list((err, list) =>
        err
          ? reject(err)
          : resolve(
              list.map((p) => ({
                name: p.name,
                pm_id: p.pm_id,
                pid: p.pid,
                status: p.pm2_env.status,
                instance: p.pm2_env.NODE_APP_INSTANCE,
                restarts: p.pm2_env.restart_time,
                memory: p.monit?.memory ?? 0,
                uptime: p.pm2_env.pm_uptime,
              })),
            ),
      ),
    );
  }

  /** The PM2 daemon's pid (its own memory is watched too). */
  daemonPid() {
    try {
      return Number(fs.readFileSync(path.join(this.home, 'pm2.pid'), 'utf8')) || undefined;
    } catch {
      return undefined;
    }
  }

  restartRecords() {
    if (!fs.existsSync(this.restartLog)) return [];
    return fs
      .readFileSync(this.restartLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .flatMap((l) => {
        try {
          return [JSON.parse(l)];
        } catch {
          return [];
        }
      });
  }

  /** `pm2 kill` in this home, SIGKILL of the daemon if it stays, then the folder goes. Safe to call twice. */
  async destroy({ keepLogsIn } = {}) {
    if (this.destroyed) return;
    this.destroyed = true;
    try {
      this.api?.disconnect();
    } catch {
      // already disconnected
    }
    const pid = this.daemonPid();
    await this.pm2(['kill'], 60_000);
    if (pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone, as it should be
      }
    }
    if (keepLogsIn) {
      fs.mkdirSync(keepLogsIn, { recursive: true });
      for (const f of [this.restartLog, path.join(this.home, 'pm2.log')])
        if (fs.existsSync(f)) fs.copyFileSync(f, path.join(keepLogsIn, path.basename(f)));
    }
    fs.rmSync(this.home, { recursive: true, force: true });
  }
}

/** @returns {Promise<number>} */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}
