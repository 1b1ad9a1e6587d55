// The soak: the real ecosystem under PM2 for a given time, every restart cause firing over and
// over, concurrent clients with a mixed load, the batch client on a folder of 1000+ PDFs; then the
// report (report.json, report.svg) and a verdict. `npm run soak -- --duration 2h`; see
// docs/operations.md ("Soak test").
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compareOutputs, makeBatchFolder, makeCalmFolder, runBatchClient } from './batch.mjs';
import { startChaos } from './chaos.mjs';
import { corpusSets, inputPicker, seeded } from './inputs.mjs';
import { startLoad } from './load.mjs';
import { startSampler } from './sampler.mjs';
import { ROOT, Pm2Sandbox } from './sandbox.mjs';
import { buildReport, fmtDuration, printVerdict, writeReport } from './report.mjs';

/**
 * @typedef {object} SoakOptions
 * @property {number} durationS
 * @property {string} outDir
 * @property {number} instances
 * @property {number} clients  concurrent load clients (besides the batch)
 * @property {number} batchFiles  PDFs in the batch folder
 * @property {number} batchSources  distinct documents per set in the calm run (0 = all)
 * @property {number} batchMaxPages  the batch copies documents of at most this many pages
 * @property {string} memoryLimit  DOCMARK_MAX_MEMORY (PM2 max_memory_restart and the instances' own limit) for the run
 * @property {number} [memoryGraceS]  DOCMARK_MEMORY_GRACE_S for the run
 * @property {number} maxConversions
 * @property {number} sampleS
 * @property {number} checkS  PM2's memory check interval (PM2_WORKER_INTERVAL)
 * @property {string} cron
 * @property {Record<string, number>} chaosEveryS  reload, crash, kill9, memory
 * @property {number} seed
 * @property {(line: string) => void} [print]
 */

/** Defaults scaled to the run: every cause fires several times, however short. @param {number} durationS */
export function defaultsFor(durationS) {
  const short = durationS < 600;
  return {
    instances: 2,
    clients: 3,
    batchFiles: short ? 24 : 1024,
    /** The batch copies documents of at most this many pages (from the calm run), so 1000+ files fit in the run on 2 cores. */
    batchMaxPages: 3,
    /** Distinct documents per set (born-digital, typeset) in the batch; 0 = all. */
    batchSources: short ? 6 : 0,
    /** Above an honest conversion's peak in this mix (455 MB the most seen per instance): memory restarts come from growth (the chaos ballast). */
    memoryLimit: '700M',
    /** Over the limit, running conversions may finish for this long (DOCMARK_MEMORY_GRACE_S), well inside one PM2 check. */
    memoryGraceS: 2,
    maxConversions: short ? 2 : 25,
    sampleS: short ? 2 : 3,
    checkS: 5,
    // App-mode schedule (the default mode): each instance leaves in turn.
    cron: short ? '*/20 * * * * *' : '0 */4 * * * *',
    chaosEveryS: short
      ? { reload: Math.round(durationS / 3), crash: Math.round(durationS / 3), kill9: Math.round(durationS / 3), memory: Math.round(durationS / 4) }
      : { reload: 300, crash: 360, kill9: 300, memory: 240 },
    seed: 19,
  };
}

