// The restart log (one JSON line per restart, written by ops/restart-logger) as the status page
// needs it: its summary by cause and the restarts inside the chart's window. Only the tail is
// read, and only when the file changed, so a log months long costs a request nothing.
import fs from 'node:fs';
import { summarize } from '../../cli/commands/restarts.js';
import type { HostStatus, RestartMark } from './types.js';

/** The last restarts a summary covers: thousands of lines, read at most once per change. */
export const RESTART_TAIL_BYTES = 256 * 1024;

interface Raw {
  time: string;
  cause: string;
  instance?: number | null;
  old_pid?: number | null;
  new_pid?: number | null;
  rss_mb?: number | null;
}

export class RestartLog {
  private cached: { key: string; text: string } | undefined;

  constructor(readonly file: string) {}

  read(since: number): HostStatus['restarts'] {
    const text = this.tail();
    if (text === undefined) return { available: false, total: 0, mean_interval_s: null, first: null, by_cause: [], recent: [] };
    const summary = summarize(text, this.file);
    const recent: RestartMark[] = [];
    for (const line of text.split('\n')) {
      if (!line) continue;
      let r: Raw;
      try {
        r = JSON.parse(line) as Raw;
      } catch {
        continue;
      }
      const t = Date.parse(r.time);
      if (typeof r.cause !== 'string' || !(t >= since)) continue;
      recent.push({
        time: r.time,
        cause: r.cause,
        instance: r.instance ?? null,
        old_pid: r.old_pid ?? null,
        new_pid: r.new_pid ?? null,
        rss_mb: r.rss_mb ?? null,
      });
    }
    recent.sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
    return {
      available: true,
      total: summary.total,
      mean_interval_s: summary.mean_interval_s,
      first: summary.first,
      by_cause: summary.by_cause.map((c) => ({ cause: c.cause, count: c.count, mean_interval_s: c.mean_interval_s })),
      recent,
    };
  }

  /** The last RESTART_TAIL_BYTES of the log, from its first whole line; undefined if there is no log. */
  private tail(): string | undefined {
    let st: fs.Stats;
    try {
      st = fs.statSync(this.file);
    } catch {
      return undefined;
    }
    const key = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (this.cached?.key === key) return this.cached.text;
    const start = Math.max(0, st.size - RESTART_TAIL_BYTES);
    const buf = Buffer.alloc(st.size - start);
    const fd = fs.openSync(this.file, 'r');
    let text: string;
    try {
      const n = fs.readSync(fd, buf, 0, buf.length, start);
      text = buf.subarray(0, n).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
    if (start > 0) text = text.slice(text.indexOf('\n') + 1);
    this.cached = { key, text };
    return text;
  }
}
