import './worker-priority.js'; // first: before any module starts threads of its own
import { parentPort, workerData } from 'node:worker_threads';
import { convertPdf, releaseOcr } from '../../engine/convert.js';
import { pdfjs } from '../../engine/load/pdf.js';
import { isDocmarkError } from '../../errors.js';
import { setOcrThreads } from '../../ocr/threads.js';
import type { FromWorker, ToWorker, WireError, WorkerSettings } from './messages.js';
import { runTestHooks } from './test-hooks.js';

/**
 * Entry point of a conversion worker thread: one conversion at a time, sent by the pool.
 * The pool enforces the time and heap limits from outside; this side only converts and
 * reports, and never lets an error escape as a crash.
 */
if (!parentPort) throw new Error('pool/worker.js runs only as a worker thread');
const port = parentPort;
setOcrThreads((workerData as WorkerSettings).ocrThreads);
const send = (msg: FromWorker): void => port.postMessage(msg);

// A stray rejection inside pdfjs must not end the thread (and the conversion with it).
process.on('unhandledRejection', (reason) => {
  send({ type: 'log', line: { level: 'warn', msg: 'unhandled rejection in worker', error: String((reason as Error)?.stack ?? reason) } });
});

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'convert') void convert(msg.id, msg.bytes, msg.options);
  else if (msg.type === 'retire') void retire();
});

async function convert(id: number, bytes: Uint8Array, options: Extract<ToWorker, { type: 'convert' }>['options']): Promise<void> {
  try {
    runTestHooks(bytes);
    const result = await convertPdf(bytes, options);
    send({ type: 'result', id, result, heapUsed: process.memoryUsage().heapUsed });
  } catch (err) {
    send({ type: 'error', id, error: toWire(err), heapUsed: process.memoryUsage().heapUsed });
  }
}

function toWire(err: unknown): WireError {
  if (isDocmarkError(err)) return { code: err.code, message: err.message };
  return { code: 'internal_error', message: String((err as Error)?.message ?? err), stack: String((err as Error)?.stack ?? err) };
}

/** onnxruntime sessions belong to this thread: release them before it ends (if it used OCR). */
async function retire(): Promise<void> {
  try {
    await releaseOcr();
  } catch (err) {
    send({ type: 'log', line: { level: 'warn', msg: 'closing OCR in a retiring worker failed', error: String(err) } });
  }
  send({ type: 'retired' });
}

// Load pdfjs now so the first conversion does not pay for it.
await pdfjs();
send({ type: 'ready' });
