// A run's figures, verdict, report.json and report.svg. Built at the end of a run, or again later
// from the files a run leaves (`npm run soak -- --from DIR`), after a change to the analysis.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { quantile, restartsByCause, verdict } from './analysis.mjs';
import { chart } from './svg.mjs';

/** After this much of the run, instances count as warm (OCR loaded, caches full). */
const WARMUP_MAX_S = 300;
/** Runs this long measure the RSS level in 5-minute windows; shorter ones in eighths of the run. */
const LONG_RUN_S = 1800;

/**
 * @param {{ t0: number, options: any, settings: Record<string, string>, commit: string, samples: any[], load: any, loadFailures: any[],
 *   batch: any, records: any[], calmRecords: any[], actions: any[], minFreeMb: number, host?: any }} input
 */
export function buildReport({
  t0,
  options: o,
  settings,
  commit,
  samples,
  load,
  loadFailures,
  batch,
  records,
  calmRecords,
  actions,
  minFreeMb,
  host,
}) {
  const limitMb = toMb(o.memoryLimit);
  const warmupS = Math.min(WARMUP_MAX_S, o.durationS / 4);
  const windowS = o.durationS >= LONG_RUN_S ? 300 : Math.max(20, Math.round(o.durationS / 8));
  const v = verdict({
    samples,
    load,
    batch,
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
  const done = (/** @type {any} */ a) => a.result === 'ok' || a.result === 'sent';
  return {
    soak: {
      started: new Date(t0).toISOString(),
      duration_s: o.durationS,
      commit,
      node: process.version,
      host: host ?? { cores: os.cpus().length, memory_gb: Math.round(os.totalmem() / 1024 ** 3), load_1m_mean: mean(samples.map((s) => s.load_1m)) },
      note: 'Run on a shared 2-core machine (other work on the same cores); wall-clock figures are those of a loaded host.',
    },
    settings: {
      ...settings,
      PM2_WORKER_INTERVAL: String(o.checkS * 1000),
      clients: o.clients,
      sample_s: o.sampleS,
      chaos_every_s: o.chaosEveryS,
      seed: o.seed,
      memory_limit: o.memoryLimit,
    },
    verdict: v.pass ? 'pass' : 'fail',
    checks: v.checks,
    inconclusive: v.inconclusive,
    restarts: {
      by_cause: v.restarts,
      total: records.length,
      actions: countBy(actions.filter(done), 'action'),
      actions_not_done: actions.filter((a) => !done(a)),
      calm_phase: calmRecords.length,
      calm_phase_by_cause: restartsByCause(calmRecords, 'docmark'),
    },
    requests: { ...load, failures: loadFailures.slice(0, 50) },
    batch,
    memory: {
      limit_mb: limitMb,
      min_free_mb: minFreeMb,
      instance_rss_mb: { min: Math.min(...rss), p50: quantile(rss, 0.5), max: Math.max(...rss) },
      over_limit_runs: v.over_limit_runs,
      rss_trend: v.rss_trend,
      lowest_available: v.lowest_available,
      pm2_daemon_rss_mb: { first: samples.find((s) => s.daemon_rss_mb != null)?.daemon_rss_mb ?? null, last: samples.at(-1)?.daemon_rss_mb ?? null },
    },
    health: {
      samples: samples.length,
      failed: samples.length - healthMs.length,
      p50_ms: quantile(healthMs, 0.5),
      p95_ms: quantile(healthMs, 0.95),
      max_ms: Math.max(...healthMs),
      max_queued: Math.max(0, ...samples.map((s) => s.queued ?? 0)),
    },
    files: {
      samples: 'samples.jsonl',
      outcomes: 'outcomes.jsonl',
      restart_log: 'pm2/docmark-restarts.jsonl',
      batch_log: 'batch.log',
      actions: 'soak.log',
    },
  };
}

/** @param {string} outDir @param {any} report @param {any[]} samples @param {any[]} records restart-log lines of the run */
export function writeReport(outDir, report, samples, records) {
  const t0 = Date.parse(report.soak.started);
  const restarts = records.map((r) => ({ t: Math.round((Date.parse(r.time) - t0) / 100) / 10, cause: r.cause, instance: r.instance }));
  fs.writeFileSync(path.join(outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  fs.writeFileSync(
    path.join(outDir, 'report.svg'),
    chart({
      samples,
      restarts,
      limitMb: report.memory.limit_mb,
      minFreeMb: report.memory.min_free_mb,
      durationS: report.soak.duration_s,
      title: `docmark soak, ${fmtDuration(report.soak.duration_s)}, ${report.soak.started.slice(0, 16)}Z, ${report.soak.commit.slice(0, 10)}: ${report.verdict}`,
    }),
  );
}

/** @param {(l: string) => void} print @param {any} report */
export function printVerdict(print, report) {
  print('');
  print(`soak verdict: ${report.verdict.toUpperCase()} (${fmtDuration(report.soak.duration_s)}, commit ${report.soak.commit.slice(0, 10)})`);
  for (const c of report.checks) print(`  ${c.pass === null ? 'n/a ' : c.pass ? 'ok  ' : 'FAIL'} ${c.check}: ${c.value} (goal ${c.goal})`);
  if (report.inconclusive.length) print('  (n/a: this run is too short to tell; not counted in the verdict)');
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

/**
 * The report again from a run's files: samples.jsonl, outcomes.jsonl, soak.log (what the soak set
 * off), pm2/docmark-restarts.jsonl, and the settings, batch figures and commit of its report.json.
 * @param {string} dir
 */
export function rebuildReport(dir) {
  const old = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
  const lines = (/** @type {string} */ f) =>
    fs.existsSync(path.join(dir, f))
      ? fs
          .readFileSync(path.join(dir, f), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
      : [];
  const samples = lines('samples.jsonl');
  const outcomes = lines('outcomes.jsonl');
  const t0 = Date.parse(old.soak.started);
  const all = lines('pm2/docmark-restarts.jsonl').filter((r) => r.app === 'docmark');
  const load = {
    requests: 0,
    ok: 0,
    failed: 0,
    retried: 0,
    retried_ok: 0,
    by_kind: /** @type {Record<string, { ok: number, failed: number }>} */ ({}),
  };
  for (const l of outcomes) {
    load.requests++;
    load.by_kind[l.kind] ??= { ok: 0, failed: 0 };
    load[l.ok ? 'ok' : 'failed']++;
    load.by_kind[l.kind][l.ok ? 'ok' : 'failed']++;
    if (l.attempts > 1) {
      load.retried++;
      if (l.ok) load.retried_ok++;
    }
  }
  const s = old.settings;
  const options = {
    durationS: old.soak.duration_s,
    checkS: Number(s.PM2_WORKER_INTERVAL) / 1000,
    sampleS: s.sample_s,
    memoryLimit: s.memory_limit ?? s.DOCMARK_MAX_MEMORY,
    clients: s.clients,
    chaosEveryS: s.chaos_every_s,
    seed: s.seed,
  };
  const settings = Object.fromEntries(Object.entries(s).filter(([k]) => k.startsWith('DOCMARK_')));
  const minFreeMb = old.memory.min_free_mb ?? Number(/\((\d+)\)/.exec(old.checks.find((c) => /host memory/.test(c.check))?.goal ?? '')?.[1] ?? 0);
  const report = buildReport({
    t0,
    options,
    settings,
    commit: old.soak.commit,
    samples,
    load,
    loadFailures: outcomes.filter((l) => !l.ok),
    batch: old.batch,
    records: all.filter((r) => Date.parse(r.time) >= t0),
    calmRecords: all.filter((r) => Date.parse(r.time) < t0),
    actions: lines('soak.log').filter((l) => l.msg === 'chaos'),
    minFreeMb,
    host: old.soak.host,
  });
  report.soak.node = old.soak.node;
  writeReport(
    dir,
    report,
    samples,
    all.filter((r) => Date.parse(r.time) >= t0),
  );
  return report;
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
  const r = Math.round(s);
  if (r < 120) return `${r} s`;
  if (r < 7200) return `${Math.round(r / 60)} min`;
  return `${Math.round((r / 3600) * 10) / 10} h`;
}
