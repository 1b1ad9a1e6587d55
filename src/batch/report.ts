import fsp from 'node:fs/promises';
import path from 'node:path';

// `<out>/_report.jsonl`: one JSON line per file converted or failed, appended as each
// finishes (never kept in memory); reruns append to it. Counters for the summary are
// the only state that lives for the whole batch, and they do not grow with the files.

export const REPORT_NAME = '_report.jsonl';

export interface ReportLine {
  file: string;
  output?: string;
  status: 'converted' | 'failed';
  pages?: number;
  /** Converted, except these 0-based pages, which could not be read. */
  failed_pages?: number[];
  ms: number;
  attempts: number;
  /** Why each attempt before the last failed (connection lost, 503, …), in order. */
  retried?: RetryCause[];
  server?: string;
  /** The file's job on the server, when it went through the jobs API. */
  job?: string;
  error?: { code: string; message: string; http_status?: number };
}

export interface RetryCause {
  code: string;
  http_status?: number;
}

export class Report {
  private constructor(
    readonly path: string,
    private readonly handle: fsp.FileHandle,
  ) {}

  static async open(outDir: string): Promise<Report> {
    const file = path.join(outDir, REPORT_NAME);
    return new Report(file, await fsp.open(file, 'a'));
  }

  /** O_APPEND: each line lands whole at the end, in the order files finish. */
  async append(line: ReportLine): Promise<void> {
    await this.handle.write(JSON.stringify({ ...line, at: new Date().toISOString() }) + '\n');
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

export interface Summary {
  /** PDFs found. */
  found: number;
  /** Of those, the ones without an output when the batch started (or all, with --force). */
  toConvert: number;
  converted: number;
  skipped: number;
  failed: number;
  failedByCode: Record<string, number>;
  pages: number;
  /** Pages that could not be read, in files that were otherwise converted. */
  unreadablePages: number;
  filesWithUnreadablePages: number;
  /** Attempts beyond the first, over all files. */
  retries: number;
  elapsedMs: number;
  /** Stopped by Ctrl-C / SIGTERM before the end. */
  interrupted: boolean;
  /** Why the batch stopped before the end by itself (no server reachable). */
  gaveUp?: string;
  /** Files left unfinished whose jobs carry on on the servers (recorded: a rerun follows them). */
  jobsLeft: number;
}

export function emptySummary(): Summary {
  return {
    found: 0,
    toConvert: 0,
    converted: 0,
    skipped: 0,
    failed: 0,
    failedByCode: {},
    pages: 0,
    unreadablePages: 0,
    filesWithUnreadablePages: 0,
    retries: 0,
    elapsedMs: 0,
    interrupted: false,
    jobsLeft: 0,
  };
}

export function formatSummary(s: Summary, reportPath: string): string {
  const seconds = s.elapsedMs / 1000;
  const failures = Object.entries(s.failedByCode)
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  const lines = [
    s.gaveUp
      ? `docmark batch: gave up after ${seconds.toFixed(1)} s: ${s.gaveUp}`
      : `docmark batch: ${s.interrupted ? 'interrupted after' : 'done in'} ${seconds.toFixed(1)} s`,
    `  converted ${s.converted}, skipped ${s.skipped} (already done), failed ${s.failed}${failures ? ` (${failures})` : ''}` +
      (s.interrupted || s.gaveUp ? `, left for a rerun ${Math.max(0, s.toConvert - s.converted - s.failed)}` : ''),
    `  pages ${s.pages}, ${rate(s.pages, seconds)} pages/s, ${rate(s.converted, seconds)} files/s, ${s.retries} retries`,
    ...(s.jobsLeft
      ? [
          `  jobs left on the servers ${s.jobsLeft}: a rerun follows them instead of submitting those files again ` +
            `(their ids are in <output>.docmark-job files; \`docmark job cancel <id>\` stops one)`,
        ]
      : []),
    ...(s.unreadablePages
      ? [`  unreadable pages ${s.unreadablePages} in ${s.filesWithUnreadablePages} converted files (failed_pages in the report)`]
      : []),
    `  report: ${reportPath}`,
  ];
  return lines.join('\n');
}

export function rate(n: number, seconds: number): string {
  return seconds > 0 ? (n / seconds).toFixed(1) : '0.0';
}
