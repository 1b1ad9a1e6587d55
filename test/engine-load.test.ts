import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pdfjs } from '../src/engine/load/pdf.ts';

// Taken before anything in this process has loaded pdfjs (each test file runs in its own).
const natives = { push: Array.prototype.push, stringify: JSON.stringify, parse: JSON.parse };

describe('loading pdfjs', () => {
  it("leaves V8's own push and JSON in place of the legacy build's polyfills", async () => {
    await pdfjs();
    // The legacy build did replace them (its polyfills carry core-js's shared store).
    assert.ok('__core-js_shared__' in globalThis, 'the legacy build ran its polyfills');
    assert.equal(Array.prototype.push, natives.push);
    assert.equal(JSON.stringify, natives.stringify);
    assert.equal(JSON.parse, natives.parse);
    assert.equal(Object.getOwnPropertyDescriptor(Array.prototype, 'push')?.enumerable, false);
    assert.equal(JSON.stringify({ a: [1, '\ud800'] }), '{"a":[1,"\\ud800"]}', 'well-formed, as V8 has been since Node 12');
  });
});
