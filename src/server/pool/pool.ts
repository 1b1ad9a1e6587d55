import { Worker } from 'node:worker_threads';
import { DocmarkError } from '../../errors.js';
import type { ConvertOptions, ConvertResult, Page } from '../../engine/types.js';
import type { Admission, Converter, ConverterStats, ProgressListener } from '../converter.js';
import { newControlBuffer, WorkerControl } from './control.js';
import type { FromWorker, ToWorker, WireError, WorkerSettings } from './messages.js';

// Conversions run in a fixed number of worker threads, one conversion per thread at a time; the
// server's own thread only parses requests and answers them, so /health stays responsive.
//
// - Admission: a request takes a place (a worker or a queue slot) before its upload is read, so
//   the uploads held in memory never exceed (workers + queue) of them; without a place, 503
//   `queue_full` with Retry-After.
// - A time limit per conversion, longer by an allowance for every page read with OCR; over it the
//   client gets 504 `timeout` at once and the conversion is cancelled.
// - Cancelling (time limit, client gone) is cooperative: the worker stops at its next checkpoint
//   and takes the next task. A worker that does not stop within a grace period (JavaScript that
//   never yields) is replaced at once and ended as soon as it is outside native code: ending a
//   thread inside an onnxruntime call aborts the whole process (see control.ts).
// - A V8 heap limit per worker (resourceLimits): the PDF that exhausts it ends only its own
//   worker (422 `out_of_memory`), which is replaced.
// - Recycling after `maxTasks` conversions, so native memory (pdfjs, canvas, onnxruntime) goes
//   back to the OS with the thread.

export interface PoolOptions {
  size: number;
  maxQueue: number;
  timeoutMs: number;
  /** Added to a conversion's time limit for each page it reads with OCR. */
  ocrPageMs: number;
  heapMb: number;
  maxTasks: number;
  /** Threads per OCR inference in each worker. */
  ocrThreads: number;
  /** A conversion of more pages than this is shared with the workers idle at the time (0: never). */
  splitPages?: number;
  /** The worker entry module; tests pass one with misbehaviour hooks. */
  workerUrl?: URL;
  log?: (line: Record<string, unknown>) => void;
}

interface Task {
  id: number;
  bytes: Uint8Array;
  /** The PDF's size: what the host guard weighs running conversions by. */
  size: number;
  options: ConvertOptions;
  resolve: (result: ConvertResult) => void;
  reject: (err: DocmarkError) => void;
  onProgress?: ProgressListener;
  /** A worker took it (shares of another conversion have none). */
  onStart?: () => void;
  /** The client's answer is given (or nobody is waiting); the worker may still be stopping. */
  settled: boolean;
  timer?: NodeJS.Timeout;
  startedAt?: number;
  /** When it must end (performance.now()); grows with each OCR page. */
  deadline: number;
  stopListening?: () => void;
  /** Its pages are shared with other workers. */
  split?: Split;
  /** It is a share of another task's pages, read by the worker whose slot holds it. */
  share?: Share;
}

/** A conversion whose pages other workers read in part (see planSplit). */
interface Split {
  /** Pages selected. */
  total: number;
  /** Pages read by the conversion's own worker. */
  doneHere: number;
  shares: Task[];
  /** Progress last reported (never goes back when a share is given back and read again). */
  reported: number;
}

interface Share {
  parent: Task;
  /** Its place in the parent's plan. */
  no: number;
  indexes: number[];
  done: number;
  /** The file has been sent to its worker. */
  sent: boolean;
}

interface Slot {
  worker: Worker;
  control: WorkerControl;
  task?: Task;
  tasksDone: number;
  /** V8 heap in use after its last task (bytes). */
  heapUsed: number;
  ready: boolean;
  spawnedAt: number;
  /** The pool ends the worker itself (recycled, replaced, closing): its exit is expected. */
  ending: boolean;
  exited: Promise<void>;
  hasExited: boolean;
  /** Replaces the worker if it does not stop a cancelled task in time. */
  stopTimer?: NodeJS.Timeout;
  endTimer?: NodeJS.Timeout;
  /** The 'error' event that came before an unexpected exit (OOM, crash). */
  lastError?: Error & { code?: string };
}

