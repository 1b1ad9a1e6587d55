import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { OutputFormat } from '../engine/types.js';

// Where each output goes and how it gets there: the input tree mirrored under the output
// folder, every file written to a temporary name first and renamed when complete. So an
// output that exists is complete, which is what makes reruns resumable.

const EXTENSIONS: Record<OutputFormat, string> = { markdown: '.md', json: '.json', html: '.html' };

/** `a/b/report.pdf` → `<out>/a/b/report.md`; a name without `.pdf` keeps it: `scan.bin` → `scan.bin.md`. */
export function outputPathFor(outDir: string, rel: string, format: OutputFormat): string {
  return path.join(outDir, ...rel.replace(/\.pdf$/i, '').split('/')) + EXTENSIONS[format];
}

/**
 * Spellings of the extension, in the order they claim an output: `report.pdf` before
 * `report.PDF` before an extension-less `report` (a PDF found by its signature).
 */
const PDF_EXTENSIONS = ['.pdf', ...['.PDF', '.PDf', '.PdF', '.Pdf', '.pDF', '.pDf', '.pdF'].sort()];

/**
 * Names that map to one output (`report.pdf`, `report.PDF`, `report`) would silently overwrite
 * each other, or be skipped as done. The first by PDF_EXTENSIONS keeps the output; for any
 * other this returns that sibling's name, and the file fails. Decided from names alone, so a
 * rerun decides the same; a plain `.pdf` name (nearly every file) costs nothing.
 */
export async function outputTakenBy(file: string): Promise<string | undefined> {
  const name = path.basename(file);
  const extension = /\.pdf$/i.exec(name)?.[0];
  if (extension === '.pdf') return undefined;
  const stem = extension ? name.slice(0, -extension.length) : name;
  const ahead = extension ? PDF_EXTENSIONS.slice(0, PDF_EXTENSIONS.indexOf(extension)) : PDF_EXTENSIONS;
  const self = await fsp.stat(file).catch(() => undefined);
  for (const candidate of ahead) {
    const other = await fsp.stat(path.join(path.dirname(file), stem + candidate)).catch(() => undefined);
    // On a case-insensitive file system the other spelling is this very file.
    if (other?.isFile() && !(self && other.ino === self.ino && other.dev === self.dev)) return stem + candidate;
  }
  return undefined;
}

export async function outputExists(file: string): Promise<boolean> {
  try {
    return (await fsp.stat(file)).isFile();
  } catch {
    return false;
  }
}

/** A temporary name next to the target (same folder, so the rename is atomic). */
function tempPathFor(target: string): string {
  return `${target}.${process.pid}-${randomBytes(4).toString('hex')}.docmark-partial`;
}

/**
 * Stream `source` into `target` atomically. If anything fails (including an abort),
 * the temporary file is removed and `target` is untouched.
 */
export async function writeAtomically(target: string, source: Readable | string): Promise<void> {
  await fsp.mkdir(path.dirname(target), { recursive: true });
  const temp = tempPathFor(target);
  try {
    if (typeof source === 'string') await fsp.writeFile(temp, source);
    else await pipeline(source, fs.createWriteStream(temp));
    await fsp.rename(temp, target);
  } catch (err) {
    await fsp.rm(temp, { force: true });
    throw err;
  }
}
