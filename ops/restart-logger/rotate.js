'use strict';
// An append-only log file that never grows past a size: when the next line would take it over
// `maxBytes`, the file becomes `<file>.1` (and `.1` becomes `.2`, …), keeping `keep` old files
// and deleting the oldest. Lines are never split across files. Restarts are rare, so each line
// is written synchronously: it is whole and in order even if the process dies right after.
const fs = require('node:fs');

/**
 * @param {{ file: string, maxBytes: number, keep: number }} options
 * @returns {{ append(line: string): void, files(): string[] }}
 */
function createRotatingLog({ file, maxBytes, keep }) {
  if (!(Number.isSafeInteger(maxBytes) && maxBytes > 0)) throw new RangeError(`maxBytes must be a positive integer, got ${maxBytes}`);
  if (!(Number.isSafeInteger(keep) && keep >= 0)) throw new RangeError(`keep must be a whole number, got ${keep}`);
  const rotated = (n) => `${file}.${n}`;

  function sizeOf(path) {
    try {
      return fs.statSync(path).size;
    } catch (err) {
      if (err.code === 'ENOENT') return 0;
      throw err;
    }
  }

  function rotate() {
    fs.rmSync(rotated(keep), { force: true });
    for (let n = keep - 1; n >= 1; n--) {
      if (fs.existsSync(rotated(n))) fs.renameSync(rotated(n), rotated(n + 1));
    }
    if (keep > 0) fs.renameSync(file, rotated(1));
    else fs.rmSync(file, { force: true });
  }

  return {
    append(line) {
      const bytes = Buffer.byteLength(line);
      // A file holding anything goes before the line that would take it over; an empty one
      // takes even a line longer than the limit, rather than lose it.
      const size = sizeOf(file);
      if (size > 0 && size + bytes > maxBytes) rotate();
      fs.appendFileSync(file, line);
    },
    /** The log's files, oldest first. */
    files() {
      const all = [];
      for (let n = keep; n >= 1; n--) if (fs.existsSync(rotated(n))) all.push(rotated(n));
      if (fs.existsSync(file)) all.push(file);
      return all;
    },
  };
}

module.exports = { createRotatingLog };