/** Seconds clients are told to wait, whatever the estimate says. */
const RETRY_AFTER_MIN_S = 1;
const RETRY_AFTER_MAX_S = 60;
/** A cancelled conversion normally stops within a page or an OCR stage; past this its worker is replaced. */
const STOP_GRACE_MS = 5_000;
/** How often to look whether a worker that must end has left native code. */
const NATIVE_POLL_MS = 50;
/** A retiring worker gets this long to release OCR sessions before it is ended. */
const RETIRE_GRACE_MS = 5_000;
/** A worker normally starts in seconds; while one is starting for less than this, the queue is not stuck. */
const WORKER_START_MS = 60_000;
/** Fewest pages worth another worker: each worker loads the whole document and reads the text of the pages before its share. */
const MIN_SHARE_PAGES = 8;
/** Respawn back-off when workers die before becoming ready (broken install, crash loop). */
const RESPAWN_BACKOFF_MAX_MS = 30_000;

// Compiled: dist/server/pool/worker.js. Under tsx (source), worker.ts with the same loader.
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

const draining = (): DocmarkError => new DocmarkError('draining', 'This server instance is shutting down; retry shortly.', { retryAfter: 2 });
const clientGone = (): DocmarkError => new DocmarkError('cancelled', 'The client closed the connection; the conversion was cancelled.');

export class WorkerPool implements Converter {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  /** Workers no longer in a slot that still have to end (retired, replaced). */
  private readonly leaving = new Set<Slot>();
  /** Places taken by requests whose upload is still being read. */
  private reserved = 0;
  private nextId = 1;
  private closed = false;
  /** Set by shed(): what conversions submitted from now on fail with. */
  private shedding: DocmarkError | undefined;
  private startFailures = 0;
  private respawnTimer?: NodeJS.Timeout;
  /** Last time the pool was seen with a started worker. */
  private lastAlive = performance.now();
  /** Moving average of conversion time, for Retry-After. */
  private avgTaskMs = 2_000;
  private readonly counts = {
    tasks_done: 0,
    ocr_pages: 0,
    recycled: 0,
    timeouts: 0,
    cancelled: 0,
    replaced: 0,
    crashes: 0,
    out_of_memory: 0,
    ended_low_memory: 0,
  };

  constructor(private readonly options: PoolOptions) {
    for (let i = 0; i < options.size; i++) this.slots.push(this.spawn());
  }

  admit(): Admission {
    if (this.closed) throw draining();
    if (this.placesTaken() >= this.options.size + this.options.maxQueue) {
      const waiting = this.queue.length + this.reserved;
      throw new DocmarkError(
        'queue_full',
        `All ${this.options.size} conversion workers are busy and ${waiting} ${waiting === 1 ? 'conversion is' : 'conversions are'} waiting; retry later.`,
        { retryAfter: this.retryAfterSeconds() },
      );
    }
    this.reserved++;
    let held = true;
    const giveBack = (): boolean => {
      if (!held) return false;
      held = false;
      this.reserved--;
      return true;
    };
    return {
      convert: (bytes, options, signal, onProgress, onStart) => {
        if (!giveBack()) return Promise.reject(new Error('an admission converts once'));
        return this.submit(bytes, options, signal, onProgress, onStart);
      },
      release: () => void giveBack(),
    };
  }

  stats(): ConverterStats {
    return {
      kind: 'worker-pool',
      workers: this.slots.length,
      /** Started and able to take a conversion (or a share of one). */
      ready: this.slots.filter((s) => s.ready && !s.ending).length,
      busy: this.slots.filter((s) => s.task).length,
      queued: this.queue.length,
      uploading: this.reserved,
      max_queue: this.options.maxQueue,
      ...this.counts,
      worker_heap_mb: this.slots.map((s) => Math.round(s.heapUsed / 1024 / 1024)),
    };
  }

