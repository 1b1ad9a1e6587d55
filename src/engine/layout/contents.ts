import type { Line, TextRun } from '../types.js';

// Layout step, tables of contents. Each entry is a line that ends with a page number set flush
// right, the entries' numbers one under another, most with a dot leader between title and
// number. Run together they would read as one paragraph of titles, dots and numbers; each entry
// becomes a list item (its title: the leader and the page number mean nothing in Markdown),
// nested by its indent.

/** A page number: arabic, or roman. */
const PAGE_REF = /^(?:\d{1,4}|[ivxlc]{1,6})$/i;
/** A dot leader: four dots or more, spaced or not, at the end of a run. */
const LEADER = /(?:\s*\.){4,}\s*$/;
/** The entries' page numbers end this close (pt) to one another. */
const SAME_RIGHT = 2;
/** Entries of one table of contents, at least (a few lines ending with numbers may be a table's). */
const MIN_ENTRIES = 3;
/** A page number stands at least this far (body sizes) from the title before it when no leader joins them. */
const NUMBER_GAP = 1;

export interface ContentsLine {
  line: Line;
  columnIndex: number;
}

/** The tables of contents among a page's lines (in reading order): [first, end) index ranges. */
export function findContents(lines: ContentsLine[], body: number): [number, number][] {
  const found: [number, number][] = [];
  let k = 0;
  while (k < lines.length) {
    if (!isEntry(lines[k].line, body)) {
      k++;
      continue;
    }
    const right = lines[k].line.bbox.x1;
    let end = k + 1;
    while (
      end < lines.length &&
      lines[end].columnIndex === lines[k].columnIndex &&
      isEntry(lines[end].line, body) &&
      Math.abs(lines[end].line.bbox.x1 - right) <= SAME_RIGHT
    )
      end++;
    const entries = lines.slice(k, end).map((l) => l.line);
    if (entries.length >= MIN_ENTRIES && entries.some(hasLeader)) found.push([k, end]);
    k = end;
  }
  return found;
}

/** Does the line end with a page number, apart from its title or after a leader? */
function isEntry(line: Line, body: number): boolean {
  const runs = line.runs;
  if (runs.length < 2 || !PAGE_REF.test(runs[runs.length - 1].text.trim())) return false;
  const before = runs[runs.length - 2];
  return LEADER.test(before.text) || runs[runs.length - 1].bbox.x0 - before.bbox.x1 >= body * NUMBER_GAP;
}

function hasLeader(line: Line): boolean {
  return line.runs.length >= 2 && LEADER.test(line.runs[line.runs.length - 2].text);
}

/** An entry's title: its line without the page number and the leader. */
export function entryTitle(line: Line): Line {
  const runs: TextRun[] = line.runs.slice(0, -1).map((r) => ({ ...r }));
  const last = runs[runs.length - 1];
  last.text = last.text.replace(LEADER, '');
  const kept = runs.filter((r) => r.text.trim() !== '');
  return { ...line, runs: kept, text: kept.map((r) => r.text).join(' ') };
}
