// report.svg, written by hand: RSS of each instance over time with the memory limit, every restart
// marked by its cause, and the host's available memory below. No chart library: a few paths.

const W = 1000;
const PAD = { left: 64, right: 180, top: 36, bottom: 36 };
const TOP_H = 300;
const GAP = 56;
const BOTTOM_H = 140;
const H = PAD.top + TOP_H + GAP + BOTTOM_H + PAD.bottom;
const INSTANCE_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#17becf'];
export const CAUSE_COLORS = {
  conversion_limit: '#2ca02c',
  memory_limit: '#d62728',
  cron: '#9467bd',
  manual: '#1f77b4',
  crash: '#ff7f0e',
  signal: '#7f7f7f',
  errored: '#000000',
};

const esc = (/** @type {string} */ s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const fmt = (/** @type {number} */ n) => (Number.isInteger(n) ? String(n) : n.toFixed(1));

/** Round axis steps: 1, 2, 5 × 10^k. @param {number} span @param {number} ticks */
function step(span, ticks) {
  const raw = span / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? raw;
}

/**
 * @param {{ samples: any[], restarts: Array<{ t: number, cause: string, instance: number | null }>, limitMb: number, minFreeMb?: number, title: string, durationS: number }} input
 */
export function chart({ samples, restarts, limitMb, minFreeMb = 0, title, durationS }) {
  const plotW = W - PAD.left - PAD.right;
  const tMax = Math.max(durationS, ...samples.map((s) => s.t), 1);
  const x = (/** @type {number} */ t) => PAD.left + (t / tMax) * plotW;
  const rssPeak = Math.max(limitMb * 1.15, ...samples.flatMap((s) => s.instances.map((i) => i.rss_mb ?? 0)));
  const rssMax = Math.ceil(rssPeak / step(rssPeak, 6)) * step(rssPeak, 6);
  const yTop = (/** @type {number} */ mb) => PAD.top + TOP_H - (mb / rssMax) * TOP_H;
  const memMax = Math.max(minFreeMb, ...samples.map((s) => s.available_mb), 1) * 1.1;
  const bottom0 = PAD.top + TOP_H + GAP;
  const yBottom = (/** @type {number} */ mb) => bottom0 + BOTTOM_H - (mb / memMax) * BOTTOM_H;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`);
  out.push(`<title>${esc(title)}: RSS per instance, memory limit, restarts by cause, host available memory</title>`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${PAD.left}" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`);

  // Axes and grids.
  const tStep = step(tMax / 60, 8) * 60;
  const xTicks = [];
  for (let t = 0; t <= tMax; t += tStep) xTicks.push(t);
  for (const [y0, h] of [
    [PAD.top, TOP_H],
    [bottom0, BOTTOM_H],
  ]) {
    out.push(`<rect x="${PAD.left}" y="${y0}" width="${plotW}" height="${h}" fill="none" stroke="#999"/>`);
    for (const t of xTicks) {
      out.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${y0}" y2="${y0 + h}" stroke="#eee"/>`);
      out.push(`<text x="${x(t)}" y="${y0 + h + 14}" text-anchor="middle">${fmt(t / 60)} min</text>`);
    }
  }
  const rssStep = step(rssMax, 6);
  for (let mb = 0; mb <= rssMax; mb += rssStep) {
    out.push(`<line x1="${PAD.left}" x2="${PAD.left + plotW}" y1="${yTop(mb)}" y2="${yTop(mb)}" stroke="#eee"/>`);
    out.push(`<text x="${PAD.left - 6}" y="${yTop(mb) + 4}" text-anchor="end">${mb}</text>`);
  }
  out.push(
    `<text x="14" y="${PAD.top + TOP_H / 2}" transform="rotate(-90 14 ${PAD.top + TOP_H / 2})" text-anchor="middle">RSS per instance (MB)</text>`,
  );
  const memStep = step(memMax / 1024, 4);
  for (let gb = 0; gb * 1024 <= memMax; gb += memStep) {
    out.push(`<line x1="${PAD.left}" x2="${PAD.left + plotW}" y1="${yBottom(gb * 1024)}" y2="${yBottom(gb * 1024)}" stroke="#eee"/>`);
    out.push(`<text x="${PAD.left - 6}" y="${yBottom(gb * 1024) + 4}" text-anchor="end">${fmt(gb)}</text>`);
  }
  out.push(
    `<text x="14" y="${bottom0 + BOTTOM_H / 2}" transform="rotate(-90 14 ${bottom0 + BOTTOM_H / 2})" text-anchor="middle">host available (GB)</text>`,
  );

  // Restarts: a tick per restart across the RSS panel, by cause.
  for (const r of restarts) {
    const color = CAUSE_COLORS[r.cause] ?? '#000';
    out.push(
      `<line x1="${x(r.t)}" x2="${x(r.t)}" y1="${PAD.top}" y2="${PAD.top + TOP_H}" stroke="${color}" stroke-opacity="0.18" stroke-width="1"/>`,
    );
    out.push(`<line x1="${x(r.t)}" x2="${x(r.t)}" y1="${PAD.top}" y2="${PAD.top + 14}" stroke="${color}" stroke-width="2"/>`);
    out.push(
      `<circle cx="${x(r.t)}" cy="${PAD.top + 6}" r="3" fill="${color}"><title>${esc(`${r.cause} (instance ${r.instance ?? '?'}) at ${fmt(r.t / 60)} min`)}</title></circle>`,
    );
  }

  // RSS lines, one per instance; a new process starts a new segment.
  const instances = [...new Set(samples.flatMap((s) => s.instances.filter((i) => typeof i.pm_id === 'number').map((i) => i.instance)))].sort();
  for (const [k, inst] of instances.entries()) {
    const color = INSTANCE_COLORS[k % INSTANCE_COLORS.length];
    let d = '';
    let lastPid;
    for (const s of samples) {
      const i = s.instances.find((j) => j.instance === inst && typeof j.pm_id === 'number' && j.rss_mb != null);
      if (!i) {
        lastPid = undefined;
        continue;
      }
      d += `${i.pid === lastPid ? 'L' : 'M'}${x(s.t).toFixed(1)},${yTop(i.rss_mb).toFixed(1)}`;
      lastPid = i.pid;
    }
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.2"/>`);
  }
  out.push(
    `<line x1="${PAD.left}" x2="${PAD.left + plotW}" y1="${yTop(limitMb)}" y2="${yTop(limitMb)}" stroke="#d62728" stroke-dasharray="6 4" stroke-width="1.5"/>`,
  );
  out.push(`<text x="${PAD.left + 4}" y="${yTop(limitMb) - 4}" fill="#d62728">memory limit ${limitMb} MB</text>`);

  // Host available memory.
  const mem = samples.map((s, j) => `${j ? 'L' : 'M'}${x(s.t).toFixed(1)},${yBottom(s.available_mb).toFixed(1)}`).join('');
  out.push(`<path d="${mem}" fill="none" stroke="#333" stroke-width="1.2"/>`);
  if (minFreeMb > 0) {
    out.push(
      `<line x1="${PAD.left}" x2="${PAD.left + plotW}" y1="${yBottom(minFreeMb)}" y2="${yBottom(minFreeMb)}" stroke="#d62728" stroke-dasharray="6 4"/>`,
    );
    out.push(`<text x="${PAD.left + 4}" y="${yBottom(minFreeMb) - 4}" fill="#d62728">host guard: DOCMARK_MIN_FREE_MB ${minFreeMb}</text>`);
  }

  // Legend.
  const lx = PAD.left + plotW + 16;
  let ly = PAD.top + 8;
  out.push(`<text x="${lx}" y="${ly}" font-weight="bold">instances</text>`);
  for (const [k, inst] of instances.entries()) {
    ly += 16;
    out.push(
      `<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${INSTANCE_COLORS[k % INSTANCE_COLORS.length]}" stroke-width="2"/>`,
    );
    out.push(`<text x="${lx + 24}" y="${ly}">instance ${inst}</text>`);
  }
  ly += 26;
  out.push(`<text x="${lx}" y="${ly}" font-weight="bold">restarts by cause</text>`);
  /** @type {Record<string, number>} */
  const counts = {};
  for (const r of restarts) counts[r.cause] = (counts[r.cause] ?? 0) + 1;
  for (const [cause, n] of Object.entries(counts).sort()) {
    ly += 16;
    out.push(`<circle cx="${lx + 9}" cy="${ly - 4}" r="4" fill="${CAUSE_COLORS[cause] ?? '#000'}"/>`);
    out.push(`<text x="${lx + 24}" y="${ly}">${esc(cause)}: ${n}</text>`);
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