/** @param {SoakOptions} o */
export async function runSoak(o) {
  const print = o.print ?? ((l) => process.stdout.write(`${l}\n`));
  fs.mkdirSync(o.outDir, { recursive: true });
  const logFile = fs.createWriteStream(path.join(o.outDir, 'soak.log'), { flags: 'a' });
  const log = (/** @type {object} */ line) => logFile.write(`${JSON.stringify({ time: new Date().toISOString(), ...line })}\n`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-soak-'));
  const random = seeded(o.seed);
  const settings = {
    DOCMARK_PM2_NAME: 'docmark',
    DOCMARK_INSTANCES: String(o.instances),
    DOCMARK_MAX_CONVERSIONS: String(o.maxConversions),
    DOCMARK_MAX_MEMORY: o.memoryLimit,
    DOCMARK_MEMORY_GRACE_S: String(o.memoryGraceS ?? 2),
    DOCMARK_CRON_RESTART: o.cron,
    DOCMARK_CRON_MODE: 'app',
    DOCMARK_TEST_CRASH_HOOK: '1',
    DOCMARK_HOST_SAMPLE_S: '30',
  };
  const sandbox = new Pm2Sandbox({ workerIntervalMs: o.checkS * 1000, settings });
  /** @type {ReturnType<typeof startLoad> | undefined} */
  let load;
  /** @type {ReturnType<typeof startChaos> | undefined} */
  let chaos;
  /** @type {ReturnType<typeof startSampler> | undefined} */
  let sampler;
  /** @type {import('node:child_process').ChildProcess | undefined} */
  let batchChild;
  const teardown = async () => {
    chaos?.stop();
    batchChild?.kill('SIGINT');
    await sandbox.destroy({ keepLogsIn: path.join(o.outDir, 'pm2') });
    fs.rmSync(work, { recursive: true, force: true });
  };
  // Ctrl-C: the PM2 daemon and its instances go with us, whatever phase we are in.
  const onSignal = () => {
    print('soak: interrupted; tearing down PM2');
    void teardown().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  // The code under test is the code at the start (a commit made during a long run is not in it).
  const commit = gitCommit();
  try {
    print(`soak: ${fmtDuration(o.durationS)} on ${os.cpus().length} cores, output in ${o.outDir}`);
    await sandbox.start();
    const firstHealth = await waitHealthy(sandbox, o.instances);
    print(`soak: PM2 up (PM2_HOME ${sandbox.home}), ${sandbox.url}`);

    // The calm run: each distinct batch document once, before any load or chaos.
    const sets = corpusSets();
    const few = (/** @type {string[]} */ list) => (o.batchSources ? list.slice(0, o.batchSources) : list);
    const sources = [...few(sets.born), ...few(sets.typeset)];
    const calmIn = path.join(work, 'calm-in');
    const calmOut = path.join(work, 'calm-out');
    makeCalmFolder(calmIn, sources);
    const calmStarted = Date.now();
    const calm = await runBatchClient({ input: calmIn, output: calmOut, url: sandbox.url, logFile: path.join(o.outDir, 'batch-calm.log') }).done;
    const calmFailed = calm.report.filter((l) => l.status !== 'converted');
    print(
      `soak: calm run: ${calm.report.length - calmFailed.length} of ${sources.length} converted in ${Math.round((Date.now() - calmStarted) / 1000)} s`,
    );
    if (calm.code !== 0) throw new Error(`the calm batch run failed (exit ${calm.code}): ${JSON.stringify(calmFailed.slice(0, 3))}`);

    const batchIn = path.join(work, 'batch-in');
    const batchOut = path.join(work, 'batch-out');
    const pagesOf = new Map(calm.report.map((l) => [path.basename(l.file), l.pages ?? Infinity]));
    const short = sources.filter((f) => (pagesOf.get(path.basename(f)) ?? Infinity) <= o.batchMaxPages);
    const batchSources =
      short.length >= 8
        ? short
        : [...sources].sort((a, b) => (pagesOf.get(path.basename(a)) ?? 0) - (pagesOf.get(path.basename(b)) ?? 0)).slice(0, 8);
    const origin = makeBatchFolder(batchIn, batchSources, o.batchFiles);
    print(`soak: batch folder: ${o.batchFiles} copies of ${batchSources.length} documents of ≤ ${o.batchMaxPages} pages`);

    const t0 = Date.now();
    const restartsBefore = sandbox.restartRecords().length;
    sampler = startSampler({ sandbox, everyMs: o.sampleS * 1000, file: path.join(o.outDir, 'samples.jsonl'), t0 });
    load = startLoad({ url: sandbox.url, clients: o.clients, pick: inputPicker(random), outcomesFile: path.join(o.outDir, 'outcomes.jsonl'), t0 });
    chaos = startChaos({ sandbox, everyMs: Object.fromEntries(Object.entries(o.chaosEveryS).map(([k, v]) => [k, v * 1000])), random, t0, log });
    const batchRun = runBatchClient({ input: batchIn, output: batchOut, url: sandbox.url, logFile: path.join(o.outDir, 'batch.log') });
    batchChild = batchRun.child;
    /** @type {number | undefined} */
    let batchEndS;
    void batchRun.done.then(() => (batchEndS = Math.round((Date.now() - t0) / 1000)));

    const endAt = t0 + o.durationS * 1000;
    const progressEveryMs = Math.min(60_000, Math.max(10_000, (o.durationS * 1000) / 10));
    while (Date.now() < endAt) {
      await new Promise((r) => setTimeout(r, Math.min(progressEveryMs, endAt - Date.now())));
      const restarts = sandbox.restartRecords().length - restartsBefore;
      const last = sampler.samples.at(-1);
      print(
        `soak: ${fmtDuration((Date.now() - t0) / 1000)}: ${load.counts.requests} requests, ${load.counts.failed} failed, ${load.counts.retried} retried; ${restarts} restarts; RSS ${last?.instances.map((i) => i.rss_mb).join('/')} MB; host ${last?.available_mb} MB available, load ${last?.load_1m}${batchEndS === undefined ? '' : `; batch done at ${batchEndS} s`}`,
      );
    }
    chaos.stop();
    print('soak: time is up; waiting for the clients and the batch to finish');
    await load.stop();
    // The batch has as long again as the run to finish (it may not be cut short: its outputs are judged).
    const batch = await Promise.race([batchRun.done, new Promise((r) => setTimeout(() => r(undefined), Math.max(600, o.durationS) * 1000))]);
    if (!batch) batchChild.kill('SIGINT');
    const batchResult = /** @type {any} */ (batch ?? (await batchRun.done));
    batchChild = undefined;
    await new Promise((r) => setTimeout(r, 5000)); // the restart logger settles its last records
    await sampler.stop();

    const records = sandbox.restartRecords().slice(restartsBefore);
    const comparison = compareOutputs({ origin, output: batchOut, calm: calmOut });
    const batchFailed = batchResult.report.filter((/** @type {any} */ l) => l.status !== 'converted');
    const batchSummary = {
      files: o.batchFiles,
      exit_code: batchResult.code,
      finished_at_s: batchEndS ?? null,
      converted: batchResult.report.length - batchFailed.length,
      failed: batchFailed.length,
      retried: batchResult.report.filter((/** @type {any} */ l) => l.attempts > 1).length,
      failures: batchFailed.slice(0, 20).map((/** @type {any} */ l) => ({ file: l.file, error: l.error })),
      ...comparison,
    };
    const report = buildReport({
      t0,
      options: o,
      settings,
      commit,
      samples: sampler.samples,
      load: load.counts,
      loadFailures: load.failures,
      batch: batchSummary,
      records,
      calmRecords: sandbox.restartRecords().slice(0, restartsBefore),
      actions: chaos.actions,
      minFreeMb: firstHealth.host_guard?.min_free_mb ?? 0,
    });
    writeReport(o.outDir, report, sampler.samples, records);
    printVerdict(print, report);
    return report;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    load?.stop();
    sampler?.stop();
    await teardown();
    await new Promise((r) => logFile.end(r));
  }
}

/** @param {Pm2Sandbox} sandbox @param {number} instances */
async function waitHealthy(sandbox, instances) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const online = (await sandbox.list()).filter((p) => p.name === 'docmark' && p.status === 'online');
    if (online.length === instances) {
      const health = await fetch(`${sandbox.url}/health`)
        .then((r) => (r.ok ? r.json() : undefined))
        .catch(() => undefined);
      if (health) return health;
    }
    if (Date.now() > deadline) throw new Error('the docmark instances did not come up within 120 s');
    await new Promise((r) => setTimeout(r, 500));
  }
}

function gitCommit() {
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${head}+changes` : head;
  } catch {
    return 'unknown';
  }
}
