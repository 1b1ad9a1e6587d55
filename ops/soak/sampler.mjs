// Every few seconds: the RSS of each instance (and of the PM2 daemon), the host's available memory
// and load, how long /health takes and the queue it reports. Samples go to samples.jsonl as they
// are taken and stay in memory for the report (a 2-hour run at 3 s is 2400 small records).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';

const MB = 1024 * 1024;

/** @param {number} pid */
export function rssOf(pid) {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Math.round((Number(m[1]) * 1024) / MB) : undefined;
  } catch {
    return undefined;
  }
}

export function availableMb() {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/meminfo', 'latin1'));
    if (m) return Math.round((Number(m[1]) * 1024) / MB);
  } catch {
    // not Linux
  }
  return Math.round(os.freemem() / MB);
}

/** @param {string} url @returns {Promise<{ ms: number, status: number, queued?: number, busy?: number, instance?: string | null }>} */
function timedHealth(url) {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = http.get(`${url}/health`, { agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => (body += c));
      res.on('end', () => {
        const ms = Math.round(performance.now() - started);
        try {
          const h = JSON.parse(body);
          resolve({ ms, status: res.statusCode ?? 0, queued: h.converter?.queued, busy: h.converter?.busy, instance: h.instance });
        } catch {
          resolve({ ms, status: res.statusCode ?? 0 });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ ms: Math.round(performance.now() - started), status: 0 }));
  });
}

/**
 * @param {{ sandbox: import('./sandbox.mjs').Pm2Sandbox, everyMs: number, file: string, t0: number }} options
 */
export function startSampler({ sandbox, everyMs, file, t0 }) {
  const out = fs.createWriteStream(file, { flags: 'a' });
  /** @type {Array<any>} */
  const samples = [];
  const name = sandbox.settings.DOCMARK_PM2_NAME;
  let busy = false;
  const take = async () => {
    if (busy) return;
    busy = true;
    try {
      const [list, health] = await Promise.all([sandbox.list().catch(() => []), timedHealth(sandbox.url)]);
      const instances = list
        .filter((p) => p.name === name)
        .map((p) => ({ pm_id: p.pm_id, instance: p.instance, pid: p.pid, status: p.status, rss_mb: p.pid > 0 ? (rssOf(p.pid) ?? null) : null }));
      const daemon = sandbox.daemonPid();
      const [l1] = os.loadavg();
      const sample = {
        t: Math.round((Date.now() - t0) / 100) / 10,
        instances,
        daemon_rss_mb: daemon ? (rssOf(daemon) ?? null) : null,
        available_mb: availableMb(),
        load_1m: Math.round(l1 * 100) / 100,
        health_ms: health.ms,
        health_status: health.status,
        queued: health.queued ?? null,
        busy: health.busy ?? null,
      };
      samples.push(sample);
      out.write(`${JSON.stringify(sample)}\n`);
    } finally {
      busy = false;
    }
  };
  void take();
  const timer = setInterval(() => void take(), everyMs);
  return {
    samples,
    async stop() {
      clearInterval(timer);
      await new Promise((r) => out.end(r));
    },
  };
}