  /**
   * End the running conversion that likely holds the most memory, answering its client with
   * `error` (the host guard, below its critical mark). Per-thread memory cannot be read in Node 20,
   * so the weight is the PDF's size (pdfjs keeps the file and what it parsed from it), the longest
   * running first among equals (its output and caches have grown longest). Cooperative, like any
   * cancellation: the worker stops at its next checkpoint and is replaced if it does not.
   */
  endLargest(error: DocmarkError): { bytes: number } | undefined {
    const running = this.slots.filter((s): s is Slot & { task: Task } => Boolean(s.task && !s.task.settled && !s.task.share && !s.ending));
    if (running.length === 0) return undefined;
    const biggest = running.reduce((a, b) =>
      b.task.size > a.task.size || (b.task.size === a.task.size && (b.task.startedAt ?? 0) < (a.task.startedAt ?? 0)) ? b : a,
    );
    const task = biggest.task;
    this.counts.ended_low_memory++;
    this.settle(task, error);
    this.stop(biggest, task);
    return { bytes: task.size };
  }

  shed(error: DocmarkError): number {
    this.shedding = error;
    const queued = this.queue.splice(0);
    for (const task of queued) this.settle(task, error);
    return queued.length;
  }

  endRunning(error: DocmarkError): number {
    const running = this.slots.filter((s): s is Slot & { task: Task } => Boolean(s.task && !s.task.settled && !s.task.share && !s.ending));
    for (const slot of running) {
      const task = slot.task;
      this.settle(task, error);
      this.stop(slot, task);
    }
    return running.length;
  }

  /** End every worker. Conversions still running or queued fail with 503 `draining`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.respawnTimer);
    for (const task of this.queue.splice(0)) this.settle(task, draining());
    for (const slot of this.slots.splice(0)) {
      if (slot.task) this.settle(slot.task, draining());
      this.end(slot);
    }
    for (const slot of this.leaving) this.end(slot);
    await Promise.all([...this.leaving].map((s) => s.exited));
  }

  private placesTaken(): number {
    // A share of another conversion holds no place: it is given back as soon as a client waits.
    return this.slots.filter((s) => s.task && !s.task.share).length + this.queue.length + this.reserved;
  }

  private submit(
    bytes: Uint8Array,
    options: ConvertOptions,
    signal?: AbortSignal,
    onProgress?: ProgressListener,
    onStart?: () => void,
  ): Promise<ConvertResult> {
    if (this.closed) return Promise.reject(draining());
    if (this.shedding) return Promise.reject(this.shedding);
    if (signal?.aborted) return Promise.reject(clientGone());
    return new Promise<ConvertResult>((resolve, reject) => {
      const task: Task = {
        id: this.nextId++,
        bytes,
        size: bytes.byteLength,
        options,
        resolve,
        reject,
        onProgress,
        onStart,
        settled: false,
        deadline: 0,
      };
      if (signal) {
        const onAbort = (): void => this.cancel(task);
        signal.addEventListener('abort', onAbort, { once: true });
        task.stopListening = () => signal.removeEventListener('abort', onAbort);
      }
      const idle = this.slots.find((s) => !s.task && s.ready);
      if (idle) this.run(idle, task);
      else this.enqueue(task);
    });
  }

  private spawn(): Slot {
    const control = newControlBuffer();
    const worker = new Worker(this.options.workerUrl ?? WORKER_URL, {
      name: 'docmark-converter',
      workerData: { ocrThreads: this.options.ocrThreads, control, splitPages: this.options.splitPages ?? 0 } satisfies WorkerSettings,
      resourceLimits: { maxOldGenerationSizeMb: this.options.heapMb },
    });
    let exited!: () => void;
    const slot: Slot = {
      worker,
      control: new WorkerControl(control),
      tasksDone: 0,
      heapUsed: 0,
      ready: false,
      spawnedAt: performance.now(),
      ending: false,
      hasExited: false,
      exited: new Promise<void>((resolve) => (exited = resolve)),
    };
    worker.on('message', (msg: FromWorker) => this.onMessage(slot, msg));
    worker.on('error', (err) => (slot.lastError = err));
    worker.on('exit', (code) => {
      slot.hasExited = true;
      clearTimeout(slot.endTimer);
      clearTimeout(slot.stopTimer);
      this.leaving.delete(slot);
      exited();
      this.onExit(slot, code);
    });
    return slot;
  }

  /**
   * A queued conversion waits as long as the pool has a started worker: every running conversion
   * ends within its own time limit, so the queue moves however slow the scans ahead of it are. It
   * fails (504) only when no worker has been up for a whole time limit and none is starting (a
   * broken install, a crash loop).
   */
  private enqueue(task: Task): void {
    this.queue.push(task);
    this.giveBackShareFor();
    const check = (): void => {
      if (!this.queue.includes(task)) return;
      const now = performance.now();
      if (this.slots.some((s) => s.ready)) this.lastAlive = now;
      const waitMs = Math.max(
        this.lastAlive + this.options.timeoutMs - now,
        ...this.slots.filter((s) => !s.ready).map((s) => s.spawnedAt + WORKER_START_MS - now),
      );
      if (waitMs > 0) {
        task.timer = setTimeout(check, waitMs);
        return;
      }
      this.queue.splice(this.queue.indexOf(task), 1);
      this.counts.timeouts++;
      this.settle(task, new DocmarkError('timeout', 'No conversion worker could start on this server instance; retry later.'));
    };
    task.timer = setTimeout(check, this.options.timeoutMs);
  }

