#!/usr/bin/env node
// `npm run docs:settings`: write the configuration table generated from the settings schema
// (src/settings.js) into docs/configuration.md, between its `<!-- settings -->` markers.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { settingsTable } from '../src/settings.js';

const page = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'configuration.md');
const text = fs.readFileSync(page, 'utf8');
const marked = /(<!-- settings -->\n)[\s\S]*?(<!-- \/settings -->)/;
if (!marked.test(text)) {
  console.error('docs/configuration.md has no <!-- settings --> … <!-- /settings --> block');
  process.exit(1);
}
fs.writeFileSync(
  page,
  text.replace(marked, (_, open, close) => `${open}${settingsTable()}\n${close}`),
);
console.log('docs/configuration.md: configuration table written from src/settings.js');
