#!/usr/bin/env node
// `npm install` and `npm ci` run this (the `prepare` script): it builds dist/ so that
// `npx docmark …` works right after installing. An install without dev dependencies
// (`--omit=dev`) has no TypeScript: it then keeps the dist/ already there (built before, or
// shipped) rather than failing the whole install, and says so when there is none.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const built = fs.existsSync(path.join(ROOT, 'dist/cli/main.js'));

let tsc;
try {
  tsc = createRequire(path.join(ROOT, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  if (!built) console.warn('docmark: not built (TypeScript is not installed: install with `npm ci`, then `npm run build`).');
  process.exit(0);
}
const res = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.json')], { cwd: ROOT, stdio: 'inherit' });
process.exit(res.status ?? 1);
