import fs from 'node:fs/promises';
import path from 'node:path';
import { hasPdfSignature } from '../engine/load/pdf.js';

// Find the PDFs under a folder, one at a time: an async generator, so nothing grows
// with the number of files. A file counts when its name ends in `.pdf` (the server then
// says what is wrong with it if it is not one) or when its first bytes hold the `%PDF-`
// signature, whatever it is called. Symbolic links are not followed (no cycles).

export interface FoundPdf {
  /** Absolute path. */
  path: string;
  /** Path relative to the walked folder, with `/` separators (used in the report). */
  rel: string;
  size: number;
  /** When its content last changed (a file changed between two runs is not the one submitted before). */
  mtimeMs: number;
}

const HEAD_BYTES = 1024;

export async function* walkPdfs(root: string, options: { exclude?: string[] } = {}): AsyncGenerator<FoundPdf> {
  const excluded = new Set((options.exclude ?? []).map((p) => path.resolve(p)));
  yield* walkDir(path.resolve(root), '', excluded);
}

async function* walkDir(dir: string, relDir: string, excluded: Set<string>): AsyncGenerator<FoundPdf> {
  // opendir streams the entries: a folder of 100 000 files is never held as a list.
  const handle = await fs.opendir(dir);
  for await (const entry of handle) {
    const full = path.join(dir, entry.name);
    const rel = relDir ? `${relDir}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      if (!excluded.has(full)) yield* walkDir(full, rel, excluded);
    } else if (entry.isFile() && !isTempFile(entry.name)) {
      const stat = await pdfStat(full, entry.name);
      if (stat) yield { path: full, rel, size: stat.size, mtimeMs: stat.mtimeMs };
    }
  }
}

/** Size and time of the file if it is to be converted, undefined if it is not a PDF. */
async function pdfStat(file: string, name: string): Promise<{ size: number; mtimeMs: number } | undefined> {
  if (/\.pdf$/i.test(name)) return fs.stat(file);
  const fh = await fs.open(file, 'r').catch(() => undefined);
  if (!fh) return undefined;
  try {
    const head = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(head, 0, HEAD_BYTES, 0);
    if (!hasPdfSignature(head.subarray(0, bytesRead))) return undefined;
    return await fh.stat();
  } finally {
    await fh.close();
  }
}

/** Our own half-written outputs (see outputs.ts) are never inputs. */
function isTempFile(name: string): boolean {
  return name.endsWith('.docmark-partial');
}
