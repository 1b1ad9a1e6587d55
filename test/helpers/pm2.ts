import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './server.ts';
import { waitFor } from './wait.ts';

/**
 * A real PM2 in a throw-away PM2_HOME: the project's own pm2 binary, a 1 s worker
 * interval (memory checks), no version check. Never touches ~/.pm2.
 */
export const PM2_BIN = path.join(ROOT, 'node_modules/.bin/pm2');

export interface Pm2Process {
  name: string;
  pm_id: number;
  pid: number;
  status: string;
  instance: number | undefined;
  restarts: number;
  /** PM2's count of restarts sooner than min_uptime after start. */
  unstable: number;
  memory: number;
  /** @pm2/io metrics the process reports (what `pm2 monit` shows). */
  metrics: Record<string, { value: unknown }>;
}

export interface RestartRecord {
  time: string;
  app: string;
  instance: number | null;
  pm_id: number;
  old_pid: number | null;
  new_pid: number | null;
  cause: string;
  exit_code: number | null;
  signal: string | null;
  uptime_s: number | null;
  rss_mb: number | null;
  conversions: number | null;
}

export class Pm2Sandbox {
  readonly home: string;
  readonly restartLog: string;
  readonly env: NodeJS.ProcessEnv;
  port = 0;

  constructor() {
    this.home = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-pm2-'));
    this.restartLog = path.join(this.home, 'restarts.jsonl');
    const env: NodeJS.ProcessEnv = { ...process.env };
    // Nothing PM2 set for an outer process may leak into ours.
    for (const k of Object.keys(env)) if (k.startsWith('DOCMARK_') || k === 'pm_id' || k === 'NODE_APP_INSTANCE') delete env[k];
    // The job store too lives in the sandbox, never in the user's data folder.
    this.env = {
      ...env,
      PM2_HOME: this.home,
      DOCMARK_DATA_DIR: path.join(this.home, 'data'),
      PM2_WORKER_INTERVAL: '1000',
      PM2_DISABLE_VERSION_CHECK: '1',
    };
  }

