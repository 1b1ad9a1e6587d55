import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

// The record of memory exits per document, shared by every instance of a host through one file.
// Each line is one JSON object: a strike (`{"strike":id,"doc":key,"at":ms}`, a document was
// converting when an instance passed its memory limit) or a clear (`{"clear":key,"at":ms}`, the
// document then converted well, so it can be converted within the limit: its earlier strikes were
// bad luck, a neighbour's doing). Lines are only ever appended, each batch with one write on a file
// opened for appending, so instances write at once without a lock; a line that cannot be read is
// skipped, and a missing or unreadable file means no strikes. The file is compacted once it grows:
// strikes past their age or cleared, and documents beyond the most recent MAX_DOCUMENTS, are dropped.

/** Documents the record keeps (those struck longest ago are dropped first). */
export const MAX_DOCUMENTS = 1024;
/** Strikes kept per document: more than any threshold DOCMARK_MEMORY_STRIKES accepts. */
export const MAX_STRIKES_PER_DOCUMENT = 20;
/** A strike counts this long: a raised limit or a fixed engine gets the document another try. */
export const STRIKE_TTL_MS = 24 * 3600_000;
/** The file is compacted when an append leaves it larger than this (a few thousand lines). */
const COMPACT_AT_BYTES = 256 * 1024;
/** Most of the file ever read (its end): a file grown by something else costs bounded memory. */
const MAX_READ_BYTES = 4 * 1024 * 1024;
/** An append whose file was compacted away meanwhile is written again, at most this often. */
const APPEND_ATTEMPTS = 3;

