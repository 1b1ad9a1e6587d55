// A long PDF made of the pages of shorter ones, taken in turn (for the split test and bench):
// built when needed, so no big file lives in the repository.
import fs from 'node:fs';
import { PDFDocument } from 'pdf-lib';

/**
 * `count` pages: page 1 of each file in turn, then page 2 of each, and so on (wrapping).
 * @param {string[]} files
 * @param {number} count
 * @returns {Promise<Uint8Array>}
 */
export async function repeatPages(files, count) {
  const sources = await Promise.all(files.map(async (/** @type {string} */ f) => PDFDocument.load(fs.readFileSync(f))));
  const doc = await PDFDocument.create();
  for (let i = 0; i < count; i++) {
    const source = sources[i % sources.length];
    const round = Math.floor(i / sources.length);
    const [page] = await doc.copyPages(source, [round % source.getPageCount()]);
    doc.addPage(page);
  }
  return doc.save();
}
