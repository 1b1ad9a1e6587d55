import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, SETTINGS, loadConfig } from '../src/config.ts';
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
    assert.throws(() => loadConfig({ DOCMARK_PORT: 'eighty' }), (e: Error) => e instanceof ConfigError && /DOCMARK_PORT/.test(e.message));
    assert.throws(() => loadConfig({ DOCMARK_PORT: '70000' }), /between 0 and 65535/);
    assert.throws(() => loadConfig({ DOCMARK_MAX_UPLOAD_MB: '1.5' }), /whole number/);
  });

  it('documents every setting in the README configuration table', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    for (const s of SETTINGS) {
      assert.match(readme, new RegExp(`^\\| \`${s.name}\` \\|`, 'm'), `${s.name} missing from the README table`);
    }
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