  private run(slot: Slot, task: Task): void {
    clearTimeout(task.timer);
    slot.task = task;
    task.startedAt = performance.now();
    task.deadline = task.startedAt + this.options.timeoutMs;
    this.armDeadline(slot, task);
    task.onStart?.();
    const bytes = task.bytes;
    task.bytes = EMPTY; // the worker owns the PDF now; nothing here keeps it
    const msg: ToWorker = { type: 'convert', id: task.id, bytes, options: task.options };
    // Upload buffers are the request's own (see upload.ts): moved to the worker, never copied.
    const transfer = bytes.buffer instanceof ArrayBuffer && isWholeBuffer(bytes) ? [bytes.buffer] : [];
    slot.worker.postMessage(msg, transfer);
  }

  private armDeadline(slot: Slot, task: Task): void {
    clearTimeout(task.timer);
    task.timer = setTimeout(() => {
      if (slot.task !== task || task.settled) return;
      if (performance.now() < task.deadline) return this.armDeadline(slot, task);
      this.onTimeout(slot, task);
    }, task.deadline - performance.now());
  }

  private onMessage(slot: Slot, msg: FromWorker): void {
    switch (msg.type) {
      case 'ready':
        slot.ready = true;
        this.startFailures = 0;
        if (!slot.ending && !slot.task) this.next(slot);
        return;
      case 'log':
        this.options.log?.({ ...msg.line, worker: slot.worker.threadId });
        return;
      case 'retired':
        this.end(slot);
        return;
      case 'ocr-page': {
        const task = slot.task;
        if (!task || task.id !== msg.id) return;
        this.counts.ocr_pages++;
        // A share's OCR pages earn time for the conversion it is part of.
        (task.share?.parent ?? task).deadline += this.options.ocrPageMs;
        return;
      }
      case 'page': {
        const task = slot.task;
        if (!task || task.id !== msg.id || task.settled) return;
        if (task.share || task.split) this.onSharedProgress(task, msg.done);
        else task.onProgress?.(msg.done, msg.total);
        return;
      }
      case 'split': {
        const task = slot.task;
        if (task && task.id === msg.id) this.planSplit(slot, task, msg.selected);
        return;
      }
      case 'split-bytes': {
        const task = slot.task;
        if (task && task.id === msg.id) this.sendShares(task, msg.bytes);
        return;
      }
      case 'pages': {
        const task = slot.task;
        if (!task?.share || task.id !== msg.id || slot.ending) return;
        this.onShareEnd(slot, task, msg.heapUsed, msg.pages);
        return;
      }
      case 'result':
      case 'error': {
        const task = slot.task;
        // A replaced worker's task was answered already; the worker is ended as soon as it may be.
        if (!task || task.id !== msg.id || slot.ending) return;
        if (task.share && msg.type === 'error') {
          this.onShareEnd(slot, task, msg.heapUsed);
          return;
        }
        clearTimeout(task.timer);
        clearTimeout(slot.stopTimer);
        slot.task = undefined;
        slot.tasksDone++;
        slot.heapUsed = msg.heapUsed;
        this.counts.tasks_done++;
        if (msg.type === 'result') {
          this.avgTaskMs = 0.8 * this.avgTaskMs + 0.2 * (performance.now() - (task.startedAt ?? 0));
          this.settle(task, msg.result);
        } else {
          this.settle(task, this.fromWire(msg.error));
        }
        if (slot.tasksDone >= this.options.maxTasks) this.retire(slot);
        else this.next(slot);
        return;
      }
    }
  }

