import { createHash } from 'node:crypto';

/** Hashed per turn of the event loop: a 100 MB upload never holds /health up for more than a few ms at a time. */
const CHUNK_BYTES = 4 * 1024 * 1024;

/** The sha256 of `bytes` in hex, hashed a chunk at a time (no copy of the bytes is made). */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const hash = createHash('sha256');
  for (let at = 0; at < bytes.byteLength; at += CHUNK_BYTES) {
    if (at > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    hash.update(bytes.subarray(at, at + CHUNK_BYTES));
  }
  return hash.digest('hex');
}
