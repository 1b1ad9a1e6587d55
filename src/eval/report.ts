import type { DocumentResult, Evaluation } from './evaluate.js';
import { METRICS, type Metric, type Scores } from './score.js';

// An evaluation as people read it (a table: a row per document, then the means) and as
// programs read it (JSON, the same figures unrounded).

const LABELS: Record<Metric, string> = {
  text: 'text',
  headings: 'headings',
  heading_levels: 'levels',
  tables: 'tables',
  cells: 'cells',
  lists: 'lists',
  code: 'code',
  order: 'order',
  furniture: 'furniture',
  cer: 'cer',
};

const cell = (v: number | null): string => (v === null ? '-' : v.toFixed(3));

export function formatRow(name: string, scores: Scores, nameWidth: number): string {
  return name.padEnd(nameWidth) + METRICS.map((m) => `  ${cell(scores[m]).padStart(LABELS[m].length)}`).join('');
}

export function formatHeader(nameWidth: number): string {
  return 'document'.padEnd(nameWidth) + METRICS.map((m) => `  ${LABELS[m]}`).join('');
}

/** The width of the name column for these documents. */
export function nameWidth(ids: string[]): number {
  return Math.max(18, ...ids.map((id) => id.length + 1));
}

export function documentName(result: DocumentResult): string {
  return result.missing ? `${result.id}*` : result.id;
}

/** What follows the documents' rows: a rule, the means per kind of truth, the missing outputs. */
export function formatFooter(evaluation: Evaluation, width: number): string {
  const lines = ['-'.repeat(formatHeader(width).length)];
  const { markdown, text } = evaluation.means;
  if (markdown.documents) lines.push(formatRow(`mean (${markdown.documents} .md)`, markdown.scores, width));
  if (text.documents) lines.push(formatRow(`mean (${text.documents} .txt)`, text.scores, width));
  const missing = evaluation.documents.filter((d) => d.missing);
  if (missing.length) {
    lines.push('', `* no output, scored as empty (${missing.length}):`);
    for (const d of missing) lines.push(`  ${d.id}: ${d.missing}`);
  }
  return lines.join('\n');
}

export function evaluationJson(evaluation: Evaluation): string {
  return JSON.stringify(evaluation, null, 1);
}
