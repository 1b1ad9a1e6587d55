// The folder in PM2's home through which the instances of one app see each other: each instance
// writes its own status file every few seconds and appends to its slot's RSS history; whichever
// instance answers GET /status.json reads them all. Files of processes that are gone are removed
// by the reader, so a crashed instance leaves nothing behind for long.
import fs from 'node:fs';
import path from 'node:path';
import type { HistorySample, InstanceStatus } from './types.js';

/** A status file not rewritten for this long belongs to a process that is stuck or gone (pid reused). */
export const STALE_MS = 60_000;

const STATUS_RE = /^instance-(\d+)\.json$/;
const HISTORY_RE = /^history-(\d+|solo)\.jsonl$/;

interface CachedHistory {
  ino: number;
  /** Bytes consumed so far (up to the last whole line). */
  offset: number;
  samples: HistorySample[];
}

export class StatusFolder {
  private readonly histories = new Map<string, CachedHistory>();

  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
  }

  /** Written aside, then renamed: a reader never sees half a file. */
  write(status: InstanceStatus): void {
    const file = path.join(this.dir, `instance-${status.pid}.json`);
    const aside = `${file}.tmp`;
    fs.writeFileSync(aside, JSON.stringify(status));
    fs.renameSync(aside, file);
  }

  /** Every live instance's last status; files of dead or silent processes are removed. */
  readInstances(now: number, selfPid: number): InstanceStatus[] {
    const out: InstanceStatus[] = [];
    for (const name of this.names()) {
      const m = STATUS_RE.exec(name);
      if (!m) continue;
      const pid = Number(m[1]);
      if (pid === selfPid) continue;
      const file = path.join(this.dir, name);
      const status = readJson<InstanceStatus>(file);
      if (!status || !isAlive(pid) || now - Date.parse(status.updated_at) > STALE_MS) {
        fs.rmSync(file, { force: true });
        continue;
      }
      out.push(status);
    }
    return out;
  }

  historyFile(slot: number | null): string {
    return path.join(this.dir, `history-${slot ?? 'solo'}.jsonl`);
  }

  /** One line per sample; a short append is one write, so siblings' lines never interleave. */
  append(slot: number | null, sample: HistorySample): void {
    fs.appendFileSync(this.historyFile(slot), JSON.stringify(sample) + '\n');
  }

  /** Keep only samples after `since` (rewritten aside and renamed, like a status file). */
  trim(slot: number | null, since: number): void {
    const file = this.historyFile(slot);
    const kept = parseLines(readText(file) ?? '').filter((s) => s.t >= since);
    const aside = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(aside, kept.map((s) => JSON.stringify(s)).join('\n') + (kept.length ? '\n' : ''));
    fs.renameSync(aside, file);
  }

  /**
   * Every slot's samples after `since`. Files are read incrementally: only the bytes appended
   * since the last call are parsed, so the cost of a request does not grow with the window.
   */
  readHistories(since: number): Map<string, HistorySample[]> {
    const out = new Map<string, HistorySample[]>();
    for (const name of this.names()) {
      const m = HISTORY_RE.exec(name);
      if (!m) continue;
      const file = path.join(this.dir, name);
      const samples = this.readHistory(file, since);
      if (samples.length) out.set(m[1], samples);
      else this.removeIfIdle(file, since);
    }
    return out;
  }

  /** A slot nobody wrote to for the whole window (the app was scaled down): its file goes. */
  private removeIfIdle(file: string, since: number): void {
    try {
      if (fs.statSync(file).mtimeMs < since) fs.rmSync(file, { force: true });
    } catch {
      // already gone
    }
    this.histories.delete(file);
  }

  private readHistory(file: string, since: number): HistorySample[] {
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch {
      this.histories.delete(file);
      return [];
    }
    let cached = this.histories.get(file);
    if (!cached || cached.ino !== st.ino || st.size < cached.offset) cached = { ino: st.ino, offset: 0, samples: [] };
    if (st.size > cached.offset) {
      const fd = fs.openSync(file, 'r');
      try {
        const buf = Buffer.alloc(st.size - cached.offset);
        const n = fs.readSync(fd, buf, 0, buf.length, cached.offset);
        const text = buf.subarray(0, n).toString('utf8');
        const end = text.lastIndexOf('\n') + 1; // a line being written now is read next time
        cached.samples.push(...parseLines(text.slice(0, end)));
        cached.offset += Buffer.byteLength(text.slice(0, end));
      } finally {
        fs.closeSync(fd);
      }
    }
    const first = cached.samples.findIndex((s) => s.t >= since);
    if (first === -1) cached.samples = [];
    else if (first > 0) cached.samples = cached.samples.slice(first);
    this.histories.set(file, cached);
    return cached.samples;
  }

  private names(): string[] {
    try {
      return fs.readdirSync(this.dir);
    } catch {
      return [];
    }
  }
}

function parseLines(text: string): HistorySample[] {
  const out: HistorySample[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const s = JSON.parse(line) as HistorySample;
      if (typeof s.t === 'number' && typeof s.rss === 'number') out.push(s);
    } catch {
      // a torn or foreign line: skipped
    }
  }
  return out;
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function readJson<T>(file: string): T | undefined {
  const text = readText(file);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
