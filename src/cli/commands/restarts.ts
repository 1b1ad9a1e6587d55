import fs from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config.js';
import { UsageError, type Command } from '../command.js';

/**
 * `docmark restarts`: what the restart logger recorded, summed up by cause — how
 * often, how far apart, and how much memory the instance held when it went.
 */

interface RestartLine {
  time: string;
  cause: string;
  rss_mb?: number | null;
  uptime_s?: number | null;
  conversions?: number | null;
}

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
  since: string | null;
  total: number;
  skipped_lines: number;
  first: string | null;
  last: string | null;
  mean_interval_s: number | null;
  by_cause: CauseSummary[];
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** "90s", "30m", "12h", "7d", "2w" → seconds. */
export function parseDuration(raw: string): number {
  const m = /^(\d+)\s*([smhdw])$/.exec(raw.trim());
  if (!m) throw new UsageError(`--since takes a duration like 30m, 12h or 7d, got "${raw}"`);
  return Number(m[1]) * UNITS[m[2]];
}

function mean(values: number[]): number | null {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
}

/** Mean gap between consecutive times (seconds); null below two restarts. */
function meanInterval(times: number[]): number | null {
  if (times.length < 2) return null;
  const sorted = [...times].sort((a, b) => a - b);
  return (sorted[sorted.length - 1] - sorted[0]) / 1000 / (sorted.length - 1);
}

export function summarize(text: string, log: string, sinceMs?: number): RestartSummary {
  const lines: RestartLine[] = [];
  let skipped = 0;
  for (const raw of text.split('\n')) {
    if (!raw.trim()) continue;
    try {
      const line = JSON.parse(raw) as RestartLine;
      if (typeof line.cause !== 'string' || Number.isNaN(Date.parse(line.time))) throw new Error('not a restart line');
      if (sinceMs !== undefined && Date.parse(line.time) < sinceMs) continue;
      lines.push(line);
    } catch {
      skipped++;
    }
  }
  const times = lines.map((l) => Date.parse(l.time));
  const causes = [...new Set(lines.map((l) => l.cause))].sort();
  const nums = (ls: RestartLine[], key: 'rss_mb' | 'uptime_s'): number[] => ls.map((l) => l[key]).filter((v): v is number => typeof v === 'number');
  return {
    log,
    since: sinceMs === undefined ? null : new Date(sinceMs).toISOString(),
    total: lines.length,
    skipped_lines: skipped,
    first: times.length ? new Date(Math.min(...times)).toISOString() : null,
    last: times.length ? new Date(Math.max(...times)).toISOString() : null,
    mean_interval_s: meanInterval(times),
    by_cause: causes.map((cause) => {
      const ls = lines.filter((l) => l.cause === cause);
      const rss = nums(ls, 'rss_mb');
      return {
        cause,
        count: ls.length,
        mean_interval_s: meanInterval(ls.map((l) => Date.parse(l.time))),
        mean_rss_mb: rss.length ? Math.round(mean(rss)!) : null,
        max_rss_mb: rss.length ? Math.max(...rss) : null,
        mean_uptime_s: nums(ls, 'uptime_s').length ? Math.round(mean(nums(ls, 'uptime_s'))!) : null,
      };
    }),
  };
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

Reads the restart log written by the restart logger (ops/restart-logger) and prints,
per cause (memory_limit, cron, conversion_limit, crash, signal, manual, errored), how
many restarts, the mean interval between them, and the memory (RSS) at restart.

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
    let text: string;
    try {
      text = await fs.readFile(log, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      process.stderr.write(`docmark: no restart log at ${log} (is the restart logger running? see "Running under PM2" in the README)\n`);
      return 1;
    }
    const summary = summarize(text, log, sinceMs);
    process.stdout.write((values.json ? JSON.stringify(summary, null, 2) : formatTable(summary)) + '\n');
    return 0;
  },
};