  private onTimeout(slot: Slot, task: Task): void {
    this.counts.timeouts++;
    const limitS = Math.round((task.deadline - (task.startedAt ?? 0)) / 1000);
    this.options.log?.({
      level: 'warn',
      msg: 'conversion timed out; cancelling it',
      worker: slot.worker.threadId,
      limit_s: limitS,
      in_native: slot.control.inNative(),
    });
    const allowance = limitS > this.options.timeoutMs / 1000 ? ' with its OCR allowance, DOCMARK_OCR_PAGE_S' : '';
    this.settle(
      task,
      new DocmarkError('timeout', `The conversion took longer than the limit of ${limitS} s (DOCMARK_TIMEOUT_S${allowance}) and was stopped.`),
    );
    this.stop(slot, task);
  }

  /** The client went away: a queued task is dropped at once, a running one stopped. */
  private cancel(task: Task): void {
    if (task.settled) return;
    this.counts.cancelled++;
    this.settle(task, clientGone());
    const queued = this.queue.indexOf(task);
    if (queued !== -1) {
      this.queue.splice(queued, 1);
      return;
    }
    const slot = this.slots.find((s) => s.task === task);
    if (slot) this.stop(slot, task);
  }

  /**
   * Ask the worker to stop `task` (already answered) at its next checkpoint; it then takes the next
   * task. If it has not stopped within the grace period, a fresh worker takes its place.
   */
  private stop(slot: Slot, task: Task): void {
    clearTimeout(task.timer);
    slot.control.requestCancel(task.id);
    clearTimeout(slot.stopTimer);
    slot.stopTimer = setTimeout(() => {
      if (slot.task !== task || slot.ending) return;
      this.counts.replaced++;
      this.options.log?.({
        level: 'warn',
        msg: 'a cancelled conversion did not stop in time; replacing its worker',
        worker: slot.worker.threadId,
        in_native: slot.control.inNative(),
      });
      this.replace(slot);
      this.end(slot);
    }, STOP_GRACE_MS);
  }

