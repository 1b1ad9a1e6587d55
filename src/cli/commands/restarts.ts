import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config.js';
import { UsageError, type Command } from '../command.js';

// `docmark restarts`: what the restart logger recorded, summed up by cause — how often, how far
// apart, and how much memory the instance held when it went. The log and its rotated files
// (`<log>.1`, `.2`, …) are read as streams, oldest first, keeping only running totals: a log of
// any length is summed in constant memory.

export interface CauseSummary {
  cause: string;
  count: number;
  mean_interval_s: number | null;
  mean_rss_mb: number | null;
  max_rss_mb: number | null;
  mean_uptime_s: number | null;
}

export interface RestartSummary {
  log: string;
  /** The files read, oldest first. */
  files: string[];
  since: string | null;
  total: number;
  skipped_lines: number;
  first: string | null;
  last: string | null;
  mean_interval_s: number | null;
  by_cause: CauseSummary[];
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
/** Up to 999999 weeks: every such duration back from now is still a valid date. */
const MAX_DURATION_DIGITS = 6;
/** A restart record is a few hundred bytes; a longer line is not one, and is not held whole. */
const MAX_LINE_BYTES = 64 * 1024;
/** Causes are short snake_case words: anything else is not a record (and cannot grow the table). */
const CAUSE = /^[a-z_]{1,32}$/;
/** Rotated files beyond this many are not looked for. */
const MAX_ROTATED = 1000;

/** "90s", "30m", "12h", "7d", "2w" → seconds. */
export function parseDuration(raw: string): number {
  const m = new RegExp(`^(\\d{1,${MAX_DURATION_DIGITS}})\\s*([smhdw])$`).exec(raw.trim());
  if (!m)
    throw new UsageError(
      `--since takes a duration like 30m, 12h or 7d (at most ${MAX_DURATION_DIGITS} digits), got ${JSON.stringify(raw.slice(0, 40))}`,
    );
  return Number(m[1]) * UNITS[m[2]];
}

/** Running totals of one group of restarts. */
class Totals {
  count = 0;
  first = Infinity;
  last = -Infinity;
  rssSum = 0;
  rssCount = 0;
  rssMax = -Infinity;
  uptimeSum = 0;
  uptimeCount = 0;

  add(time: number, rss: unknown, uptime: unknown): void {
    this.count++;
    this.first = Math.min(this.first, time);
    this.last = Math.max(this.last, time);
    if (typeof rss === 'number' && Number.isFinite(rss)) {
      this.rssSum += rss;
      this.rssCount++;
      this.rssMax = Math.max(this.rssMax, rss);
    }
    if (typeof uptime === 'number' && Number.isFinite(uptime)) {
      this.uptimeSum += uptime;
      this.uptimeCount++;
    }
  }

  /** Mean gap between consecutive restarts (seconds); null below two. */
  get meanInterval(): number | null {
    return this.count < 2 ? null : (this.last - this.first) / 1000 / (this.count - 1);
  }
}

/** Sums restart records line by line; `result()` at any point. */
export class RestartSummarizer {
  readonly #sinceMs: number | undefined;
  readonly #all = new Totals();
  readonly #byCause = new Map<string, Totals>();
  #skipped = 0;

  constructor(sinceMs?: number) {
    this.#sinceMs = sinceMs;
  }

  /** One line of the log (without its newline); `undefined` counts a line too long to read. */
  add(raw: string | undefined): void {
    if (raw === undefined) {
      this.#skipped++;
      return;
    }
    if (!raw.trim()) return;
    let line: { time?: unknown; cause?: unknown; rss_mb?: unknown; uptime_s?: unknown };
    try {
      line = JSON.parse(raw);
    } catch {
      this.#skipped++;
      return;
    }
    const time = typeof line?.time === 'string' ? Date.parse(line.time) : Number.NaN;
    if (typeof line?.cause !== 'string' || !CAUSE.test(line.cause) || Number.isNaN(time)) {
      this.#skipped++;
      return;
    }
    if (this.#sinceMs !== undefined && time < this.#sinceMs) return;
    this.#all.add(time, line.rss_mb, line.uptime_s);
    let totals = this.#byCause.get(line.cause);
    if (!totals) this.#byCause.set(line.cause, (totals = new Totals()));
    totals.add(time, line.rss_mb, line.uptime_s);
  }

  result(log: string, files: string[] = [log]): RestartSummary {
    const all = this.#all;
    return {
      log,
      files,
      since: this.#sinceMs === undefined ? null : new Date(this.#sinceMs).toISOString(),
      total: all.count,
      skipped_lines: this.#skipped,
      first: all.count ? new Date(all.first).toISOString() : null,
      last: all.count ? new Date(all.last).toISOString() : null,
      mean_interval_s: all.meanInterval,
      by_cause: [...this.#byCause.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([cause, t]) => ({
          cause,
          count: t.count,
          mean_interval_s: t.meanInterval,
          mean_rss_mb: t.rssCount ? Math.round(t.rssSum / t.rssCount) : null,
          max_rss_mb: t.rssCount ? t.rssMax : null,
          mean_uptime_s: t.uptimeCount ? Math.round(t.uptimeSum / t.uptimeCount) : null,
        })),
    };
  }
}

