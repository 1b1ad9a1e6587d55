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

/** Restarts marked on the chart at most: a crash loop must not make every answer large. */
export const MAX_RECENT = 200;

interface Parsed {
  key: string;
  summary: Omit<HostStatus['restarts'], 'recent'>;
  /** Every restart in the tail, oldest first. */
  marks: RestartMark[];
}

export class RestartLog {
  private cached: Parsed | undefined;

  constructor(readonly file: string) {}

  read(since: number): HostStatus['restarts'] {
    const parsed = this.parse();
    if (!parsed) return { available: false, total: 0, mean_interval_s: null, first: null, by_cause: [], recent: [] };
    const recent = parsed.marks.filter((m) => Date.parse(m.time) >= since);
    return { ...parsed.summary, recent: recent.slice(-MAX_RECENT) };
  }

  /** The tail, parsed once per change of the file. */
  private parse(): Parsed | undefined {
    let st: fs.Stats;
    try {
      st = fs.statSync(this.file);
    } catch {
      this.cached = undefined;
      return undefined;
    }
    const key = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (this.cached?.key === key) return this.cached;
    const text = this.tail(st.size);
    const summary = summarize(text, this.file);
    const marks: RestartMark[] = [];
    for (const line of text.split('\n')) {
      if (!line) continue;
      let r: Raw;
      try {
        r = JSON.parse(line) as Raw;
      } catch {
        continue;
      }
      if (typeof r.cause !== 'string' || Number.isNaN(Date.parse(r.time))) continue;
      marks.push({
        time: r.time,
        cause: r.cause,
        instance: r.instance ?? null,
        old_pid: r.old_pid ?? null,
        new_pid: r.new_pid ?? null,
        rss_mb: r.rss_mb ?? null,
      });
    }
    marks.sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
    this.cached = {
      key,
      summary: {
        available: true,
        total: summary.total,
        mean_interval_s: summary.mean_interval_s,
        first: summary.first,
        by_cause: summary.by_cause.map((c) => ({ cause: c.cause, count: c.count, mean_interval_s: c.mean_interval_s })),
      },
      marks,
    };
    return this.cached;
  }

  /** The last RESTART_TAIL_BYTES of the log, from its first whole line. */
  private tail(size: number): string {
    const start = Math.max(0, size - RESTART_TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    const fd = fs.openSync(this.file, 'r');
    let text: string;
    try {
      const n = fs.readSync(fd, buf, 0, buf.length, start);
      text = buf.subarray(0, n).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
    return start > 0 ? text.slice(text.indexOf('\n') + 1) : text;
  }
}
