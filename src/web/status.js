// The status page: GET /status.json every few seconds, drawn as tables and two uPlot charts (RSS
// per instance with the memory limit and each restart marked; conversions per minute).
// document.body.dataset.state becomes "ready" after the first answer: the browser tests wait on it.
import { getJson } from '/assets/api.js';
import uPlot from '/assets/lib/uPlot.esm.js';

const REFRESH_MS = 5000;
const $ = (id) => document.getElementById(id);
const PALETTE = ['#1f77b4', '#2ca02c', '#9467bd', '#8c564b', '#17becf', '#bcbd22', '#e377c2', '#7f7f7f'];
const CAUSE_COLORS = {
  memory_limit: '#d62728',
  crash: '#b3261e',
  errored: '#b3261e',
  signal: '#ff7f0e',
  manual: '#7f7f7f',
  cron: '#17becf',
  conversion_limit: '#2ca02c',
};

let rssChart;
let rateChart;

async function refresh() {
  const { ok, body } = await getJson('/status.json');
  if (!ok) {
    $('error-code').textContent = body.error?.code ?? 'error';
    $('error-message').textContent = body.error?.message ?? '';
    $('error').hidden = false;
    return;
  }
  $('error').hidden = true;
  render(body);
  document.body.dataset.state = 'ready';
}

function render(s) {
  $('updated').textContent = `${s.app} · updated ${new Date(s.generated_at).toLocaleTimeString()}`;
  $('card-instances').textContent = String(s.instances.length);
  $('card-inflight').textContent = String(s.queue.in_flight);
  $('card-queued').textContent = String(s.queue.queued);
  $('card-busy').textContent = `${s.queue.busy_workers} / ${s.queue.workers}`;
  $('card-rate').textContent = String(s.conversions_per_minute.slice(-5).reduce((n, m) => n + m[1], 0));
  $('card-restarts').textContent = s.restarts.available ? String(s.restarts.total) : 'no log';
  $('card-jobs-box').hidden = s.jobs === null;
  if (s.jobs)
    $('card-jobs').textContent = Object.entries(s.jobs)
      .map(([k, v]) => `${v} ${k}`)
      .join(' · ');

  fill('instances', s.instances, (i) => [
    i.instance ?? '–',
    i.pid,
    stateCell(i.state),
    duration(i.uptime_s),
    i.conversions,
    i.failures,
    i.in_flight,
    `${i.busy_workers} / ${i.workers}`,
    i.queued,
    `${i.rss_mb} MB`,
  ]);
  fill('restart-causes', s.restarts.by_cause, (c) => [causeCell(c.cause), c.count, duration(c.mean_interval_s)]);
  fill('restarts', [...s.restarts.recent].reverse(), (r) => [
    new Date(r.time).toLocaleString(),
    r.instance ?? '–',
    causeCell(r.cause),
    `${r.old_pid ?? '?'} → ${r.new_pid ?? '?'}`,
    r.rss_mb === null ? '–' : `${r.rss_mb} MB`,
  ]);
  fill('failures', Object.entries(s.failures_by_code), ([code, n]) => [code, n]);
  $('restarts-note').textContent = s.restarts.available
    ? `${s.restarts.total} restart${s.restarts.total === 1 ? '' : 's'} in the log${s.restarts.first ? ` since ${new Date(s.restarts.first).toLocaleString()}` : ''}; mean interval ${duration(s.restarts.mean_interval_s)}.`
    : 'No restart log: the restart logger is not running (see docs/operations.md).';
  drawRss(s);
  drawRate(s);
}

function fill(tableId, rows, cells) {
  const body = $(tableId).querySelector('tbody');
  body.replaceChildren(
    ...rows.map((row) => {
      const tr = document.createElement('tr');
      const values = cells(row);
      const head = $(tableId).querySelectorAll('thead th');
      values.forEach((v, i) => {
        const td = document.createElement('td');
        if (head[i]?.classList.contains('num')) td.className = 'num';
        if (v instanceof Node) td.append(v);
        else td.textContent = String(v);
        tr.append(td);
      });
      return tr;
    }),
  );
  if (!rows.length) {
    const tr = document.createElement('tr');
    const td = document.createElement('td');
    td.colSpan = $(tableId).querySelectorAll('thead th').length;
    td.className = 'muted';
    td.textContent = 'none';
    tr.append(td);
    body.append(tr);
  }
}

function stateCell(state) {
  const span = document.createElement('span');
  span.className = `state-${state}`;
  span.textContent = state;
  return span;
}

function causeCell(cause) {
  const span = document.createElement('span');
  span.className = 'cause';
  span.dataset.cause = cause;
  span.style.color = CAUSE_COLORS[cause] ?? '#333';
  span.textContent = cause;
  return span;
}

