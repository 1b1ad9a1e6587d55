import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, SETTINGS, loadConfig } from '../src/config.ts';
import { settingsTable } from '../src/settings.js';
import { parseOptions, parsePageRange } from '../src/engine/options.ts';
import { ROOT } from './helpers/server.ts';

describe('configuration', () => {
  it('has sensible defaults', () => {
    const c = loadConfig({});
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 8002);
    assert.equal(c.maxUploadBytes, 100 * 1024 * 1024);
  });

  it('refuses malformed values with the variable name in the message', () => {
    assert.throws(
      () => loadConfig({ DOCMARK_PORT: 'eighty' }),
      (e: Error) => e instanceof ConfigError && /DOCMARK_PORT/.test(e.message),
    );
    assert.throws(() => loadConfig({ DOCMARK_PORT: '70000' }), /between 0 and 65535/);
    assert.throws(() => loadConfig({ DOCMARK_MAX_UPLOAD_MB: '1.5' }), /whole number/);
  });

  it('applies the conversion limit outside PM2 only when it is set', () => {
    assert.equal(loadConfig({}, { supervised: true }).maxConversions, 50);
    assert.equal(loadConfig({}, { supervised: false }).maxConversions, 0);
    assert.equal(loadConfig({ DOCMARK_MAX_CONVERSIONS: '7' }, { supervised: false }).maxConversions, 7);
    assert.equal(loadConfig({ pm_id: '0' }).maxConversions, 50, 'under PM2 by default');
  });

  it('has the configuration table (docs/configuration.md) generated from the schema, defaults included', () => {
    const page = fs.readFileSync(path.join(ROOT, 'docs', 'configuration.md'), 'utf8');
    assert.ok(page.includes(settingsTable()), 'docs/configuration.md differs from src/settings.js: run npm run docs:settings');
    for (const s of SETTINGS) assert.ok(s.doc.length > 0 && !s.doc.includes('\n'), `${s.name}: one line of doc`);
  });

  it('gives the PM2 app exactly the settings the server would take by default', () => {
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(path.join(ROOT, 'ecosystem.config.js'))}); console.log(JSON.stringify(m.apps[0]))`,
      ],
      { env: { PATH: process.env.PATH, HOME: os.tmpdir() }, encoding: 'utf8' },
    );
    const app = JSON.parse(out);
    const underPm2 = loadConfig({ ...app.env, HOME: os.tmpdir() }, { supervised: true });
    const server = loadConfig({ HOME: os.tmpdir() }, { supervised: true });
    assert.deepEqual(underPm2, server);
    assert.equal(app.instances, server.pm2.instances);
    assert.equal(app.max_memory_restart, server.pm2.maxMemory);
  });
});

describe('conversion options', () => {
  it('parses page ranges as 0-based sorted unique pages', () => {
    assert.deepEqual(parsePageRange('0,2-4'), [0, 2, 3, 4]);
    assert.deepEqual(parsePageRange(' 3 , 1-2,2 '), [1, 2, 3]);
    for (const bad of ['abc', '1-', '-1', '3-1', '1,,2', '1.5']) assert.throws(() => parsePageRange(bad), /page_range/);
  });

  it('parses formats and booleans strictly', () => {
    assert.equal(parseOptions({ output_format: 'HTML' }).outputFormat, 'html');
    assert.equal(parseOptions({ force_ocr: 'true' }).forceOcr, true);
    assert.equal(parseOptions({ force_ocr: '0' }).forceOcr, false);
    assert.throws(() => parseOptions({ output_format: 'docx' }), /output_format/);
    assert.throws(() => parseOptions({ paginate_output: 'perhaps' }), /paginate_output/);
  });
});
