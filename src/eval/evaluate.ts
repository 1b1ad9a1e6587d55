import fs from 'node:fs/promises';
import type { EvalDocument } from './corpus.js';
import { METRICS, scoreOutput, type Metric, type Scores, type TruthKind } from './score.js';

// A set of documents scored one at a time (only one document's texts in memory), then the
// means per kind of truth: what a table of results or a quality floor reads.

/** A document's output, or why there is none (it is then scored as an empty output). */
export type OutputResult = { output: string } | { missing: string };

export interface DocumentResult {
  id: string;
  kind: TruthKind;
  scores: Scores;
  /** Why there was no output (not converted, conversion failed); scored as empty. */
  missing?: string;
}

export interface Means {
  documents: number;
  /** Mean of each metric over the documents where it applies; null where it applies to none. */
  scores: Scores;
}

export interface Evaluation {
  documents: DocumentResult[];
  means: Record<TruthKind, Means>;
}

export async function evaluate(
  documents: EvalDocument[],
  outputFor: (doc: EvalDocument) => Promise<OutputResult>,
  onDocument?: (result: DocumentResult) => void,
): Promise<Evaluation> {
  const results: DocumentResult[] = [];
  for (const doc of documents) {
    const truth = await fs.readFile(doc.truth, 'utf8');
    const got = await outputFor(doc);
    const output = 'output' in got ? got.output : '';
    const result: DocumentResult = {
      id: doc.id,
      kind: doc.kind,
      scores: scoreOutput(truth, output, doc.kind, doc.furniture),
      ...('missing' in got ? { missing: got.missing } : {}),
    };
    results.push(result);
    onDocument?.(result);
  }
  return { documents: results, means: { markdown: meansOf(results, 'markdown'), text: meansOf(results, 'text') } };
}

function meansOf(results: DocumentResult[], kind: TruthKind): Means {
  const ofKind = results.filter((r) => r.kind === kind);
  const scores = Object.fromEntries(METRICS.map((metric: Metric) => [metric, mean(ofKind.map((r) => r.scores[metric]))])) as Scores;
  return { documents: ofKind.length, scores };
}

function mean(values: Array<number | null>): number | null {
  const present = values.filter((v): v is number => v !== null);
  return present.length ? present.reduce((a, b) => a + b, 0) / present.length : null;
}
