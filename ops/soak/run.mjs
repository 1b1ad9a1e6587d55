// The soak: the real ecosystem under PM2 for a given time, every restart cause firing over and
// over, concurrent clients with a mixed load, the batch client on a folder of 1000+ PDFs; then the
// report (report.json, report.svg) and a verdict. `npm run soak -- --duration 2h`; see
// docs/operations.md ("Soak test").
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { quantile, restartsByCause, verdict } from './analysis.mjs';
import { compareOutputs, makeBatchFolder, makeCalmFolder, runBatchClient } from './batch.mjs';
import { startChaos } from './chaos.mjs';
import { corpusSets, inputPicker, seeded } from './inputs.mjs';
import { startLoad } from './load.mjs';
import { startSampler } from './sampler.mjs';
import { ROOT, Pm2Sandbox } from './sandbox.mjs';
import { chart } from './svg.mjs';

/**
 * @typedef {object} SoakOptions
 * @property {number} durationS
 * @property {string} outDir
 * @property {number} instances
 * @property {number} clients  concurrent load clients (besides the batch)
 * @property {number} batchFiles  PDFs in the batch folder
 * @property {number} batchSources  distinct documents per set in the calm run (0 = all)
 * @property {number} batchMaxPages  the batch copies documents of at most this many pages
 * @property {string} memoryLimit  PM2 max_memory_restart for the run (compressed so it fires)
 * @property {number} maxConversions
 * @property {number} sampleS
 * @property {number} checkS  PM2's memory check interval (PM2_WORKER_INTERVAL)
 * @property {string} cron
 * @property {Record<string, number>} chaosEveryS  reload, crash, kill9
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
    memoryLimit: '200M',
    maxConversions: short ? 5 : 25,
    sampleS: short ? 2 : 3,
    checkS: 5,
    // App-mode schedule (the default mode): each instance leaves in turn.
    cron: short ? '0 * * * * *' : '0 */4 * * * *',
    chaosEveryS: short
      ? { reload: Math.round(durationS / 3), crash: Math.round(durationS / 3), kill9: Math.round(durationS / 3) }
      : { reload: 300, crash: 360, kill9: 300 },
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
    const restarts = records.map((r) => ({ t: Math.round((Date.parse(r.time) - t0) / 100) / 10, cause: r.cause, instance: r.instance }));
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
    const samples = sampler.samples;
    const minFreeMb = firstHealth.host_guard?.min_free_mb ?? 0;
    const limitMb = toMb(o.memoryLimit);
    const warmupS = Math.min(300, o.durationS / 4);
    const windowS = o.durationS >= 1800 ? 300 : Math.max(20, Math.round(o.durationS / 8));
    const v = verdict({
      samples,
      load: load.counts,
      batch: batchSummary,
      restarts: restartsByCause(records, 'docmark'),
      limitMb,
      checkS: o.checkS,
      sampleS: o.sampleS,
      warmupS,
      windowS,
      minFreeMb,
    });
    const healthMs = samples.filter((s) => s.health_status === 200).map((s) => s.health_ms);
    const rss = samples.flatMap((s) => s.instances.map((i) => i.rss_mb).filter((x) => x != null));
    const report = {
      soak: {
        started: new Date(t0).toISOString(),
        duration_s: o.durationS,
        commit: gitCommit(),
        node: process.version,
        host: { cores: os.cpus().length, memory_gb: Math.round(os.totalmem() / 1024 ** 3), load_1m_mean: mean(samples.map((s) => s.load_1m)) },
        note: 'Run on a shared 2-core machine (other work on the same cores); wall-clock figures are those of a loaded host.',
      },
      settings: {
        ...settings,
        PM2_WORKER_INTERVAL: String(o.checkS * 1000),
        clients: o.clients,
        sample_s: o.sampleS,
        chaos_every_s: o.chaosEveryS,
        seed: o.seed,
      },
      verdict: v.pass ? 'pass' : 'fail',
      checks: v.checks,
      inconclusive: v.inconclusive,
      restarts: {
        by_cause: v.restarts,
        total: records.length,
        actions: countBy(
          chaos.actions.filter((a) => a.result === 'ok' || a.result === 'sent'),
          'action',
        ),
        actions_not_done: chaos.actions.filter((a) => a.result !== 'ok' && a.result !== 'sent'),
        calm_phase: restartsBefore,
        calm_phase_by_cause: restartsByCause(sandbox.restartRecords().slice(0, restartsBefore), 'docmark'),
      },
      requests: { ...load.counts, failures: load.failures.slice(0, 50) },
      batch: batchSummary,
      memory: {
        limit_mb: limitMb,
        instance_rss_mb: { min: Math.min(...rss), p50: quantile(rss, 0.5), max: Math.max(...rss) },
        over_limit_runs: v.over_limit_runs,
        rss_trend: v.rss_trend,
        lowest_available: v.lowest_available,
        pm2_daemon_rss_mb: {
          first: samples.find((s) => s.daemon_rss_mb != null)?.daemon_rss_mb ?? null,
          last: samples.at(-1)?.daemon_rss_mb ?? null,
        },
      },
      health: {
        samples: samples.length,
        failed: samples.length - healthMs.length,
        p50_ms: quantile(healthMs, 0.5),
        p95_ms: quantile(healthMs, 0.95),
        max_ms: Math.max(...healthMs),
        max_queued: Math.max(0, ...samples.map((s) => s.queued ?? 0)),
      },
      files: { samples: 'samples.jsonl', outcomes: 'outcomes.jsonl', restart_log: 'pm2/docmark-restarts.jsonl', batch_log: 'batch.log' },
    };
    fs.writeFileSync(path.join(o.outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    fs.writeFileSync(
      path.join(o.outDir, 'report.svg'),
      chart({
        samples,
        restarts,
        limitMb,
        durationS: o.durationS,
        title: `docmark soak, ${fmtDuration(o.durationS)}, ${report.soak.started.slice(0, 16)}Z, ${report.soak.commit.slice(0, 10)}: ${report.verdict}`,
      }),
    );
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

/** @param {(l: string) => void} print @param {any} report */
function printVerdict(print, report) {
  print('');
  print(`soak verdict: ${report.verdict.toUpperCase()} (${fmtDuration(report.soak.duration_s)}, commit ${report.soak.commit.slice(0, 10)})`);
  for (const c of report.checks) print(`  ${c.pass === null ? 'n/a ' : c.pass ? 'ok  ' : 'FAIL'} ${c.check}: ${c.value} (goal ${c.goal})`);
  if (report.inconclusive.length) print(`  (n/a: this run is too short to tell; not counted in the verdict)`);
  print(
    `  restarts: ${
      Object.entries(report.restarts.by_cause)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ') || 'none'
    }`,
  );
  print(
    `  requests: ${report.requests.requests} (${report.requests.retried} retried, ${report.requests.retried_ok} of them then answered); batch ${report.batch.converted}/${report.batch.files}`,
  );
  print(`  /health p50 ${report.health.p50_ms} ms, p95 ${report.health.p95_ms} ms; lowest host memory ${report.memory.lowest_available?.mb} MB`);
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

/** @param {string} v e.g. 380M, 2G */
export function toMb(v) {
  const n = Number(v.slice(0, -1));
  return v.endsWith('G') ? n * 1024 : v.endsWith('K') ? Math.round(n / 1024) : n;
}

/** @param {number[]} xs */
const mean = (xs) => (xs.length ? Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 100) / 100 : null);

/** @param {any[]} xs @param {string} key */
function countBy(xs, key) {
  /** @type {Record<string, number>} */
  const by = {};
  for (const x of xs) by[x[key]] = (by[x[key]] ?? 0) + 1;
  return by;
}

/** @param {number} s */
export function fmtDuration(s) {
  s = Math.round(s);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round((s / 3600) * 10) / 10} h`;
}