  private onExit(slot: Slot, code: number): void {
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
    let task = slot.task;
    slot.task = undefined;
    if (task?.share) {
      this.giveBack(task);
      task = undefined;
      this.replace(slot);
      return;
    }
    if (task) {
      clearTimeout(task.timer);
      this.settle(
        task,
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
    if (slot.ready || task) {
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

  /** Put a fresh worker in place of `old`, which leaves the pool. */
  private replace(old: Slot): void {
    const index = this.slots.indexOf(old);
    if (index === -1 || this.closed) return;
    this.slots[index] = this.spawn(); // takes the next queued task once ready
  }

  /** Refill the pool up to its size (after start failures). */
  private grow(): void {
    while (!this.closed && this.slots.length < this.options.size) this.slots.push(this.spawn());
  }

  /** Recycle: a fresh worker takes the slot now; the old one finishes up in the background. */
  private retire(slot: Slot): void {
    this.counts.recycled++;
    this.replace(slot);
    slot.ending = true;
    this.leaving.add(slot);
    slot.worker.postMessage({ type: 'retire' } satisfies ToWorker);
    slot.endTimer = setTimeout(() => this.end(slot), RETIRE_GRACE_MS);
  }

  /** End a worker that is no longer in use, as soon as it is outside native code. */
  private end(slot: Slot): void {
    slot.ending = true;
    this.leaving.add(slot);
    clearTimeout(slot.endTimer);
    if (slot.hasExited) return;
    if (slot.control.claimForEnding()) {
      void slot.worker.terminate();
      return;
    }
    slot.endTimer = setTimeout(() => this.end(slot), NATIVE_POLL_MS);
  }

  private next(slot: Slot): void {
    const task = this.queue.shift();
    if (task) this.run(slot, task);
  }

  /** Answer the client once; the worker may still be stopping the task. */
  private settle(task: Task, outcome: ConvertResult | DocmarkError): void {
    // A share answers no client: whatever ends it, its conversion reads its pages instead.
    if (task.share) {
      this.giveBack(task);
      return;
    }
    if (task.settled) return;
    task.settled = true;
    if (task.split) this.endShares(task);
    task.stopListening?.();
    clearTimeout(task.timer);
    task.bytes = EMPTY;
    if (outcome instanceof DocmarkError) task.reject(outcome);
    else task.resolve(outcome);
  }

  // Big documents shared by several workers. The worker converting a document that selects more
  // than splitPages pages asks ('split'); workers idle at that moment, beyond those that clients
  // waiting for an upload to finish will need, each read a run of pages (a share) from their own
  // copy of the file, and the pages go back to the converting worker, which reads the first run
  // itself and assembles the document once. A share is given back to that worker (which reads
  // it itself) when its worker crashes or fails, and as soon as a client has to queue: shares
  // never hold a place a client waits for. The conversion's time limit and cancellation cover
  // its shares; its OCR allowance grows with their OCR pages.

  private planSplit(slot: Slot, task: Task, selected: number[]): void {
    const post = (shares: number[][]): void => slot.worker.postMessage({ type: 'split-plan', id: task.id, shares } satisfies ToWorker);
    const idle = this.slots.filter((s) => s !== slot && s.ready && !s.task && !s.ending);
    const helpers = Math.min(idle.length - this.reserved - this.queue.length, Math.floor(selected.length / MIN_SHARE_PAGES) - 1);
    if (task.settled || task.split || helpers <= 0) {
      post([]);
      return;
    }
    const size = Math.ceil(selected.length / (helpers + 1));
    const runs = Array.from({ length: helpers + 1 }, (_, i) => selected.slice(i * size, (i + 1) * size)).filter((r) => r.length > 0);
    const shares = runs.slice(1).map((indexes, no): Task => {
      const share: Task = {
        id: this.nextId++,
        bytes: EMPTY,
        // Weighed by the host guard through its conversion, never on its own.
        size: 0,
        options: task.options,
        resolve: () => undefined,
        reject: () => undefined,
        settled: false,
        deadline: 0,
        share: { parent: task, no, indexes, done: 0, sent: false },
      };
      idle[no].task = share; // held until the file arrives
      share.startedAt = performance.now();
      return share;
    });
    task.split = { total: selected.length, doneHere: 0, shares, reported: 0 };
    this.options.log?.({
      level: 'info',
      msg: 'sharing a conversion with idle workers',
      worker: slot.worker.threadId,
      pages: selected.length,
      shares: shares.length + 1,
    });
    post(shares.map((s) => s.share!.indexes));
  }

  /** Each share's worker gets its own copy of the file (the last one gets this one). */
  private sendShares(task: Task, bytes: Uint8Array): void {
    const waiting = (task.split?.shares ?? []).filter((s) => !s.settled && !s.share!.sent);
    for (const [k, share] of waiting.entries()) {
      const slot = this.slots.find((s) => s.task === share);
      if (!slot) continue;
      share.share!.sent = true;
      const last = k === waiting.length - 1;
      const own = last ? bytes : new Uint8Array(bytes);
      const msg: ToWorker = { type: 'extract', id: share.id, bytes: own, options: share.options, indexes: share.share!.indexes };
      slot.worker.postMessage(msg, isWholeBuffer(own) && own.buffer instanceof ArrayBuffer ? [own.buffer] : []);
    }
  }

  /** A share's worker is done with it: its pages go to the conversion, or the share goes back to it. */
  private onShareEnd(slot: Slot, share: Task, heapUsed: number, pages?: Page[]): void {
    clearTimeout(slot.stopTimer);
    slot.task = undefined;
    slot.tasksDone++;
    slot.heapUsed = heapUsed;
    if (pages && !share.settled) {
      share.settled = true;
      const { parent, no } = share.share!;
      this.slotOf(parent)?.worker.postMessage({ type: 'share-pages', id: parent.id, share: no, pages } satisfies ToWorker);
    } else this.giveBack(share);
    if (slot.tasksDone >= this.options.maxTasks) this.retire(slot);
    else this.next(slot);
  }

  /** The conversion's own worker reads the share itself (its worker failed, or a client waits). */
  private giveBack(share: Task): void {
    if (share.settled) return;
    share.settled = true;
    const { parent, no } = share.share!;
    share.share!.done = 0;
    if (parent.settled) return;
    this.slotOf(parent)?.worker.postMessage({ type: 'share-back', id: parent.id, share: no } satisfies ToWorker);
  }

  /** A client has to queue: the latest share still being read is given back, and its worker freed. */
  private giveBackShareFor(): void {
    const slot = this.slots.filter((s) => s.task?.share && !s.task.settled).at(-1);
    if (!slot) return;
    const share = slot.task!;
    this.giveBack(share);
    if (share.share!.sent) this.stop(slot, share);
    else {
      slot.task = undefined; // never started: free at once
      this.next(slot);
    }
  }

  /** The conversion ended (answered, failed, timed out, cancelled): its shares stop. */
  private endShares(task: Task): void {
    for (const share of task.split!.shares) {
      share.settled = true;
      const slot = this.slots.find((s) => s.task === share);
      if (!slot) continue;
      if (share.share!.sent) this.stop(slot, share);
      else {
        slot.task = undefined;
        this.next(slot);
      }
    }
  }

  /** Pages done over the conversion's own worker and its shares' workers. */
  private onSharedProgress(task: Task, done: number): void {
    const parent = task.share?.parent ?? task;
    const split = parent.split;
    if (!split || parent.settled) return;
    if (task.share) task.share.done = done;
    else split.doneHere = done;
    const sum = split.doneHere + split.shares.reduce((n, s) => n + s.share!.done, 0);
    if (sum <= split.reported) return;
    split.reported = Math.min(sum, split.total);
    parent.onProgress?.(split.reported, split.total);
  }

  private slotOf(task: Task): Slot | undefined {
    return this.slots.find((s) => s.task === task);
  }

  private fromWire(error: WireError): DocmarkError {
    if (error.code !== 'internal_error') return new DocmarkError(error.code, error.message);
    this.options.log?.({ level: 'error', msg: 'conversion failed unexpectedly', error: error.stack ?? error.message });
    return new DocmarkError('internal_error', 'The server failed to convert this PDF.');
  }

  private retryAfterSeconds(): number {
    const waitMs = (this.avgTaskMs * (this.queue.length + this.reserved + 1)) / Math.max(1, this.slots.length);
    return Math.min(RETRY_AFTER_MAX_S, Math.max(RETRY_AFTER_MIN_S, Math.ceil(waitMs / 1000)));
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Only a view over its whole ArrayBuffer may be transferred: a slice of a larger buffer (Node's
 * shared pool for small Buffers) would detach memory something else uses, so it is copied.
 */
function isWholeBuffer(bytes: Uint8Array): boolean {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
}
