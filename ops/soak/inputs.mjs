// What the soak's clients send: real PDFs of every kind the service meets, with what a correct
// answer is for each. Good documents must convert (200); bad and hostile inputs must get a clear
// answer (200 when the PDF can be recovered, else a 4xx with its code), never a 5xx or a hang.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './sandbox.mjs';

const CORPUS = path.join(ROOT, 'test/fixtures/corpus');
/** The typeset dev set (LaTeX, Writer): in the tree when present, else the shared copy. */
const TYPESET_DIRS = [
  path.join(ROOT, 'test/fixtures/corpus-typeset'),
  path.resolve(ROOT, '../../shared/corpus-typeset'),
  '/work/shared/corpus-typeset',
];

/** Share of requests per kind of input: mostly documents, a steady trickle of scans and bad input. */
const WEIGHTS = { born: 0.4, typeset: 0.25, scan: 0.1, bad: 0.1, hostile: 0.15 };

/** @param {string} dir @param {(f: string) => boolean} keep */
const pdfsIn = (dir, keep = () => true) =>
  fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.pdf') && keep(f))
        .sort()
        .map((f) => path.join(dir, f))
    : [];

export function typesetDir() {
  return TYPESET_DIRS.find((d) => pdfsIn(d).length > 0);
}

export function corpusSets() {
  const ts = typesetDir();
  return {
    born: pdfsIn(CORPUS, (f) => !f.includes('.scanned.')),
    typeset: ts ? pdfsIn(ts) : [],
    scan: pdfsIn(CORPUS, (f) => f.includes('.scanned.')),
    bad: pdfsIn(path.join(CORPUS, 'bad')),
  };
}

/**
 * @typedef {{ kind: string, name: string, body: Buffer, query?: string, declaredLength?: number, expect: 'ok' | 'answer' }} Input
 */

/** @param {() => number} random  a seeded generator, so a run can be repeated */
export function inputPicker(random) {
  const sets = corpusSets();
  const cache = new Map();
  const read = (/** @type {string} */ f) => {
    if (!cache.has(f)) cache.set(f, fs.readFileSync(f));
    return cache.get(f);
  };
  const pick = (/** @type {string[]} */ list) => list[Math.floor(random() * list.length)];
  const kinds = Object.entries(WEIGHTS).filter(([k]) => k === 'hostile' || sets[k]?.length);
  const total = kinds.reduce((s, [, w]) => s + w, 0);

  /** @returns {Input} */
  const hostile = () => {
    const source = pick(sets.born);
    const bytes = read(source);
    const name = path.basename(source);
    switch (Math.floor(random() * 5)) {
      case 0: // cut at a random point: no xref, no trailer
        return {
          kind: 'hostile',
          name: `truncated:${name}`,
          body: bytes.subarray(0, 16 + Math.floor(random() * bytes.length * 0.9)),
          expect: 'answer',
        };
      case 1: {
        // a few hundred random bytes overwritten
        const copy = Buffer.from(bytes);
        for (let i = 0; i < 300; i++) copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
        return { kind: 'hostile', name: `flipped:${name}`, body: copy, expect: 'answer' };
      }
      case 2: // says it is bigger than any upload allowed: refused from its header
        return { kind: 'hostile', name: 'oversized', body: Buffer.from('%PDF-1.7\n'), declaredLength: 4096 * 1024 * 1024, expect: 'answer' };
      case 3: // options out of range
        return { kind: 'hostile', name: `bad-options:${name}`, body: bytes, query: '?pages=1-999999999&output_format=nonsense', expect: 'answer' };
      default: // a PDF header and noise
        return {
          kind: 'hostile',
          name: 'noise',
          body: Buffer.concat([Buffer.from('%PDF-1.4\n'), crypto.randomBytes(2000 + Math.floor(random() * 60_000))]),
          expect: 'answer',
        };
    }
  };

  return () => {
    let r = random() * total;
    const [kind] = kinds.find(([, w]) => (r -= w) < 0) ?? kinds[0];
    if (kind === 'hostile') return hostile();
    const file = pick(sets[kind]);
    return { kind, name: path.basename(file), body: read(file), expect: kind === 'bad' ? 'answer' : 'ok' };
  };
}

/** A small fast generator (mulberry32): the same seed gives the same run of inputs. */
export function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
