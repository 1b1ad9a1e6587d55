import type { ConvertOptions, ConvertResult } from '../engine/types.js';

/**
 * What the HTTP layer needs from the conversion engine. The worker-thread pool
 * (./pool) implements it.
 */
export interface Converter {
  convert(bytes: Uint8Array, options: ConvertOptions): Promise<ConvertResult>;
  /** Figures for /health and /metrics. */
  stats(): ConverterStats;
  close(): Promise<void>;
}

export interface ConverterStats {
  kind: string;
  busy: number;
  queued: number;
  [key: string]: unknown;
}