/** A whole log held in a string (small logs, tests). */
export function summarize(text: string, log: string, sinceMs?: number): RestartSummary {
  const summarizer = new RestartSummarizer(sinceMs);
  for (const line of text.split('\n')) summarizer.add(line.length > MAX_LINE_BYTES ? undefined : line);
  return summarizer.result(log);
}

/** The log's files, oldest first: rotated ones (`<log>.N`, highest N oldest), then the log itself. */
export async function logFiles(log: string): Promise<string[]> {
  const dir = path.dirname(log);
  const base = path.basename(log);
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const rotated = names
    .map((name) => ({ name, n: name.startsWith(`${base}.`) ? /^\d{1,6}$/.exec(name.slice(base.length + 1))?.[0] : undefined }))
    .filter((f): f is { name: string; n: string } => f.n !== undefined)
    .map((f) => ({ name: f.name, n: Number(f.n) }))
    .sort((a, b) => b.n - a.n)
    .slice(-MAX_ROTATED)
    .map((f) => path.join(dir, f.name));
  return names.includes(base) ? [...rotated, log] : rotated;
}

/** Lines of a file, streamed; a line longer than MAX_LINE_BYTES comes as `undefined` and is never held whole. */
export async function* fileLines(file: string): AsyncGenerator<string | undefined> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let overlong = false;
  for await (const chunk of fs.createReadStream(file) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (overlong || pendingBytes + piece.length > MAX_LINE_BYTES) yield undefined;
      else yield Buffer.concat([...pending, piece]).toString('utf8');
      pending = [];
      pendingBytes = 0;
      overlong = false;
    }
    const rest = chunk.subarray(start);
    if (overlong || pendingBytes + rest.length > MAX_LINE_BYTES) {
      overlong = true;
      pending = [];
      pendingBytes = 0;
    } else if (rest.length) {
      pending.push(Buffer.from(rest));
      pendingBytes += rest.length;
    }
  }
  if (overlong) yield undefined;
  else if (pendingBytes) yield Buffer.concat(pending).toString('utf8');
}

/** Sum the log and its rotated files; undefined when there is no log at all. */
export async function summarizeLog(log: string, sinceMs?: number): Promise<RestartSummary | undefined> {
  const files = await logFiles(log);
  if (files.length === 0) return undefined;
  const summarizer = new RestartSummarizer(sinceMs);
  const read: string[] = [];
  for (const file of files) {
    try {
      for await (const line of fileLines(file)) summarizer.add(line);
      read.push(file);
    } catch (err) {
      // Rotated away while we were listing: its lines are in the next file now.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return summarizer.result(log, read);
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null) return '-';
  const s = Math.round(seconds);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  if (s < 172800) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d ${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

export function formatTable(summary: RestartSummary): string {
  const head = ['cause', 'restarts', 'mean interval', 'mean RSS', 'max RSS', 'mean uptime'];
  const mb = (v: number | null): string => (v === null ? '-' : `${v} MB`);
  const rows = summary.by_cause.map((c) => [
    c.cause,
    String(c.count),
    formatDuration(c.mean_interval_s),
    mb(c.mean_rss_mb),
    mb(c.max_rss_mb),
    formatDuration(c.mean_uptime_s),
  ]);
  rows.push(['all', String(summary.total), formatDuration(summary.mean_interval_s), '', '', '']);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]): string =>
    r
      .map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const span = summary.first ? `${summary.first} → ${summary.last}` : 'no restarts';
  const lines = [`${summary.log}${summary.since ? ` (since ${summary.since})` : ''}: ${span}`, '', fmt(head), ...rows.map(fmt)];
  if (summary.skipped_lines) lines.push('', `${summary.skipped_lines} line(s) were not restart records and were skipped.`);
  return lines.join('\n');
}

export const restartsCommand: Command = {
  name: 'restarts',
  usage: 'restarts [--log FILE] [--since DURATION] [--json]',
  summary: 'Summarise the PM2 restart log: restarts by cause, interval, memory.',
  help: `Usage: docmark restarts [options]

Reads the restart log written by the restart logger (ops/restart-logger), with its
rotated files (<log>.1, .2, …), and prints, per cause (memory_limit, cron,
conversion_limit, crash, signal, manual, errored), how many restarts, the mean interval
between them, and the memory (RSS) at restart.

Options:
      --log FILE          the restart log (default: $DOCMARK_RESTART_LOG, else
                          $PM2_HOME/logs/docmark-restarts.jsonl)
      --since DURATION    only restarts in the last DURATION: 90s, 30m, 12h, 7d, 2w
      --json              print the summary as JSON`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { log: { type: 'string' }, since: { type: 'string' }, json: { type: 'boolean' } },
    });
    if (positionals.length) throw new UsageError(`restarts takes no arguments, got "${positionals.join(' ')}"`);
    const log = values.log ?? loadConfig().pm2.restartLog;
    const sinceMs = values.since === undefined ? undefined : Date.now() - parseDuration(values.since) * 1000;
    const summary = await summarizeLog(log, sinceMs);
    if (!summary) {
      process.stderr.write(`docmark: no restart log at ${log} (is the restart logger running? see "Running under PM2" in the README)\n`);
      return 1;
    }
    process.stdout.write((values.json ? JSON.stringify(summary, null, 2) : formatTable(summary)) + '\n');
    return 0;
  },
};
