// From the samples, outcomes and restart records to the figures and the verdict. Pure functions:
// the smoke test and the report use the same ones.

/** The RSS slope goal: an instance that keeps growing faster than this leaks. */
export const SLOPE_GOAL_MB_PER_H = 5;
/**
 * After PM2 sees an instance over the limit (one check), the replacement starts before the old one
 * leaves (cluster reload): the old pid stays the instance's for the replacement's start, a few
 * seconds on a loaded machine.
 */
export const REPLACEMENT_START_S = 10;

/** @param {number[]} xs @param {number} q */
export function quantile(xs, q) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/** Least-squares slope of y over x and its standard error. @param {Array<[number, number]>} points */
export function fit(points) {
  const n = points.length;
  if (n < 3) return null;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  if (sxx === 0) return null;
  const b = sxy / sxx;
  const residual = points.reduce((s, [x, y]) => s + (y - my - b * (x - mx)) ** 2, 0);
  return { slope: b, se: Math.sqrt(residual / (n - 2) / sxx) };
}

/** @param {Array<[number, number]>} points */
export const slope = (points) => fit(points)?.slope ?? null;

/** Samples of the instances PM2 currently runs (not an `_old_` process leaving after a reload). @param {any} sample */
const current = (sample) => sample.instances.filter((i) => typeof i.pm_id === 'number' && i.status === 'online' && i.rss_mb != null);

/**
 * Each stretch of samples in which one process stayed over the limit while still PM2's instance.
 * @param {any[]} samples @param {number} limitMb @param {number} sampleS
 */
export function overLimitRuns(samples, limitMb, sampleS) {
  /** @type {Map<number, { pid: number, instance: number, from: number, to: number, peak: number }>} */
  const open = new Map();
  const runs = [];
  for (const s of samples) {
    const over = new Set();
    for (const i of current(s)) {
      if (i.rss_mb <= limitMb) continue;
      over.add(i.pid);
      const run = open.get(i.pid) ?? { pid: i.pid, instance: i.instance, from: s.t, to: s.t, peak: 0 };
      run.to = s.t;
      run.peak = Math.max(run.peak, i.rss_mb);
      open.set(i.pid, run);
    }
    for (const [pid, run] of open) {
      if (over.has(pid)) continue;
      runs.push({ ...run, seconds: Math.round(run.to - run.from + sampleS) });
      open.delete(pid);
    }
  }
  for (const run of open.values()) runs.push({ ...run, seconds: Math.round(run.to - run.from + sampleS) });
  return runs;
}

/**
 * The level of the instances' RSS over the run, after warm-up: the median of every instance's RSS in
 * each window, and its slope over the windows. Restarts make each process's own line a saw (and a
 * scan loads OCR in steps of a hundred MB); what must not grow is the saw's level. Each window's
 * median is one point, so the slope's standard error says how much the run can tell: a short run
 * cannot tell 5 MB/h from noise.
 * @param {any[]} samples @param {number} warmupS @param {number} windowS
 */
export function rssTrend(samples, warmupS, windowS) {
  /** @type {Map<number, number[]>} */
  const windows = new Map();
  for (const s of samples) {
    if (s.t < warmupS) continue;
    const w = Math.floor((s.t - warmupS) / windowS);
    for (const i of current(s)) windows.set(w, [...(windows.get(w) ?? []), i.rss_mb]);
  }
  /** @type {Array<[number, number]>} */
  const medians = [...windows]
    .filter(([, v]) => v.length >= 3)
    .map(([w, v]) => [(warmupS + (w + 0.5) * windowS) / 3600, /** @type {number} */ (quantile(v, 0.5))]);
  const daemon = samples
    .filter((s) => s.t >= warmupS && s.daemon_rss_mb != null)
    .map((s) => /** @type {[number, number]} */ ([s.t / 3600, s.daemon_rss_mb]));
  const level = fit(medians);
  const pm2 = fit(daemon);
  const round = (/** @type {number | undefined} */ v) => (v === undefined ? null : Math.round(v * 10) / 10);
  return {
    instances_mb_per_h: round(level?.slope),
    instances_se_mb_per_h: round(level?.se),
    window_s: windowS,
    window_medians_mb: medians.map(([h, mb]) => ({ at_s: Math.round(h * 3600), mb })),
    pm2_daemon_mb_per_h: round(pm2?.slope),
  };
}

