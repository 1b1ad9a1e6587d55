// The batch client (`docmark batch`, a real child process) during the soak: a folder of 1000+
// copies of the corpus converted while instances restart around it, each output then compared
// with the same document converted in a calm run (before any load or restart was set off).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './sandbox.mjs';

const CLI = path.join(ROOT, 'bin/docmark.js');

/**
 * Copies of `sources`, cycled until there are `count`, named `<n>-<name>` so each knows its source.
 * @param {string} dir @param {string[]} sources @param {number} count
 * @returns {Map<string, string>} copy name → source name
 */
export function makeBatchFolder(dir, sources, count) {
  fs.mkdirSync(dir, { recursive: true });
  const origin = new Map();
  for (let i = 0; i < count; i++) {
    const src = sources[i % sources.length];
    const name = `${String(i).padStart(5, '0')}-${path.basename(src)}`;
    fs.copyFileSync(src, path.join(dir, name));
    origin.set(name, path.basename(src));
  }
  return origin;
}

/** @param {string} dir @param {string[]} sources */
export function makeCalmFolder(dir, sources) {
  fs.mkdirSync(dir, { recursive: true });
  for (const src of sources) fs.copyFileSync(src, path.join(dir, path.basename(src)));
}

/**
 * Run `docmark batch in -o out --server url`; resolves with its exit code and its report lines.
 * @param {{ input: string, output: string, url: string, logFile: string }} options
 */
export function runBatchClient({ input, output, url, logFile }) {
  const log = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, [CLI, 'batch', input, '-o', output, '--server', url], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', log, log],
  });
  const done = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      fs.closeSync(log);
      resolve({ code, signal, report: readReport(output) });
    }),
  );
  return { child, done: /** @type {Promise<{ code: number | null, signal: string | null, report: any[] }>} */ (done) };
}

/** @param {string} output */
function readReport(output) {
  const file = path.join(output, '_report.jsonl');
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/**
 * Every copy's output exists and is byte-equal to its source's calm output.
 * @param {{ origin: Map<string, string>, output: string, calm: string }} options
 */
export function compareOutputs({ origin, output, calm }) {
  const result = { expected: origin.size, present: 0, equal: 0, missing: /** @type {string[]} */ ([]), different: /** @type {string[]} */ ([]) };
  const md = (/** @type {string} */ name) => name.replace(/\.pdf$/i, '.md');
  for (const [copy, source] of origin) {
    const out = path.join(output, md(copy));
    if (!fs.existsSync(out)) {
      if (result.missing.length < 50) result.missing.push(copy);
      continue;
    }
    result.present++;
    const calmOut = path.join(calm, md(source));
    if (fs.existsSync(calmOut) && fs.readFileSync(out).equals(fs.readFileSync(calmOut))) result.equal++;
    else if (result.different.length < 50) result.different.push(copy);
  }
  return result;
}
