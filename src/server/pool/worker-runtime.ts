import './worker-priority.js'; // first: before any module starts threads of its own
import { parentPort, workerData } from 'node:worker_threads';
import { setCancelSource, uninterruptible } from '../../engine/cancel.js';
import { convertPdf, releaseOcr } from '../../engine/convert.js';
import { pdfjs } from '../../engine/load/pdf.js';
import type { ConvertOptions } from '../../engine/types.js';
import { isDocmarkError } from '../../errors.js';
import { setOcrThreads } from '../../ocr/threads.js';
import { WorkerControl } from './control.js';
import type { FromWorker, ToWorker, WireError, WorkerSettings } from './messages.js';

// The body of a conversion worker thread: one conversion at a time, sent by the pool. The pool
// enforces the time and heap limits from outside; this side converts, reports, stops at the next
// checkpoint when the pool cancels its task, and never lets an error escape as a crash.

export interface WorkerHooks {
  /** Runs before each conversion, in the worker thread. */
  beforeConvert?: (bytes: Uint8Array) => void;
}

export async function runConversionWorker(hooks: WorkerHooks = {}): Promise<void> {
  if (!parentPort) throw new Error('a conversion worker runs only as a worker thread');
  const port = parentPort;
  const settings = workerData as WorkerSettings;
  setOcrThreads(settings.ocrThreads);
  const control = new WorkerControl(settings.control);
  const send = (msg: FromWorker): void => port.postMessage(msg);

  let running = 0;
  setCancelSource({
    cancelled: () => running !== 0 && control.isCancelled(running),
    enterNative: () => control.enterNative(),
    leaveNative: () => control.leaveNative(),
  });

  // A stray rejection inside pdfjs must not end the thread (and the conversion with it).
  process.on('unhandledRejection', (reason) => {
    send({ type: 'log', line: { level: 'warn', msg: 'unhandled rejection in worker', error: String((reason as Error)?.stack ?? reason) } });
  });

  const convert = async (id: number, bytes: Uint8Array, options: ConvertOptions): Promise<void> => {
    running = id;
    try {
      hooks.beforeConvert?.(bytes);
      const result = await convertPdf(bytes, options, {
        onOcrPage: () => send({ type: 'ocr-page', id }),
        onPage: (done, total) => send({ type: 'page', id, done, total }),
        handOver: true,
      });
      send({ type: 'result', id, result, heapUsed: process.memoryUsage().heapUsed });
    } catch (err) {
      send({ type: 'error', id, error: toWire(err), heapUsed: process.memoryUsage().heapUsed });
    } finally {
      running = 0;
    }
  };

  // onnxruntime sessions belong to this thread: release them before it ends (if it used OCR).
  const retire = async (): Promise<void> => {
    try {
      await uninterruptible(releaseOcr);
    } catch (err) {
      send({ type: 'log', line: { level: 'warn', msg: 'closing OCR in a retiring worker failed', error: String(err) } });
    }
    send({ type: 'retired' });
  };

  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'convert') void convert(msg.id, msg.bytes, msg.options);
    else if (msg.type === 'retire') void retire();
  });

  // Load pdfjs now so the first conversion does not pay for it.
  await pdfjs();
  send({ type: 'ready' });
}

function toWire(err: unknown): WireError {
  if (isDocmarkError(err)) return { code: err.code, message: err.message };
  return { code: 'internal_error', message: String((err as Error)?.message ?? err), stack: String((err as Error)?.stack ?? err) };
}
