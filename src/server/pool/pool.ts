import { Worker } from 'node:worker_threads';
import { DocmarkError } from '../../errors.js';
import type { ConvertOptions, ConvertResult } from '../../engine/types.js';
import type { Converter, ConverterStats } from '../converter.js';
import type { FromWorker, ToWorker, WireError, WorkerSettings } from './messages.js';

/**
 * Conversions run in a fixed number of worker threads, one conversion per thread at a
 * time; the server's own thread only parses requests and answers them, so /health stays
 * responsive. Limits are enforced from outside the worker, which is the only way to stop
 * a thread stuck in a loop or drowning in allocations:
 *
 * - a bounded queue: when it is full the client gets 503 `queue_full` with Retry-After;
 * - a time limit per conversion: the worker is terminated (504 `timeout`) and replaced;
 * - a V8 heap limit per worker (resourceLimits): the PDF that exhausts it ends only its
 *   own worker (422 `out_of_memory`), which is replaced;
 * - recycling after `maxTasks` conversions, so native memory (pdfjs, canvas, onnxruntime)
 *   goes back to the OS with the thread.
 */
export interface PoolOptions {
  size: number;
  maxQueue: number;
  timeoutMs: number;
  heapMb: number;
  maxTasks: number;
  /** Threads per OCR inference in each worker. */
  ocrThreads: number;
  log?: (line: Record<string, unknown>) => void;
}

interface Task {
  id: number;
  bytes: Uint8Array;
  options: ConvertOptions;
  resolve: (result: ConvertResult) => void;
  reject: (err: DocmarkError) => void;
  timer?: NodeJS.Timeout;
  startedAt?: number;
}

interface Slot {
  worker: Worker;
  task?: Task;
  tasksDone: number;
  /** V8 heap in use after its last task (bytes). */
  heapUsed: number;
  ready: boolean;
  /** Set when the pool ends the worker itself; its exit is then expected. */
  ending: boolean;
  /** The 'error' event that came before an unexpected exit (OOM, crash). */
  lastError?: Error & { code?: string };
}

/** Seconds clients are told to wait, whatever the estimate says. */
const RETRY_AFTER_MIN_S = 1;
const RETRY_AFTER_MAX_S = 60;
/** A retiring worker gets this long to release OCR sessions before it is terminated. */
const RETIRE_GRACE_MS = 5_000;
/** Respawn back-off when workers die before becoming ready (broken install, crash loop). */
const RESPAWN_BACKOFF_MAX_MS = 30_000;

// Compiled: dist/server/pool/worker.js. Under tsx (source), worker.ts with the same loader.
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

export class WorkerPool implements Converter {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private readonly retiring = new Set<Worker>();
  private nextId = 1;
  private closed = false;
  private startFailures = 0;
  private respawnTimer?: NodeJS.Timeout;
  /** Moving average of conversion time, for Retry-After. */
  private avgTaskMs = 2_000;
  private readonly counts = { tasks_done: 0, recycled: 0, timeouts: 0, crashes: 0, out_of_memory: 0 };

  constructor(private readonly options: PoolOptions) {
    for (let i = 0; i < options.size; i++) this.slots.push(this.spawn());
  }

  convert(bytes: Uint8Array, options: ConvertOptions): Promise<ConvertResult> {
    if (this.closed) return Promise.reject(new DocmarkError('draining', 'This server instance is shutting down; retry shortly.', { retryAfter: 2 }));
    const idle = this.slots.find((s) => !s.task);
    if (!idle && this.queue.length >= this.options.maxQueue) {
      return Promise.reject(
        new DocmarkError(
          'queue_full',
          `All ${this.slots.length} conversion workers are busy and ${this.queue.length} ${this.queue.length === 1 ? 'conversion is' : 'conversions are'} waiting; retry later.`,
          { retryAfter: this.retryAfterSeconds() },
        ),
      );
    }
    return new Promise<ConvertResult>((resolve, reject) => {
      const task: Task = { id: this.nextId++, bytes, options, resolve, reject };
      if (idle) this.run(idle, task);
      else this.enqueue(task);
    });
  }

