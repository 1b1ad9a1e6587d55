import type { Document, Processor } from '../types.js';
import { detectHeadings } from './headings.js';
import { joinAcrossBreaks } from './joins.js';
import { nestLists } from './lists.js';

/** Structure stage: the steps, in the order they run. Each takes and returns the document. */
export const PROCESSORS: Processor[] = [joinAcrossBreaks, detectHeadings, nestLists];

export function structureDocument(doc: Document, processors: Processor[] = PROCESSORS): Document {
  return processors.reduce((d, step) => step(d), doc);
}
