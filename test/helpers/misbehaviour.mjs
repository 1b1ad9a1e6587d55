// Test-only misbehaviour for conversion workers. A PDF carrying a marker comment in its first or
// last KB makes the worker that converts it misbehave on purpose, so tests can prove the pool's
// limits on a real server:
//
//   %DOCMARK-TEST:hang          block the worker thread for ever (a stuck conversion)
//   %DOCMARK-TEST:heap-bomb     allocate until the worker's heap limit is hit
//   %DOCMARK-TEST:sleep=<ms>    block the thread for <ms>, then convert normally (a slow PDF)
//   %DOCMARK-TEST:spin=<ms>     keep a CPU core busy for <ms>, then convert normally
//   %DOCMARK-TEST:hold=<MB>     block for 3 s, then hold <MB> of resident memory and block for ever (a PDF too big for the instance)
//
// Only the test worker entry (hooked-worker.mjs) runs this; the server's own worker has no such code.

const WINDOW = 1024;
const MARKER = /%DOCMARK-TEST:(hang|heap-bomb|sleep|spin|hold)(?:=(\d{1,7}))?/;

/** @param {Uint8Array} bytes */
export function misbehave(bytes) {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const head = buf.subarray(0, WINDOW).toString('latin1');
  const tail = buf.subarray(Math.max(0, buf.length - WINDOW)).toString('latin1');
  const m = MARKER.exec(head) ?? MARKER.exec(tail);
  if (!m) return;
  const ms = Number(m[2] ?? 0);
  if (m[1] === 'hang') block(Number.POSITIVE_INFINITY);
  else if (m[1] === 'heap-bomb') heapBomb();
  else if (m[1] === 'sleep') block(ms);
  else if (m[1] === 'hold') hold(ms);
  else spin(ms);
}

/**
 * Blocks the thread like a CPU-bound loop would, without burning a core.
 * @param {number} ms
 */
function block(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** @param {number} ms */
function spin(ms) {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // burn CPU like a heavy page would
  }
}

/**
 * Filled, so its pages are really resident; outside the V8 heap, so the worker's heap limit does not end it first.
 * @param {number} mb
 */
function hold(mb) {
  block(HOLD_AFTER_MS);
  held.push(Buffer.alloc(mb * 1024 * 1024, 0x5a));
  block(Number.POSITIVE_INFINITY);
}
/** @type {Buffer[]} */
const held = [];
/** Long enough for a test to send more work before the instance passes its limit. */
const HOLD_AFTER_MS = 3000;

function heapBomb() {
  const hoard = [];
  for (;;) hoard.push(new Array(100_000).fill(hoard.length + 0.5));
}
