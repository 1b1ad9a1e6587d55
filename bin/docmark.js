#!/usr/bin/env node
// The CLI is compiled TypeScript: run `npm run build` once after cloning.
import '../dist/cli/main.js';