  pm2(args: string[], extraEnv: Record<string, string> = {}, timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        PM2_BIN,
        args,
        { cwd: ROOT, env: { ...this.env, ...extraEnv }, timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 },
        (err, stdout, stderr) => {
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
        },
      );
    });
  }

  /** `pm2 start ecosystem.config.js` on a free port; resolves when every instance answers. */
  async start(settings: Record<string, string> = {}, instances = Number(settings.DOCMARK_INSTANCES ?? 2), extraArgs: string[] = []): Promise<void> {
    this.port = await freePort();
    const withLogger = !extraArgs.includes('--only');
    const res = await this.pm2(['start', path.join(ROOT, 'ecosystem.config.js'), ...extraArgs], {
      DOCMARK_PORT: String(this.port),
      DOCMARK_RESTART_LOG: this.restartLog,
      DOCMARK_HOST_SAMPLE_S: '60',
      ...settings,
    });
    if (res.code !== 0) throw new Error(`pm2 start failed: ${res.stderr || res.stdout}`);
    await this.waitOnline(instances);
    if (!withLogger) return;
    // The logger must be on the bus before anything restarts.
    await waitFor(() => fs.existsSync(path.join(this.home, 'logs')) && this.loggerWatching(), { timeoutMs: 60_000, what: 'restart logger' });
  }

  loggerWatching(): boolean {
    const dir = path.join(this.home, 'logs');
    return fs.readdirSync(dir).some((f) => f.includes('restart-logger-out') && fs.readFileSync(path.join(dir, f), 'utf8').includes('watching'));
  }

  async jlist(): Promise<Pm2Process[]> {
    const res = await this.pm2(['jlist']);
    const start = res.stdout.indexOf('[');
    const list = JSON.parse(res.stdout.slice(start)) as Array<{
      name: string;
      pm_id: number;
      pid: number;
      monit?: { memory: number };
      pm2_env: Record<string, any>;
    }>;
    return list.map((p) => ({
      name: p.name,
      pm_id: p.pm_id,
      pid: p.pid,
      status: p.pm2_env.status,
      instance: p.pm2_env.NODE_APP_INSTANCE,
      restarts: p.pm2_env.restart_time,
      unstable: p.pm2_env.unstable_restarts,
      memory: p.monit?.memory ?? 0,
      metrics: p.pm2_env.axm_monitor ?? {},
    }));
  }

  async apps(name = 'docmark'): Promise<Pm2Process[]> {
    return (await this.jlist()).filter((p) => p.name === name);
  }

  async waitOnline(instances: number, timeoutMs = 90_000): Promise<Pm2Process[]> {
    return waitFor(
      async () => {
        const apps = await this.apps();
        const online = apps.filter((p) => p.status === 'online' && p.pid > 0);
        if (online.length !== instances) return undefined;
        const health = await getJson(`http://127.0.0.1:${this.port}/health`).catch(() => undefined);
        return health?.status === 'ok' ? online : undefined;
      },
      { timeoutMs, intervalMs: 300, what: `${instances} docmark instances online` },
    );
  }

  records(): RestartRecord[] {
    if (!fs.existsSync(this.restartLog)) return [];
    return fs
      .readFileSync(this.restartLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as RestartRecord);
  }

  waitRecords(check: (records: RestartRecord[]) => boolean, what: string, timeoutMs = 60_000): Promise<RestartRecord[]> {
    return waitFor(
      () => {
        const r = this.records();
        return check(r) ? r : undefined;
      },
      { timeoutMs, intervalMs: 200, what },
    );
  }

  /** `pm2 kill` in this home, then SIGKILL the daemon if still alive, then remove the folder. */
  async destroy(): Promise<void> {
    await this.pm2(['kill'], {}, 60_000);
    const pidFile = path.join(this.home, 'pm2.pid');
    if (fs.existsSync(pidFile)) {
      const pid = Number(fs.readFileSync(pidFile, 'utf8'));
      try {
        if (pid > 0) process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    // The instances' recycle baton (src/server/recycle.ts) lives in PM2_HOME: it goes too.
    fs.rmSync(this.home, { recursive: true, force: true });
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export function getJson(url: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export interface LoadResult {
  ok: number;
  failed: number;
  failures: string[];
}

/**
 * Steady client load: `concurrency` loops, each POSTing the PDF on a fresh connection
 * (no keep-alive, so no request is sent on a socket the server is closing) until stopped.
 */
export function steadyLoad(port: number, pdf: Buffer, concurrency = 3): { stop(): Promise<LoadResult>; result: LoadResult } {
  const result: LoadResult = { ok: 0, failed: 0, failures: [] };
  let running = true;
  const one = (): Promise<boolean> =>
    new Promise((resolve) => {
      const fail = (why: string): void => {
        result.failed++;
        result.failures.push(`${new Date().toISOString()} ${why}`);
        resolve(false);
      };
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          path: '/convert',
          method: 'POST',
          agent: false,
          headers: { 'content-type': 'application/pdf', 'content-length': String(pdf.length) },
          timeout: 60_000,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => (body += c));
          res.on('end', () => {
            if (res.statusCode !== 200) return fail(`${res.statusCode} ${body.slice(0, 120)}`);
            result.ok++;
            resolve(true);
          });
          res.on('error', (err) => fail(String(err)));
        },
      );
      req.on('timeout', () => req.destroy(new Error('client timeout')));
      req.on('error', (err) => fail(String(err)));
      req.end(pdf);
    });
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      // A client pauses a little after a failure: a refused port then costs a countable
      // number of attempts, not tens of thousands in a tight loop. Each one still counts.
      if (!(await one())) await new Promise((r) => setTimeout(r, 5));
    }
  });
  return {
    result,
    async stop() {
      running = false;
      await Promise.all(loops);
      return result;
    },
  };
}