/** One x axis for every instance (uPlot's data is column-aligned); a missing point is a gap. */
function alignRss(s) {
  const times = [...new Set(s.rss.flatMap((r) => r.points.map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const columns = s.rss.map((r) => {
    const col = new Array(times.length).fill(null);
    for (const [t, mb] of r.points) col[index.get(t)] = mb;
    return col;
  });
  return [times.map((t) => t / 1000), ...columns];
}

/** Vertical lines where restarts happened, in their cause's colour, labelled with the cause. */
function restartMarks(restarts) {
  return {
    hooks: {
      draw: [
        (u) => {
          const { ctx } = u;
          const { top, height } = u.bbox;
          ctx.save();
          ctx.font = `${11 * devicePixelRatio}px sans-serif`;
          restarts.forEach((r, i) => {
            const x = u.valToPos(Date.parse(r.time) / 1000, 'x', true);
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
            ctx.strokeStyle = CAUSE_COLORS[r.cause] ?? '#333';
            ctx.fillStyle = ctx.strokeStyle;
            ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + height);
            ctx.stroke();
            // Labels step down so that restarts close together stay readable.
            const y = top + (12 + (i % 4) * 13) * devicePixelRatio;
            ctx.fillText(`${r.cause}${r.instance === null ? '' : ` (#${r.instance})`}`, x + 3 * devicePixelRatio, y);
          });
          ctx.restore();
        },
      ],
    },
  };
}

function chartWidth(el) {
  return Math.max(320, el.clientWidth - 12);
}

/** From the first thing to show (oldest point or restart, at least MIN_SPAN_S ago) to now, within the window. */
const MIN_SPAN_S = 120;
function xRange(s, times) {
  const end = Date.parse(s.generated_at) / 1000;
  const starts = [...times, ...s.restarts.recent.map((r) => Date.parse(r.time) / 1000)];
  const first = starts.length ? Math.min(...starts) : end;
  return [Math.max(end - s.window_s, Math.min(first, end - MIN_SPAN_S)), end];
}

function drawRss(s) {
  const el = $('rss-chart');
  const data = alignRss(s);
  const limit = s.memory_limit_mb;
  const [from, to] = xRange(s, data[0]);
  // The limit is a series of its own, flat from one edge to the other.
  const xs = [from, ...data[0], to];
  const aligned = [xs, ...data.slice(1).map((col) => [null, ...col, null]), xs.map(() => limit || null)];
  const series = [
    {},
    ...s.rss.map((r, i) => ({
      label: r.instance === null ? 'this server' : `instance ${r.instance}`,
      stroke: PALETTE[i % PALETTE.length],
      spanGaps: true,
      width: 1.5,
    })),
    { label: 'memory limit', stroke: '#d62728', dash: [6, 4], width: 1.5, points: { show: false } },
  ];
  rssChart?.destroy();
  rssChart = new uPlot(
    {
      width: chartWidth(el),
      height: 280,
      series,
      // Log scale: an instance's few hundred MB and a limit of several GB are both readable.
      scales: { x: { time: true, range: () => [from, to] }, y: { distr: 3, log: 2 } },
      axes: [{}, { label: 'RSS (MB)', size: 60 }],
      plugins: [restartMarks(s.restarts.recent)],
    },
    aligned,
    el,
  );
  $('rss-note').textContent =
    `Last ${duration(s.window_s)}; the dashed red line is the memory limit (${limit} MB, PM2 max_memory_restart); dashed verticals are restarts, by cause.`;
}

const bars = uPlot.paths.bars({ size: [0.8, 24] });

function drawRate(s) {
  const el = $('rate-chart');
  const rows = s.conversions_per_minute;
  const data = [rows.map((r) => r[0] / 1000), rows.map((r) => r[1]), rows.map((r) => r[2])];
  const [from, to] = xRange(s, data[0]);
  rateChart?.destroy();
  rateChart = new uPlot(
    {
      width: chartWidth(el),
      height: 180,
      series: [
        {},
        { label: 'conversions', stroke: '#1f4e79', fill: 'rgba(31,78,121,.35)', width: 1, paths: bars },
        { label: 'failures', stroke: '#b3261e', fill: 'rgba(179,38,30,.6)', width: 1, paths: bars },
      ],
      scales: { x: { time: true, range: () => [from, to] }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      axes: [{}, { label: 'per minute', size: 60 }],
    },
    data,
    el,
  );
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  const s = Math.round(seconds);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  if (s < 172800) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d ${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

void refresh();
setInterval(() => void refresh(), REFRESH_MS);
window.addEventListener('resize', () => {
  rssChart?.setSize({ width: chartWidth($('rss-chart')), height: 280 });
  rateChart?.setSize({ width: chartWidth($('rate-chart')), height: 180 });
});
