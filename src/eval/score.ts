import { boundedEditDistance, textSimilarity } from './distance.js';
import { type Furniture, furnitureScore } from './furniture.js';
import { blocksText, markdownText, parseMarkdown, type Block } from './markdown.js';
import { orderScore } from './order.js';
import { codeScores, headingScores, listScores, tableScores } from './structure.js';
import { plainText } from './text.js';

// One output scored against its truth. A Markdown truth is scored on everything; a plain-text
// truth (what a scan says, without structure) on its text and its character error rate.

/** `markdown`: the truth is a `.md` file; `text`: a `.txt` file (scans). */
export type TruthKind = 'markdown' | 'text';

/** Every metric, in the order reports show them. */
export const METRICS = ['text', 'headings', 'heading_levels', 'tables', 'cells', 'lists', 'code', 'order', 'furniture', 'cer'] as const;
export type Metric = (typeof METRICS)[number];

/** Each metric in [0, 1] (higher is better, except `cer`), or null where it does not apply. */
export type Scores = Record<Metric, number | null>;

const NOT_APPLICABLE: Scores = Object.fromEntries(METRICS.map((m) => [m, null])) as Scores;

export function scoreOutput(truth: string, output: string, kind: TruthKind, furniture?: Furniture): Scores {
  return kind === 'text' ? scoreText(truth, output) : scoreMarkdown(truth, output, furniture);
}

function scoreText(truth: string, output: string): Scores {
  const t = plainText(truth);
  const o = plainText(markdownText(output));
  const edits = boundedEditDistance(t, o);
  return {
    ...NOT_APPLICABLE,
    text: t.length || o.length ? Math.max(0, 1 - edits / Math.max(t.length, o.length)) : 1,
    cer: t.length ? edits / t.length : o.length ? 1 : 0,
  };
}

function scoreMarkdown(truth: string, output: string, furniture: Furniture | undefined): Scores {
  const t = parseMarkdown(truth);
  const o = parseMarkdown(output);
  const outputText = blocksText(o);
  const headings = headingScores(withText(ofType(t, 'heading')), withText(ofType(o, 'heading')));
  const tables = tableScores(ofType(t, 'table'), ofType(o, 'table'));
  return {
    text: textSimilarity(plainText(blocksText(t)), plainText(outputText)),
    headings: headings.headings,
    heading_levels: headings.headingLevels,
    tables: tables.tables,
    cells: tables.cells,
    lists: listScores(ofType(t, 'item'), ofType(o, 'item')).lists,
    code: codeScores(ofType(t, 'code'), ofType(o, 'code')).code,
    order: orderScore(t, outputText).order,
    furniture: furnitureScore(furniture, truth, output),
    cer: null,
  };
}

function ofType<T extends Block['type']>(blocks: Block[], type: T): Array<Extract<Block, { type: T }>> {
  return blocks.filter((b): b is Extract<Block, { type: T }> => b.type === type);
}

/** An empty heading (`#` alone) is no heading to find. */
function withText<T extends { text: string }>(blocks: T[]): T[] {
  return blocks.filter((b) => b.text);
}
