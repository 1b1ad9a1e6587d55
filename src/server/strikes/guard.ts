import type client from 'prom-client';
import { DocmarkError } from '../../errors.js';
import type { ConvertOptions, ConvertResult } from '../../engine/types.js';
import type { Admission, Converter, ConverterStats, ProgressListener } from '../converter.js';
import { documentHash, documentKey } from './key.js';
import type { StrikeLedger } from './ledger.js';

// A document that by itself needs more memory than an instance's limit would end every instance
// it reaches: its client gets a retryable 503 each time, and retries. So every conversion is
// keyed by its document (key.ts) when it is handed to the pool, the instance that leaves over its
// memory limit strikes the documents converting at that moment in the shared ledger (ledger.ts),
// and a document with DOCMARK_MEMORY_STRIKES strikes is refused with a 422 that is not retried.
// A document that converts well has its strikes cleared: it fits in the limit, and a strike it
// got was for converting beside the one that did not.
// Both ways in (POST /convert and the job runner) convert through this converter.

type Log = (line: Record<string, unknown>) => void;

export interface MemoryStrikesOptions {
  ledger: StrikeLedger;
  /** Strikes at which a document is refused (≥ 1). */
  threshold: number;
  /** DOCMARK_MAX_MEMORY as set (e.g. `8G`), for the refusal's message. */
  maxMemory: string;
  log?: Log;
}

export interface MemoryStrikesStatus {
  strikes_to_refuse: number;
  ledger: string;
  refused: number;
  last_refused: { sha256: string; key: string; strikes: number; at: string } | null;
  /** Strikes this instance recorded (on its way out). */
  recorded: number;
}

interface Conversion {
  key: string;
  /** A worker took it. */
  started: boolean;
  /** A strike was recorded against it. */
  struck?: boolean;
}

export class MemoryStrikes implements Converter {
  private readonly converting = new Set<Conversion>();
  private excuse: string | undefined;
  private refused = 0;
  private recorded = 0;
  private lastRefused: MemoryStrikesStatus['last_refused'] = null;

  constructor(
    private readonly inner: Converter,
    private readonly options: MemoryStrikesOptions,
  ) {}

  admit(): Admission {
    const admission = this.inner.admit();
    return {
      convert: (bytes, options, signal, onProgress, onStart) => this.convert(admission, bytes, options, signal, onProgress, onStart),
      release: () => admission.release(),
    };
  }

  /**
   * Strike the documents whose conversions run now (not those queued): called once, as the
   * instance passes its memory limit. Synchronous, so the record is on disk whatever ends the process next.
   */
  strikeRunning(): number {
    const running = [...this.converting].filter((c) => c.started && !c.struck);
    if (this.excuse) {
      this.options.log?.({
        level: 'info',
        msg: 'memory limit passed by something else than conversions: no strikes',
        cause: this.excuse,
        running: running.length,
      });
      return 0;
    }
    if (!running.length) return 0;
    try {
      this.options.ledger.strike(running.map((c) => c.key));
      for (const c of running) c.struck = true;
      this.recorded += running.length;
    } catch (err) {
      this.options.log?.({ level: 'error', msg: 'memory strikes could not be recorded', ledger: this.options.ledger.file, error: String(err) });
      return 0;
    }
    this.options.log?.({
      level: 'warn',
      msg: 'memory limit: a strike recorded against each document converting',
      documents: running.map((c) => ({ key: c.key, strikes: this.strikesOf(c.key) })),
      ledger: this.options.ledger.file,
    });
    return running.length;
  }

  /** The memory over the limit is not the conversions' doing (a test's ballast): strike nothing. */
  excuseFromStrikes(cause: string): void {
    this.excuse = cause;
  }

  status(): MemoryStrikesStatus {
    return {
      strikes_to_refuse: this.options.threshold,
      ledger: this.options.ledger.file,
      refused: this.refused,
      last_refused: this.lastRefused,
      recorded: this.recorded,
    };
  }

  /** docmark_memory_strike_refusals_total and docmark_memory_strikes_recorded_total. */
  register(registry: client.Registry, prom: typeof client): void {
    const strikes = this;
    new prom.Counter({
      name: 'docmark_memory_strike_refusals_total',
      help: 'Conversions refused (422 memory_limit_document): their document took instances past DOCMARK_MAX_MEMORY DOCMARK_MEMORY_STRIKES times.',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(strikes.refused);
      },
    });
    new prom.Counter({
      name: 'docmark_memory_strikes_recorded_total',
      help: 'Strikes this instance recorded against documents converting when it passed DOCMARK_MAX_MEMORY.',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(strikes.recorded);
      },
    });
  }

  endLargest(error: DocmarkError): { bytes: number } | undefined {
    return this.inner.endLargest?.(error);
  }

  shed(error: DocmarkError): number {
    return this.inner.shed?.(error) ?? 0;
  }

  endRunning(error: DocmarkError): number {
    return this.inner.endRunning?.(error) ?? 0;
  }

  stats(): ConverterStats {
    return this.inner.stats();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async convert(
    admission: Admission,
    bytes: Uint8Array,
    options: ConvertOptions,
    signal?: AbortSignal,
    onProgress?: ProgressListener,
    onStart?: () => void,
  ): Promise<ConvertResult> {
    const key = await documentKey(bytes, options);
    const strikes = this.refuseIfStruck(key);
    const conversion: Conversion = { key, started: false };
    this.converting.add(conversion);
    try {
      const result = await admission.convert(bytes, options, signal, onProgress, () => {
        conversion.started = true;
        onStart?.();
      });
      if (conversion.struck || strikes > 0) this.clear(conversion);
      return result;
    } finally {
      this.converting.delete(conversion);
    }
  }

  /** Throws 422 `memory_limit_document` for a document struck often enough; else returns its strikes. */
  private refuseIfStruck(key: string): number {
    const strikes = this.strikesOf(key);
    if (strikes < this.options.threshold) return strikes;
    this.refused++;
    const sha256 = documentHash(key);
    this.lastRefused = { sha256, key, strikes, at: new Date().toISOString() };
    this.options.log?.({ level: 'warn', msg: 'document refused: it took instances past their memory limit', sha256, key, strikes });
    const hours = Math.round(this.options.ledger.ttlMs / 3_600_000);
    const part = key.length > sha256.length ? ` (${key.slice(sha256.length + 1)})` : '';
    throw new DocmarkError(
      'memory_limit_document',
      `This PDF${part} took a server instance past its memory limit (DOCMARK_MAX_MEMORY = ${this.options.maxMemory}) ${strikes} times in the last ${hours} hours, so it is not converted again: retrying cannot help. Convert a smaller page range (page_range), or ask the operator to raise DOCMARK_MAX_MEMORY; the record of this document (sha256 ${sha256}) expires ${hours} hours after its last strike.`,
    );
  }

  /** Strikes that count against `key`; a ledger that cannot be read counts none. */
  private strikesOf(key: string): number {
    try {
      return this.options.ledger.strikes(key).count;
    } catch {
      return 0;
    }
  }

  private clear(conversion: Conversion): void {
    try {
      this.options.ledger.clear(conversion.key);
      this.options.log?.({ level: 'info', msg: 'memory strikes cleared: the document converted well', key: conversion.key });
    } catch (err) {
      this.options.log?.({ level: 'warn', msg: 'memory strikes could not be cleared', ledger: this.options.ledger.file, error: String(err) });
    }
  }
}