/** @param {{ instances_mb_per_h: number | null, instances_se_mb_per_h: number | null }} trend */
const slopeConclusive = (trend) =>
  trend.instances_mb_per_h !== null && trend.instances_se_mb_per_h !== null && trend.instances_se_mb_per_h <= SLOPE_GOAL_MB_PER_H;

/** @param {any[]} records restart-log lines */
export function restartsByCause(records, app) {
  /** @type {Record<string, number>} */
  const by = {};
  for (const r of records) if (!app || r.app === app) by[r.cause] = (by[r.cause] ?? 0) + 1;
  return by;
}

/**
 * @param {{ samples: any[], load: any, batch: any, restarts: Record<string, number>, limitMb: number, checkS: number, sampleS: number, warmupS: number, windowS: number, minFreeMb: number }} input
 */
export function verdict({ samples, load, batch, restarts, limitMb, checkS, sampleS, warmupS, windowS, minFreeMb }) {
  const runs = overLimitRuns(samples, limitMb, sampleS);
  const longestOver = runs.reduce((m, r) => Math.max(m, r.seconds), 0);
  const allowedOver = checkS + sampleS + REPLACEMENT_START_S;
  const lowest = samples.reduce((m, s) => (m === null || s.available_mb < m.available_mb ? s : m), null);
  const trend = rssTrend(samples, warmupS, windowS);
  const batchFailures = batch ? batch.failed : 0;
  const checks = [
    {
      check: 'failed requests a client could not retry',
      goal: '0',
      value: load.failed + batchFailures,
      pass: load.failed + batchFailures === 0,
    },
    {
      check: 'longest time an instance stayed over the memory limit (s)',
      goal: `≤ ${allowedOver} (one PM2 check ${checkS} s + one sample ${sampleS} s + the replacement's start ${REPLACEMENT_START_S} s)`,
      value: longestOver,
      pass: longestOver <= allowedOver,
    },
    {
      check: 'lowest available host memory (MB)',
      goal: `above DOCMARK_MIN_FREE_MB (${minFreeMb})`,
      value: lowest?.available_mb ?? null,
      pass: lowest !== null && lowest.available_mb > minFreeMb,
    },
    {
      check: 'RSS slope of the instances after warm-up (MB/h)',
      goal: `≤ ${SLOPE_GOAL_MB_PER_H}`,
      value: trend.instances_mb_per_h === null ? null : `${trend.instances_mb_per_h} ± ${trend.instances_se_mb_per_h}`,
      // A run too short to tell the goal from noise (standard error above it) cannot pass or fail it.
      pass: slopeConclusive(trend) ? /** @type {number} */ (trend.instances_mb_per_h) <= SLOPE_GOAL_MB_PER_H : null,
    },
    {
      check: 'batch outputs present and equal to the calm run',
      goal: batch ? `${batch.expected} of ${batch.expected}` : 'a batch ran',
      value: batch ? `${batch.present} present, ${batch.equal} equal` : null,
      pass: Boolean(batch) && batch.present === batch.expected && batch.equal === batch.expected,
    },
  ];
  return {
    // Inconclusive checks (pass: null) are reported, not counted.
    pass: checks.every((c) => c.pass !== false),
    inconclusive: checks.filter((c) => c.pass === null).map((c) => c.check),
    checks,
    over_limit_runs: runs,
    lowest_available: lowest ? { mb: lowest.available_mb, at_s: lowest.t } : null,
    rss_trend: trend,
    restarts,
  };
}
