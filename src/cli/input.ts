import fs from 'node:fs/promises';
import { UsageError } from './command.js';

// Small things several commands need: reading the file or folder a user named, and counting
// in words.

/** The bytes of the input file; a path that is not there, or is a folder, is a wrong argument. */
export async function readInputFile(file: string): Promise<Buffer> {
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat) throw new UsageError(`${file}: no such file.`);
  if (stat.isDirectory())
    throw new UsageError(`${file} is a folder: convert takes one PDF (use \`docmark batch ${file} -o <out-dir>\` for a folder).`);
  return fs.readFile(file);
}

/** A folder the user named; anything else is a wrong argument. */
export async function checkFolder(dir: string, what: string): Promise<void> {
  const stat = await fs.stat(dir).catch(() => undefined);
  if (!stat) throw new UsageError(`${dir}: no such folder (${what}).`);
  if (!stat.isDirectory()) throw new UsageError(`${dir} is not a folder (${what}).`);
}

/** `1 page`, `3 pages`. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** Where the client commands find a server unless told. */
export const DEFAULT_SERVER = 'http://127.0.0.1:8002';

/** A `--server` value: an http(s) URL, without a trailing slash. */
export function serverUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--server must be a URL like ${DEFAULT_SERVER}; got "${raw}".`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--server must be http(s); got "${raw}".`);
  return url.href.replace(/\/+$/, '');
}