  stats(): ConverterStats {
    return {
      kind: 'worker-pool',
      workers: this.slots.length,
      busy: this.slots.filter((s) => s.task).length,
      queued: this.queue.length,
      max_queue: this.options.maxQueue,
      ...this.counts,
      worker_heap_mb: this.slots.map((s) => Math.round(s.heapUsed / 1024 / 1024)),
    };
  }

  /** End every worker. Conversions still running or queued fail with 503 `draining`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.respawnTimer);
    const gone = new DocmarkError('draining', 'This server instance is shutting down; retry shortly.', { retryAfter: 2 });
    for (const task of this.queue.splice(0)) {
      clearTimeout(task.timer);
      task.reject(gone);
    }
    const workers = [...this.slots.map((s) => s.worker), ...this.retiring];
    for (const slot of this.slots.splice(0)) {
      slot.ending = true;
      if (slot.task) this.finish(slot, slot.task).reject(gone);
    }
    this.retiring.clear();
    await Promise.all(workers.map((w) => w.terminate().catch(() => undefined)));
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_URL, {
      name: 'docmark-converter',
      workerData: { ocrThreads: this.options.ocrThreads } satisfies WorkerSettings,
      resourceLimits: { maxOldGenerationSizeMb: this.options.heapMb },
    });
    const slot: Slot = { worker, tasksDone: 0, heapUsed: 0, ready: false, ending: false };
    worker.on('message', (msg: FromWorker) => this.onMessage(slot, msg));
    worker.on('error', (err) => (slot.lastError = err));
    worker.on('exit', (code) => this.onExit(slot, code));
    return slot;
  }

  /** Waiting is bounded too: no worker for a whole time limit (all stuck, none can start) → 504. */
  private enqueue(task: Task): void {
    this.queue.push(task);
    task.timer = setTimeout(() => {
      const index = this.queue.indexOf(task);
      if (index === -1) return;
      this.queue.splice(index, 1);
      this.counts.timeouts++;
      task.reject(
        new DocmarkError('timeout', `No conversion worker became free within the limit of ${this.options.timeoutMs / 1000} s (DOCMARK_TIMEOUT_S).`),
      );
    }, this.options.timeoutMs);
  }

  private run(slot: Slot, task: Task): void {
    clearTimeout(task.timer);
    slot.task = task;
    task.startedAt = performance.now();
    task.timer = setTimeout(() => this.onTimeout(slot, task), this.options.timeoutMs);
    const bytes = transferable(task.bytes);
    task.bytes = EMPTY; // the worker owns the PDF now; nothing here keeps it
    const msg: ToWorker = { type: 'convert', id: task.id, bytes, options: task.options };
    slot.worker.postMessage(msg, [bytes.buffer as ArrayBuffer]);
  }

  private onMessage(slot: Slot, msg: FromWorker): void {
    switch (msg.type) {
      case 'ready':
        slot.ready = true;
        this.startFailures = 0;
        return;
      case 'log':
        this.options.log?.({ ...msg.line, worker: slot.worker.threadId });
        return;
      case 'retired':
        void slot.worker.terminate();
        return;
      case 'result':
      case 'error': {
        const task = slot.task;
        if (!task || task.id !== msg.id) return; // answered already (timed out)
        this.finish(slot, task);
        this.counts.tasks_done++;
        slot.tasksDone++;
        slot.heapUsed = msg.heapUsed;
        if (msg.type === 'result') {
          this.avgTaskMs = 0.8 * this.avgTaskMs + 0.2 * (performance.now() - (task.startedAt ?? 0));
          task.resolve(msg.result);
        } else {
          task.reject(this.fromWire(msg.error));
        }
        if (slot.tasksDone >= this.options.maxTasks) this.retire(slot);
        else this.next(slot);
        return;
      }
    }
  }

  private onTimeout(slot: Slot, task: Task): void {
    if (slot.task !== task) return;
    this.counts.timeouts++;
    this.options.log?.({
      level: 'warn',
      msg: 'conversion timed out; ending its worker',
      worker: slot.worker.threadId,
      timeout_s: this.options.timeoutMs / 1000,
    });
    this.finish(slot, task).reject(
      new DocmarkError(
        'timeout',
        `The conversion took longer than the limit of ${this.options.timeoutMs / 1000} s (DOCMARK_TIMEOUT_S) and was stopped.`,
      ),
    );
    slot.ending = true;
    void slot.worker.terminate();
    this.replace(slot);
  }

