#!/usr/bin/env node
// `npm run docs:settings`: write the configuration table generated from the settings schema
// (src/settings.js) into the README, between its `<!-- settings -->` markers.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { settingsTable } from '../src/settings.js';

const readme = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'README.md');
const text = fs.readFileSync(readme, 'utf8');
const marked = /(<!-- settings -->\n)[\s\S]*?(<!-- \/settings -->)/;
if (!marked.test(text)) {
  console.error('README.md has no <!-- settings --> … <!-- /settings --> block');
  process.exit(1);
}
fs.writeFileSync(
  readme,
  text.replace(marked, (_, open, close) => `${open}${settingsTable()}\n${close}`),
);
console.log('README.md: configuration table written from src/settings.js');