/** A document's key: the sha256 of its bytes in hex, and what part of it was converted how when not all of it (see key.ts). */
const DOCUMENT_KEY = /^[0-9a-f]{64}(:[a-z0-9=,#+-]{1,100})?$/;

export interface LedgerOptions {
  file: string;
  ttlMs?: number;
  maxDocuments?: number;
  now?: () => number;
}

interface Strike {
  doc: string;
  at: number;
}

/** A document's strikes that still count. */
export interface DocumentStrikes {
  count: number;
  /** When the latest one was recorded (ms). */
  last: number;
}

export class StrikeLedger {
  readonly file: string;
  readonly ttlMs: number;
  private readonly maxDocuments: number;
  private readonly now: () => number;
  /** The file as last read: re-read only when its identity, size or time changed. */
  private cache: { key: string; strikes: Map<string, number[]> } | undefined;

  constructor(options: LedgerOptions) {
    this.file = options.file;
    this.ttlMs = options.ttlMs ?? STRIKE_TTL_MS;
    this.maxDocuments = options.maxDocuments ?? MAX_DOCUMENTS;
    this.now = options.now ?? Date.now;
  }

  /** The strikes against `doc` (a document key) that still count; 0 when the file is missing or unreadable. */
  strikes(doc: string): DocumentStrikes {
    const times = this.read().get(doc) ?? [];
    const since = this.now() - this.ttlMs;
    const live = times.filter((t) => t > since);
    return { count: live.length, last: live.length ? Math.max(...live) : 0 };
  }

  /** Record one strike per document (ids make a line read twice count once). Synchronous: it runs on the way out. */
  strike(docs: readonly string[]): void {
    const at = this.now();
    const lines = docs.map((doc) => {
      if (!DOCUMENT_KEY.test(doc)) throw new Error(`not a document key: ${doc}`);
      return JSON.stringify({ strike: randomBytes(8).toString('hex'), doc, at, pid: process.pid });
    });
    if (lines.length) this.append(lines);
  }

  /** Drop the strikes against `doc` so far: it converted well. */
  clear(doc: string): void {
    if (!DOCUMENT_KEY.test(doc)) throw new Error(`not a document key: ${doc}`);
    this.append([JSON.stringify({ clear: doc, at: this.now() })]);
  }

  /** Every document with strikes that count, the most recently struck first. */
  documents(): Array<{ doc: string } & DocumentStrikes> {
    return [...this.read().keys()]
      .map((doc) => ({ doc, ...this.strikes(doc) }))
      .filter((d) => d.count > 0)
      .sort((a, b) => b.last - a.last);
  }

  /**
   * Appends `lines` in one write. If a sibling compacted the file between our open and our write,
   * they went into the file it moved aside (and may or may not be in what it kept): written
   * again to the current file. Lines carry ids, so one read twice counts once. A newline first:
   * after a torn last line (a disk that filled up, say) ours still start lines of their own.
   */
  private append(lines: readonly string[]): void {
    const text = `\n${lines.join('\n')}\n`;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    for (let attempt = 0; attempt < APPEND_ATTEMPTS; attempt++) {
      const fd = fs.openSync(this.file, 'a', 0o644);
      let size: number;
      let moved: boolean;
      try {
        fs.writeSync(fd, text);
        const mine = fs.fstatSync(fd);
        size = mine.size;
        moved = !sameFile(mine, statOrUndefined(this.file));
      } finally {
        fs.closeSync(fd);
      }
      if (!moved) {
        if (size > COMPACT_AT_BYTES) this.compact();
        return;
      }
    }
  }

  /**
   * Moves the file aside (rename is atomic: of two instances compacting at once, one gets it),
   * then appends what still counts from it to the file, which appends of siblings may have
   * started again meanwhile.
   */
  compact(): void {
    const aside = `${this.file}.${process.pid}.compacting`;
    try {
      fs.renameSync(this.file, aside);
    } catch {
      return; // a sibling is compacting it
    }
    try {
      const { kept, clears } = this.reduce(readTail(aside));
      const lines: string[] = [];
      for (const [doc, strikes] of kept) for (const [id, at] of strikes) lines.push(JSON.stringify({ strike: id, doc, at }));
      // Kept too: a strike written again after a sibling's compaction must stay cleared.
      for (const [doc, at] of clears) lines.push(JSON.stringify({ clear: doc, at }));
      if (lines.length) fs.appendFileSync(this.file, `\n${lines.join('\n')}\n`, { mode: 0o644 });
    } finally {
      fs.rmSync(aside, { force: true });
    }
  }

  /** Documents to their strike times, from the file (or the cache when the file did not change). */
  private read(): Map<string, number[]> {
    const stat = statOrUndefined(this.file);
    if (!stat) return new Map();
    const key = `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    if (this.cache?.key === key) return this.cache.strikes;
    const strikes = new Map<string, number[]>();
    for (const [doc, byId] of this.reduce(readTail(this.file)).kept) strikes.set(doc, [...byId.values()]);
    this.cache = { key, strikes };
    return strikes;
  }

  /**
   * What counts in `text`: strikes within their age and after their document's last clear, the
   * newest per document, the most recently struck documents; and the clears within that age.
   */
  private reduce(text: string): { kept: Map<string, Map<string, number>>; clears: Map<string, number> } {
    const strikes = new Map<string, Strike>();
    const clears = new Map<string, number>();
    const since = this.now() - this.ttlMs;
    for (const line of text.split('\n')) {
      const entry = parseLine(line);
      if (!entry || entry.at <= since) continue;
      if ('clear' in entry) clears.set(entry.clear, Math.max(entry.at, clears.get(entry.clear) ?? 0));
      else strikes.set(entry.strike, { doc: entry.doc, at: entry.at });
    }
    const byDoc = new Map<string, Array<[string, number]>>();
    for (const [id, { doc, at }] of strikes) {
      if (at <= (clears.get(doc) ?? 0)) continue;
      const list = byDoc.get(doc) ?? [];
      list.push([id, at]);
      byDoc.set(doc, list);
    }
    const latest = (list: Array<[string, number]>): number => Math.max(...list.map(([, at]) => at));
    const docs = [...byDoc.entries()].sort((a, b) => latest(b[1]) - latest(a[1])).slice(0, this.maxDocuments);
    const kept = new Map<string, Map<string, number>>();
    for (const [doc, list] of docs) kept.set(doc, new Map(list.sort((a, b) => b[1] - a[1]).slice(0, MAX_STRIKES_PER_DOCUMENT)));
    const recentClears = new Map([...clears].sort((a, b) => b[1] - a[1]).slice(0, this.maxDocuments));
    return { kept, clears: recentClears };
  }
}

type Entry = { strike: string; doc: string; at: number } | { clear: string; at: number };

function parseLine(line: string): Entry | undefined {
  if (!line) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.at !== 'number' || !Number.isFinite(v.at)) return undefined;
  if (typeof v.clear === 'string' && DOCUMENT_KEY.test(v.clear)) return { clear: v.clear, at: v.at };
  if (typeof v.strike === 'string' && typeof v.doc === 'string' && DOCUMENT_KEY.test(v.doc)) return { strike: v.strike, doc: v.doc, at: v.at };
  return undefined;
}

/** The file's last MAX_READ_BYTES as text ('' when it cannot be read); a cut first line is dropped. */
function readTail(file: string): string {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = fs.fstatSync(fd).size;
    const length = Math.min(size, MAX_READ_BYTES);
    const buffer = Buffer.alloc(length);
    const read = fs.readSync(fd, buffer, 0, length, size - length);
    const text = buffer.toString('utf8', 0, read);
    return length < size ? text.slice(text.indexOf('\n') + 1) : text;
  } catch {
    return '';
  } finally {
    fs.closeSync(fd);
  }
}

function statOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch {
    return undefined;
  }
}

function sameFile(a: fs.Stats, b: fs.Stats | undefined): boolean {
  return b !== undefined && a.dev === b.dev && a.ino === b.ino;
}
