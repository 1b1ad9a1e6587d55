#!/usr/bin/env node
// `npm run soak -- [--duration 2h] [--out DIR] [--clients N] [--batch-files N] [--memory-limit 700M] [--seed N]`
// `npm run soak -- --from DIR`: report.json and report.svg again from a finished run's files.
// Exit code: 0 when the verdict passes, 1 when it fails, 2 on a usage error.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { printVerdict, rebuildReport } from './report.mjs';
import { defaultsFor, runSoak } from './run.mjs';

/** @param {string} text e.g. 2h, 20m, 90s, 120 (seconds) */
export function parseDuration(text) {
  const m = /^(\d{1,6})(h|m|min|s)?$/.exec(text.trim());
  if (!m) throw new Error(`--duration must be like 2h, 20m or 90s, got "${text}"`);
  const n = Number(m[1]);
  const s = m[2] === 'h' ? n * 3600 : m[2] === 'm' || m[2] === 'min' ? n * 60 : n;
  if (s < 30 || s > 48 * 3600) throw new Error('--duration must be between 30 s and 48 h');
  return s;
}

function main() {
  let values;
  let durationS;
  try {
    ({ values } = parseArgs({
      options: {
        duration: { type: 'string', default: '20m' },
        out: { type: 'string' },
        clients: { type: 'string' },
        'batch-files': { type: 'string' },
        'memory-limit': { type: 'string' },
        seed: { type: 'string' },
        from: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
    durationS = parseDuration(values.duration);
  } catch (err) {
    process.stderr.write(`soak: ${err.message}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(
      'npm run soak -- [--duration 20m] [--out DIR] [--clients 3] [--batch-files 1024] [--memory-limit 700M] [--seed 19] | --from DIR\n',
    );
    return;
  }
  if (values.from) {
    // The report again from a finished run's files (after a change to the analysis).
    const report = rebuildReport(path.resolve(values.from));
    printVerdict((l) => process.stdout.write(`${l}\n`), report);
    process.exit(report.verdict === 'pass' ? 0 : 1);
  }
  const d = defaultsFor(durationS);
  const int = (/** @type {string | undefined} */ v, /** @type {number} */ dflt, /** @type {number} */ max) => {
    if (v === undefined) return dflt;
    if (!/^\d{1,6}$/.test(v) || Number(v) < 1 || Number(v) > max) {
      process.stderr.write(`soak: expected a whole number from 1 to ${max}, got "${v}"\n`);
      process.exit(2);
    }
    return Number(v);
  };
  const memoryLimit = values['memory-limit'] ?? d.memoryLimit;
  if (!/^[1-9]\d{0,6}[MG]$/.test(memoryLimit)) {
    process.stderr.write(`soak: --memory-limit must be like 200M or 2G, got "${memoryLimit}"\n`);
    process.exit(2);
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  runSoak({
    ...d,
    durationS,
    outDir: path.resolve(values.out ?? `soak-${stamp}`),
    clients: int(values.clients, d.clients, 64),
    batchFiles: int(values['batch-files'], d.batchFiles, 100_000),
    memoryLimit,
    seed: int(values.seed, d.seed, 1_000_000),
  }).then(
    (report) => process.exit(report.verdict === 'pass' ? 0 : 1),
    (err) => {
      process.stderr.write(`soak: ${err?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}

main();
