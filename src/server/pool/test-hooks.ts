/**
 * TEST ONLY. With DOCMARK_TEST_HOOKS=1 in the server's environment, a PDF carrying a
 * marker comment in its first or last KB makes its worker misbehave on purpose, so
 * tests can prove the pool's limits on a real server:
 *
 *   %DOCMARK-TEST:hang          block the worker thread for ever (a stuck conversion)
 *   %DOCMARK-TEST:heap-bomb     allocate until the worker's heap limit is hit
 *   %DOCMARK-TEST:sleep=<ms>    block the thread for <ms>, then convert normally (a slow PDF)
 *   %DOCMARK-TEST:spin=<ms>     keep a CPU core busy for <ms>, then convert normally
 *
 * Off by default: without the variable, markers are ignored and cost nothing.
 */
const ENABLED = process.env.DOCMARK_TEST_HOOKS === '1';
const WINDOW = 1024;
const MARKER = /%DOCMARK-TEST:(hang|heap-bomb|sleep|spin)(?:=(\d{1,7}))?/;

export function runTestHooks(bytes: Uint8Array): void {
  if (!ENABLED) return;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const head = buf.subarray(0, WINDOW).toString('latin1');
  const tail = buf.subarray(Math.max(0, buf.length - WINDOW)).toString('latin1');
  const m = MARKER.exec(head) ?? MARKER.exec(tail);
  if (!m) return;
  const ms = Number(m[2] ?? 0);
  if (m[1] === 'hang') block(Infinity);
  else if (m[1] === 'heap-bomb') heapBomb();
  else if (m[1] === 'sleep') block(ms);
  else spin(ms);
}

/** Blocks the thread like a CPU-bound loop would, without burning a core. */
function block(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // burn CPU like a heavy page would
  }
}

function heapBomb(): never {
  const hoard: number[][] = [];
  for (;;) hoard.push(new Array<number>(100_000).fill(hoard.length + 0.5));
}
