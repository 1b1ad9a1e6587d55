import type { BBox, Line, TextRun } from '../types.js';

// Extract step: runs → lines. Runs arrive in content-stream order, which for most
// producers is reading order; a new line starts when the baseline moves by more
// than a fraction of the font size or the text jumps back to the left.

export function groupLines(runs: TextRun[]): Line[] {
  const lines: Line[] = [];
  let current: TextRun[] = [];
  for (const run of runs) {
    const prev = current[current.length - 1];
    if (prev && !sameLine(prev, run)) {
      lines.push(makeLine(current));
      current = [];
    }
    current.push(run);
  }
  if (current.length) lines.push(makeLine(current));
  return lines.filter((l) => l.text.trim() !== '');
}

function sameLine(a: TextRun, b: TextRun): boolean {
  const size = Math.max(a.fontSize, b.fontSize);
  const baselineA = a.bbox.y1 - a.fontSize * 0.2;
  const baselineB = b.bbox.y1 - b.fontSize * 0.2;
  if (Math.abs(baselineA - baselineB) > size * 0.5) return false;
  // Back to the left: another line. Far to the right on the same baseline stays on the line
  // (table cells): producers draw a column's text before the next column's.
  if (b.bbox.x0 < a.bbox.x0 - size * 0.5) return false;
  return true;
}

export function makeLine(runs: TextRun[]): Line {
  let text = '';
  let prev: TextRun | undefined;
  for (const run of runs) {
    if (prev && needsSpace(prev, run, text)) text += ' ';
    text += run.text;
    prev = run;
  }
  const bbox = unionBoxes(runs.map((r) => r.bbox));
  return { runs, text: text.replace(/\s+/g, ' ').trim(), bbox, fontSize: dominantSize(runs) };
}

const SPACE = /\s/;

function needsSpace(prev: TextRun, run: TextRun, textSoFar: string): boolean {
  if (SPACE.test(textSoFar[textSoFar.length - 1] ?? '') || SPACE.test(run.text[0] ?? '')) return false;
  const gap = run.bbox.x0 - prev.bbox.x1;
  return gap > Math.min(prev.fontSize, run.fontSize) * 0.15;
}

function dominantSize(runs: TextRun[]): number {
  // Most lines are set in one size: no tally needed.
  const first = Math.round((runs[0]?.fontSize ?? 0) * 10) / 10;
  if (runs.every((r) => Math.round(r.fontSize * 10) / 10 === first)) return runs.length ? first : 0;
  const weight = new Map<number, number>();
  for (const r of runs) {
    const key = Math.round(r.fontSize * 10) / 10;
    weight.set(key, (weight.get(key) ?? 0) + r.text.trim().length);
  }
  let best = runs[0]?.fontSize ?? 0;
  let bestWeight = -1;
  for (const [size, w] of weight) if (w > bestWeight) [best, bestWeight] = [size, w];
  return best;
}

export function unionBoxes(boxes: BBox[]): BBox {
  if (boxes.length === 0) return { x0: 0, y0: 0, x1: 0, y1: 0 };
  const u = { ...boxes[0] };
  for (let i = 1; i < boxes.length; i++) {
    const b = boxes[i];
    if (b.x0 < u.x0) u.x0 = b.x0;
    if (b.y0 < u.y0) u.y0 = b.y0;
    if (b.x1 > u.x1) u.x1 = b.x1;
    if (b.y1 > u.y1) u.y1 = b.y1;
  }
  return u;
}

/**
 * The size of the text a line is set in. Inline code may be set smaller than the text around it
 * (browsers and most stylesheets use about 85 %, LaTeX the same size): a line of code alone is
 * scaled back up by the document's own ratio (see inlineCodeScale).
 */
export const CODE_SCALE = 0.85;
export function textSize(line: Line, codeScale = CODE_SCALE): number {
  let size = 0;
  for (const r of line.runs) if (!r.monospace && /\S/.test(r.text)) size = Math.max(size, r.fontSize);
  return size || line.fontSize / codeScale;
}

/** Lines mixing code and prose needed before their sizes say how inline code is set. */
const MIN_MIXED_LINES = 5;

/** How large inline code is set against the prose around it: the median over lines holding both. */
export function inlineCodeScale(lines: Iterable<Line>): number {
  const ratios: number[] = [];
  for (const line of lines) {
    let code = 0;
    let prose = 0;
    for (const r of line.runs) {
      if (r.monospace) code = Math.max(code, r.fontSize);
      else prose = Math.max(prose, r.fontSize);
    }
    if (code > 0 && prose > 0) ratios.push(code / prose);
  }
  if (ratios.length < MIN_MIXED_LINES) return CODE_SCALE;
  ratios.sort((a, b) => a - b);
  return ratios[Math.floor(ratios.length / 2)];
}

/** Width of a line's first word (runs break at font changes, not at spaces). */
export function firstWordWidth(line: Line): number {
  const run = line.runs[0];
  const text = run.text.trimStart();
  const word = text.split(/\s/)[0];
  return ((run.bbox.x1 - run.bbox.x0) * word.length) / Math.max(1, text.length);
}
