import os from 'node:os';
import type { Config } from '../config.js';

// How much work this host takes at once, as /health advertises it: batch clients size their
// concurrency by it, and instances × workers × OCR threads is what competes for the cores.

export interface Capacity {
  /** Conversion workers in this instance. */
  workers: number;
  /** Server instances on this machine (PM2 cluster instances, or 1). */
  instances: number;
  /** Threads per OCR inference in each worker. */
  ocr_threads: number;
  /** Conversions the host runs at once: instances × workers. */
  concurrency: number;
}

export function capacityOf(config: Config): Capacity {
  const ocrThreads = Math.max(1, Math.min(config.ocrThreads, os.availableParallelism()));
  return { workers: config.workers, instances: config.instances, ocr_threads: ocrThreads, concurrency: config.instances * config.workers };
}
