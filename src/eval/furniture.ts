import { markdownText } from './markdown.js';
import { plainText } from './text.js';

// Running headers, footers and page numbers (page furniture) that the output kept. Which lines
// a document prints on every page is known from its description (a corpus manifest), not
// guessed: the score is 1 − lines leaked / lines printed, 1 when all were removed.

export interface Furniture {
  /** Pages in the document. */
  pages: number;
  /** The running lines printed on each page (header and footer texts). */
  text: string[];
  /** How the page number is printed: `Page N of M`, or a bare number (`N`). */
  pageNumber: string;
}

const PAGE_N_OF_M = /\bPage \d+ of \d+\b/g;
const BARE_NUMBER_LINE = /^\s*\d{1,4}\s*$/;

export function furnitureScore(furniture: Furniture | undefined, truth: string, output: string): number | null {
  if (!furniture?.pages) return null;
  const truthText = plainText(markdownText(truth));
  const outputText = plainText(markdownText(output));
  let leaked = 0;
  // Only what the output has beyond the truth: a header's words may also be in the body.
  for (const line of furniture.text) {
    const key = plainText(line);
    if (!key) continue;
    leaked += Math.max(0, occurrences(outputText, key) - occurrences(truthText, key));
  }
  if (furniture.pageNumber === 'Page N of M') {
    leaked += Math.max(0, (outputText.match(PAGE_N_OF_M)?.length ?? 0) - (truthText.match(PAGE_N_OF_M)?.length ?? 0));
  } else {
    leaked += Math.max(0, pageNumberLines(output, furniture.pages) - pageNumberLines(truth, furniture.pages));
  }
  const printed = furniture.pages * (furniture.text.length + 1);
  return Math.max(0, 1 - leaked / printed);
}

function occurrences(haystack: string, needle: string): number {
  let count = 0;
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + needle.length)) count++;
  return count;
}

/** Lines of the Markdown source that are only a number that could be one of its pages. */
function pageNumberLines(markdown: string, pages: number): number {
  return markdown.split('\n').filter((line) => BARE_NUMBER_LINE.test(line) && Number(line.trim()) >= 1 && Number(line.trim()) <= pages).length;
}
