// What the pool and one worker thread share in memory, readable while the worker is busy (its
// message queue is not): which task the pool wants stopped, and whether the worker is inside
// native code that must not be interrupted. Ending a thread in the middle of an onnxruntime-node
// call aborts the whole process (the addon throws a C++ exception during teardown), so the pool
// ends a thread only after claiming it outside such a call; the worker then enters none.

const CANCEL = 0;
const NATIVE = 1;
/** NATIVE when the pool has claimed the thread for ending. */
const CLAIMED = -1;
const SLOTS = 2;

export function newControlBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT);
}

/** Task ids are pool-wide and only compared for equality; they wrap within an Int32. */
export const toControlId = (taskId: number): number => taskId % 0x7fff_ffff || 1;

export class WorkerControl {
  private readonly cells: Int32Array;

  constructor(buffer: SharedArrayBuffer) {
    this.cells = new Int32Array(buffer);
  }

  // The pool's side.

  requestCancel(taskId: number): void {
    Atomics.store(this.cells, CANCEL, toControlId(taskId));
  }

  inNative(): boolean {
    return Atomics.load(this.cells, NATIVE) > 0;
  }

  /** True when the thread may be ended now: it is outside native code and will enter none. */
  claimForEnding(): boolean {
    const before = Atomics.compareExchange(this.cells, NATIVE, 0, CLAIMED);
    return before === 0 || before === CLAIMED;
  }

  // The worker's side.

  isCancelled(taskId: number): boolean {
    return Atomics.load(this.cells, CANCEL) === toControlId(taskId);
  }

  enterNative(): boolean {
    for (;;) {
      const depth = Atomics.load(this.cells, NATIVE);
      if (depth === CLAIMED) return false;
      if (Atomics.compareExchange(this.cells, NATIVE, depth, depth + 1) === depth) return true;
    }
  }

  leaveNative(): void {
    Atomics.sub(this.cells, NATIVE, 1);
  }
}