  private onExit(slot: Slot, code: number): void {
    this.retiring.delete(slot.worker);
    if (slot.ending || this.closed) return;
    const err = slot.lastError;
    const outOfMemory = err?.code === 'ERR_WORKER_OUT_OF_MEMORY';
    if (outOfMemory) this.counts.out_of_memory++;
    else this.counts.crashes++;
    this.options.log?.({
      level: 'error',
      msg: outOfMemory ? 'worker ran out of memory' : 'worker exited unexpectedly',
      worker: slot.worker.threadId,
      exit_code: code,
      converting: Boolean(slot.task),
      error: err ? String(err.stack ?? err) : undefined,
    });
    const hadTask = Boolean(slot.task);
    if (slot.task) {
      this.finish(slot, slot.task).reject(
        outOfMemory
          ? new DocmarkError(
              'out_of_memory',
              `The conversion ran out of memory: it needed more than the ${this.options.heapMb} MB heap limit of a conversion worker (DOCMARK_WORKER_HEAP_MB) and was stopped. The PDF is too large or too complex for this server.`,
            )
          : new DocmarkError(
              'worker_crashed',
              `The conversion worker crashed${err ? ` (${err.message})` : ` (exit code ${code})`}; the PDF could not be converted.`,
            ),
      );
    }
    if (slot.ready || hadTask) {
      this.replace(slot);
      return;
    }
    // Died before it could even start: do not spin; try again later.
    this.startFailures++;
    const delay = Math.min(RESPAWN_BACKOFF_MAX_MS, 250 * 2 ** this.startFailures);
    const index = this.slots.indexOf(slot);
    if (index !== -1) this.slots.splice(index, 1);
    this.respawnTimer = setTimeout(() => this.grow(), delay);
    this.respawnTimer.unref();
  }

  /** Put a fresh worker in place of `old`, and give it the next queued task. */
  private replace(old: Slot): void {
    const index = this.slots.indexOf(old);
    if (index === -1 || this.closed) return;
    const fresh = this.spawn();
    this.slots[index] = fresh;
    this.next(fresh);
  }

  /** Refill the pool up to its size (after start failures). */
  private grow(): void {
    while (!this.closed && this.slots.length < this.options.size) {
      const slot = this.spawn();
      this.slots.push(slot);
      this.next(slot);
    }
  }

  /** Recycle: a fresh worker takes the slot now; the old one finishes up in the background. */
  private retire(slot: Slot): void {
    this.counts.recycled++;
    slot.ending = true;
    this.retiring.add(slot.worker);
    this.replace(slot);
    slot.worker.postMessage({ type: 'retire' } satisfies ToWorker);
    const worker = slot.worker;
    setTimeout(() => void worker.terminate(), RETIRE_GRACE_MS).unref();
  }

  private next(slot: Slot): void {
    const task = this.queue.shift();
    if (task) this.run(slot, task);
  }

  /** Detach a task from its slot; returns it so the caller can settle it. */
  private finish(slot: Slot, task: Task): Task {
    clearTimeout(task.timer);
    if (slot.task === task) slot.task = undefined;
    return task;
  }

  private fromWire(error: WireError): DocmarkError {
    if (error.code !== 'internal_error') return new DocmarkError(error.code, error.message);
    this.options.log?.({ level: 'error', msg: 'conversion failed unexpectedly', error: error.stack ?? error.message });
    return new DocmarkError('internal_error', 'The server failed to convert this PDF.');
  }

  private retryAfterSeconds(): number {
    const waitMs = (this.avgTaskMs * (this.queue.length + 1)) / Math.max(1, this.slots.length);
    return Math.min(RETRY_AFTER_MAX_S, Math.max(RETRY_AFTER_MIN_S, Math.ceil(waitMs / 1000)));
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Bytes that can be moved to another thread without copying: they must own their whole
 * ArrayBuffer. A slice of a larger buffer (Node's shared pool for small Buffers) is
 * copied once, so that transferring it cannot detach memory something else uses.
 */
function transferable(bytes: Uint8Array): Uint8Array {
  const buffer = bytes.buffer;
  if (buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength) return bytes;
  return new Uint8Array(bytes);
}
