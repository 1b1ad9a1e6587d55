import os from 'node:os';

// Conversions are batch work; /health and new requests must not wait behind them. On Linux
// the nice value is per thread and inherited by the threads a thread starts (onnxruntime's,
// canvas's), so this lowers only the worker that imports it — first, before its other
// imports start threads. Where that is not possible, the worker runs at normal priority.

export const WORKER_NICE = 5;

try {
  os.setPriority(0, WORKER_NICE);
} catch {
  // not permitted here: normal priority
}
