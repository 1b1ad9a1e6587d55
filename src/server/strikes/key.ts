import { createHash } from 'node:crypto';
import type { ConvertOptions } from '../../engine/types.js';
import { sha256 } from './hash.js';

// What a strike is held against: the PDF's bytes (their sha256, which `sha256sum file.pdf` shows
// too), and, when not the whole document is converted the default way, which pages and whether
// with OCR. Those change what a conversion holds in memory, so a document refused whole still gets
// a try for a page range: the way out the refusal's message offers.

/** Longer page lists are named by a hash of the list. */
const MAX_PAGES_TEXT = 60;

export async function documentKey(bytes: Uint8Array, options: Pick<ConvertOptions, 'pageRange' | 'forceOcr'>): Promise<string> {
  const parts: string[] = [];
  if (options.pageRange) {
    const pages = ranges(options.pageRange);
    parts.push(pages.length <= MAX_PAGES_TEXT ? `pages=${pages}` : `pages#${createHash('sha256').update(pages).digest('hex').slice(0, 16)}`);
  }
  if (options.forceOcr) parts.push('ocr');
  const hash = await sha256(bytes);
  return parts.length ? `${hash}:${parts.join('+')}` : hash;
}

/** The sha256 part of a key. */
export function documentHash(key: string): string {
  return key.slice(0, 64);
}

/** [0,1,2,5] → "0-2,5" (the list is sorted and without duplicates, as parseOptions leaves it). */
function ranges(pages: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < pages.length; ) {
    let j = i;
    while (j + 1 < pages.length && pages[j + 1] === pages[j] + 1) j++;
    out.push(i === j ? String(pages[i]) : `${pages[i]}-${pages[j]}`);
    i = j + 1;
  }
  return out.join(',');
}
