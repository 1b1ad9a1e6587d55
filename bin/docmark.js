#!/usr/bin/env node
// The CLI is compiled TypeScript (dist/): `npm install` builds it, `npm run build` rebuilds it.
import fs from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!fs.existsSync(main)) {
  console.error('docmark: not built yet: run `npm run build` (or `npm install`) in the docmark folder.');
  process.exit(1);
}
await import(main.href);
