import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';

/**
 * Where each output goes and how it gets there: the input tree mirrored under the
 * output folder, every file written to a temporary name first and renamed when
 * complete. So an output that exists is complete, which is what makes reruns resumable.
 */
export type OutputFormat = 'markdown' | 'json' | 'html';

const EXTENSIONS: Record<OutputFormat, string> = { markdown: '.md', json: '.json', html: '.html' };

/** `a/b/report.pdf` → `<out>/a/b/report.md`; a name without `.pdf` keeps it: `scan.bin` → `scan.bin.md`. */
export function outputPathFor(outDir: string, rel: string, format: OutputFormat): string {
  return path.join(outDir, ...rel.replace(/\.pdf$/i, '').split('/')) + EXTENSIONS[format];
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
