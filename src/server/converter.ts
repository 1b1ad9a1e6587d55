import { convertPdf } from '../engine/convert.js';
import type { ConvertOptions, ConvertResult } from '../engine/types.js';

/**
 * What the HTTP layer needs from the conversion engine. The in-process converter
 * runs on the server's own thread; a worker-thread pool implements the same interface.
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

export class InProcessConverter implements Converter {
  private busy = 0;

  async convert(bytes: Uint8Array, options: ConvertOptions): Promise<ConvertResult> {
    this.busy++;
    try {
      return await convertPdf(bytes, options);
    } finally {
      this.busy--;
    }
  }

  stats(): ConverterStats {
    return { kind: 'in-process', busy: this.busy, queued: 0 };
  }

  async close(): Promise<void> {}
}
