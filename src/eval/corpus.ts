import fs from 'node:fs';
import path from 'node:path';
import type { Furniture } from './furniture.js';
import type { TruthKind } from './score.js';

// Which documents a folder holds for evaluation. A folder with a `manifest.json` (the dev corpus
// format) lists them there, with the page furniture each one prints; any other folder pairs each
// PDF with the truth of the same name beside it: `report.pdf` with `report.md` (Markdown: every
// metric) or `report.txt` (plain text: text and character error rate, for scans).

export interface EvalDocument {
  /** The file name without `.pdf`: the output of `<id>.pdf` is `<id>.md`. */
  id: string;
  kind: TruthKind;
  truth: string;
  pdf: string;
  furniture?: Furniture;
}

interface ManifestEntry {
  id: string;
  kind?: string;
  pdf: string;
  truth: string;
  pages?: number;
  headerFooter?: { text?: string[]; pageNumber?: string };
}

export class CorpusError extends Error {}

export function listDocuments(dir: string): EvalDocument[] {
  const manifest = path.join(dir, 'manifest.json');
  return fs.existsSync(manifest) ? fromManifest(dir, manifest) : fromFiles(dir);
}

function fromManifest(dir: string, file: string): EvalDocument[] {
  let entries: ManifestEntry[];
  try {
    entries = (JSON.parse(fs.readFileSync(file, 'utf8')) as { documents: ManifestEntry[] }).documents;
    if (!Array.isArray(entries)) throw new Error('no "documents" list');
  } catch (err) {
    throw new CorpusError(`${file} is not a corpus manifest: ${(err as Error).message}`);
  }
  return entries.map((d) => ({
    id: d.id,
    kind: d.kind === 'scanned' || d.truth.endsWith('.txt') ? 'text' : 'markdown',
    truth: path.join(dir, d.truth),
    pdf: path.join(dir, d.pdf),
    ...(d.headerFooter && d.pages
      ? { furniture: { pages: d.pages, text: d.headerFooter.text ?? [], pageNumber: d.headerFooter.pageNumber ?? 'N' } }
      : {}),
  }));
}

function fromFiles(dir: string): EvalDocument[] {
  const names = new Set(fs.readdirSync(dir));
  const documents: EvalDocument[] = [];
  for (const name of [...names].sort()) {
    const m = /^(.*)\.pdf$/i.exec(name);
    if (!m) continue;
    const id = m[1];
    // A Markdown truth says more than a text one: it wins when both are there.
    const truth = names.has(`${id}.md`) ? `${id}.md` : names.has(`${id}.txt`) ? `${id}.txt` : undefined;
    if (truth) documents.push({ id, kind: truth.endsWith('.md') ? 'markdown' : 'text', truth: path.join(dir, truth), pdf: path.join(dir, name) });
  }
  return documents;
}

/** Where a converter's output for `doc` is expected in an outputs folder. */
export function outputPath(outputsDir: string, doc: EvalDocument): string {
  return path.join(outputsDir, `${doc.id}.md`);
}
