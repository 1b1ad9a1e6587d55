import type { Block, Line, Rect } from '../types.js';
import { ruledTables } from './ruled-tables.js';
import { columnStartsOf } from './table-grid.js';
import { unruledTables } from './unruled-tables.js';

/*
 * Layout step: tables. Tables framed by rules are found from the page's drawings
 * (ruled-tables.ts), then tables aligned by whitespace alone among the lines left
 * (unruled-tables.ts); both cut their text into cells the same way (table-grid.ts).
 */

export interface FoundTable {
  block: Omit<Block, 'page'>;
  /** Index after the table's last line. */
  end: number;
}

export interface TableLine {
  line: Line;
  /** Left margin of the line's text column. */
  left: number;
}

/**
 * Tables found on a page, keyed by the index of their first line. `carried`: the column starts of
 * a table that ended the page before, which rows at the top of this page may go on with. `rects`:
 * the page's drawings (Page.rects).
 */
export function detectTables(lines: TableLine[], body: number, carried?: number[], rects: readonly Rect[] = []): Map<number, FoundTable> {
  const ruled = ruledTables(lines, body, rects, carried);
  const taken = new Set<number>();
  for (const [start, table] of ruled) for (let i = start; i < table.end; i++) taken.add(i);
  const unruled = unruledTables(lines, body, (i) => !taken.has(i));
  return new Map([...ruled, ...unruled].sort((a, b) => a[0] - b[0]));
}

/** Left edges of a table's columns (to carry across a page break). */
export function columnStarts(lines: Line[], body: number): number[] {
  return columnStartsOf(lines, body);
}

/**
 * The rows of a table cut by a page or column break, `next` being the part after the break. A
 * header the producer repeated on the next page is dropped; a row cut by the break (its first
 * cell empty after the break while the row before it has one) is joined back into one row.
 */
export function joinTableParts(table: Block, next: Block): string[][] {
  const rows = (table.rows ?? []).map((r) => [...r]);
  let more = next.rows ?? [];
  const header = table.headerRows ?? 1;
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((c, k) => c.trim() === b[k]?.trim());
  if (more.length > header && rows.length >= header && rows.slice(0, header).every((r, k) => same(r, more[k]))) more = more.slice(header);
  const last = rows[rows.length - 1];
  const cut = more[0];
  if (last && cut && last[0] !== '' && cut[0] === '' && cut.some((c) => c !== '')) {
    rows[rows.length - 1] = last.map((c, k) => [c, cut[k] ?? ''].filter(Boolean).join(' '));
    more = more.slice(1);
  }
  return [...rows, ...more];
}
