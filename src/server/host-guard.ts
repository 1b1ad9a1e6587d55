import fs from 'node:fs';
import os from 'node:os';
import type client from 'prom-client';
import { DocmarkError } from '../errors.js';

// The host never runs out of memory because of us. PM2 looks at an instance's RSS every 30 s and
// a worker's heap limit does not bound native memory (canvas, onnxruntime, buffers), so each
// instance also watches the host's available memory, sampled in the background:
// - below the lower admission mark it stops taking new work (503 `low_memory` with Retry-After,
//   the upload unread), until memory is back above it;
// - below the critical mark it ends its biggest running conversion (503 `low_memory` to that
//   client) instead of letting the kernel's OOM killer pick a process, possibly this one.

export interface HostGuardOptions {
  /** Below this many available bytes, no new conversion is admitted; 0 = off. */
  minFreeBytes: number;
  /** Below this many available bytes, the biggest running conversion is ended; 0 = off. */
  criticalFreeBytes: number;
  /** How often available memory is read. */
  sampleMs?: number;
  /** Ends the biggest running conversion with `error`; what it ended, or undefined if none ran. */
  endLargest: (error: DocmarkError) => { bytes: number } | undefined;
  /** Available memory in bytes, or undefined when it cannot be read (tests substitute it). */
  readAvailable?: () => number | undefined;
  log?: (line: Record<string, unknown>) => void;
}

export type GuardState = 'ok' | 'refusing' | 'critical';

export interface GuardStatus {
  state: GuardState;
  /** Why new work is refused, for /health; null when admitting. */
  reason: string | null;
  available_mb: number | null;
  min_free_mb: number;
  critical_free_mb: number;
  sampled_at: string | null;
  /** Requests refused with 503 `low_memory` since start. */
  refused: number;
  /** Running conversions ended below the critical mark since start. */
  ended: number;
}

/** Often enough to see a conversion's native memory climb (pages render in well under a second), cheap enough to ignore (a /proc read is ~20 µs). */
export const GUARD_SAMPLE_MS = 1000;
/** After ending one conversion, its memory takes a moment to go back (the worker stops at its next checkpoint): the next is ended only after this. */
export const END_COOLDOWN_MS = 5000;
/** What refused clients are told to wait: memory comes back as running conversions end. */
export const LOW_MEMORY_RETRY_AFTER_S = 10;

const MB = 1024 * 1024;

/** MemAvailable from /proc/meminfo (Linux): what the kernel can give without swapping. Elsewhere, os.freemem(). */
export function readAvailableBytes(): number | undefined {
  try {
    const text = fs.readFileSync('/proc/meminfo', 'latin1');
    const match = /^MemAvailable:\s+(\d+) kB/m.exec(text);
    if (match) return Number(match[1]) * 1024;
  } catch {
    // Not Linux, or /proc not mounted.
  }
  return os.freemem();
}

export class HostGuard {
  private available: number | undefined;
  private sampledAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastEndAt = -Infinity;
  private readonly counts = { refused: 0, ended: 0 };
  private readonly sampleMs: number;
  private readonly readAvailable: () => number | undefined;

  constructor(private readonly options: HostGuardOptions) {
    this.sampleMs = options.sampleMs ?? GUARD_SAMPLE_MS;
    this.readAvailable = options.readAvailable ?? readAvailableBytes;
  }

  get enabled(): boolean {
    return this.options.minFreeBytes > 0 || this.options.criticalFreeBytes > 0;
  }

  start(): this {
    if (!this.enabled) return this;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.sampleMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  state(): GuardState {
    const free = this.available;
    if (free === undefined) return 'ok';
    if (this.options.criticalFreeBytes > 0 && free < this.options.criticalFreeBytes) return 'critical';
    if (this.options.minFreeBytes > 0 && free < this.options.minFreeBytes) return 'refusing';
    return 'ok';
  }

  /** True while new work is refused: below the admission mark (0 turns refusing off, even when critical). */
  get refusing(): boolean {
    return this.options.minFreeBytes > 0 && this.available !== undefined && this.available < this.options.minFreeBytes;
  }

  /** Throws 503 `low_memory` (with Retry-After) while the host is below the admission mark. */
  admit(): void {
    if (!this.refusing) return;
    this.counts.refused++;
    throw new DocmarkError(
      'low_memory',
      `This server's host is low on memory (${mb(this.available)} MB available, below DOCMARK_MIN_FREE_MB = ${mb(this.options.minFreeBytes)} MB); retry later.`,
      { retryAfter: LOW_MEMORY_RETRY_AFTER_S },
    );
  }

  status(): GuardStatus {
    const state = this.state();
    return {
      state,
      reason: this.reason(state),
      available_mb: this.available === undefined ? null : mb(this.available),
      min_free_mb: mb(this.options.minFreeBytes),
      critical_free_mb: mb(this.options.criticalFreeBytes),
      sampled_at: this.sampledAt === undefined ? null : new Date(this.sampledAt).toISOString(),
      ...this.counts,
    };
  }

  /** docmark_host_available_bytes and docmark_host_guard_events{event="refused"|"ended"}. */
  register(registry: client.Registry, prom: typeof client): void {
    const guard = this;
    new prom.Gauge({
      name: 'docmark_host_available_bytes',
      help: "The host's available memory (MemAvailable) at the host guard's last sample.",
      registers: [registry],
      collect() {
        if (guard.available !== undefined) this.set(guard.available);
      },
    });
    new prom.Gauge({
      name: 'docmark_host_guard_events',
      help: 'Host guard events since the process started: refused (503 low_memory before the upload was read), ended (running conversions ended below the critical mark).',
      labelNames: ['event'],
      registers: [registry],
      collect() {
        this.set({ event: 'refused' }, guard.counts.refused);
        this.set({ event: 'ended' }, guard.counts.ended);
      },
    });
  }

  private reason(state: GuardState): string | null {
    if (state === 'ok') return null;
    const free = mb(this.available);
    if (state === 'critical')
      return `host memory critical: ${free} MB available, below DOCMARK_CRITICAL_FREE_MB = ${mb(this.options.criticalFreeBytes)} MB`;
    return `host memory low: ${free} MB available, below DOCMARK_MIN_FREE_MB = ${mb(this.options.minFreeBytes)} MB; new conversions are refused`;
  }

  private sample(): void {
    const before = this.state();
    const available = this.readAvailable();
    if (available === undefined) return;
    this.available = available;
    this.sampledAt = Date.now();
    const now = this.state();
    if (now !== before) this.options.log?.({ level: now === 'ok' ? 'info' : 'warn', msg: 'host guard', state: now, available_mb: mb(available) });
    if (now === 'critical') this.endLargest(available);
  }

  private endLargest(available: number): void {
    const now = performance.now();
    if (now - this.lastEndAt < END_COOLDOWN_MS) return;
    const error = new DocmarkError(
      'low_memory',
      `The conversion was stopped because this server's host ran critically low on memory (${mb(available)} MB available, below DOCMARK_CRITICAL_FREE_MB = ${mb(this.options.criticalFreeBytes)} MB); retry later.`,
      { retryAfter: LOW_MEMORY_RETRY_AFTER_S },
    );
    const ended = this.options.endLargest(error);
    if (!ended) return;
    this.lastEndAt = now;
    this.counts.ended++;
    this.options.log?.({
      level: 'warn',
      msg: 'host memory critical: ended the biggest running conversion',
      available_mb: mb(available),
      pdf_bytes: ended.bytes,
    });
  }
}

function mb(bytes: number | undefined): number {
  return bytes === undefined ? 0 : Math.round(bytes / MB);
}
