import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { InThreadPort, snapshot } from '../src/engine/load/in-thread-port.ts';
import type { PDFDocumentProxy } from 'pdfjs-dist/types/src/display/api.js';
import { loadPdf, pdfjs } from '../src/engine/load/pdf.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * The port between pdfjs's API and its same-thread worker: the receiver must get a snapshot
 * (pdfjs refills its arrays after sending them; a text chunk's items, which it never touches
 * again, are handed over), in order, and a real document must read the
 * same through it as through pdfjs's own structuredClone port.
 */

type Message = { data: unknown };

function listen(port: InThreadPort, signal?: AbortSignal): Message[] {
  const got: Message[] = [];
  port.addEventListener('message', (event) => got.push(event), signal ? { signal } : undefined);
  return got;
}

const until = (condition: () => boolean) => waitFor(condition, { timeoutMs: 2000, intervalMs: 1, what: 'delivery' });
const CORPUS = path.resolve(import.meta.dirname, 'fixtures/corpus');

describe('in-thread pdfjs port', () => {
  it('delivers a snapshot: later changes by the sender do not reach the receiver', async () => {
    const port = new InThreadPort();
    const got = listen(port);
    // What pdfjs's text extraction does: send a chunk, then reuse the object with new arrays.
    const chunk = { items: [{ str: 'a', transform: [1, 0, 0, 1, 5, 6] }], styles: Object.create(null) };
    chunk.styles.f1 = { ascent: 0.8 };
    port.postMessage({ chunk });
    chunk.items[0].transform[4] = 99;
    chunk.items.length = 0;
    chunk.styles = Object.create(null);
    await until(() => got.length === 1);
    const received = (got[0].data as { chunk: { items: unknown; styles: Record<string, unknown> } }).chunk;
    assert.deepEqual(received.items, [{ str: 'a', transform: [1, 0, 0, 1, 5, 6] }]);
    assert.equal(Object.getPrototypeOf(received.styles), null, 'a prototype-less object stays one');
    assert.deepEqual({ ...received.styles }, { f1: { ascent: 0.8 } });
  });

  it("hands a text chunk's items over without a copy, and keeps the chunk as it was sent", async () => {
    const port = new InThreadPort();
    const got = listen(port);
    // pdfjs's getTextContent: a chunk goes out as a stream's ENQUEUE message, then the worker
    // gives its text content new item and style containers and fills those.
    const textContent = { items: [{ str: 'a', transform: [1, 0, 0, 1, 5, 6] }], styles: Object.create(null), lang: null };
    textContent.styles.f1 = { ascent: 0.8 };
    const items = textContent.items;
    port.postMessage({ sourceName: 'w', targetName: 'm', stream: 4, streamId: 1, chunk: textContent });
    textContent.items = [{ str: 'b', transform: [1, 0, 0, 1, 7, 8] }];
    textContent.styles = Object.create(null);
    await until(() => got.length === 1);
    const received = (got[0].data as { stream: number; chunk: { items: unknown; styles: Record<string, unknown> } }).chunk;
    assert.equal(received.items, items, 'the items themselves, not a copy');
    assert.deepEqual(received.items, [{ str: 'a', transform: [1, 0, 0, 1, 5, 6] }]);
    assert.deepEqual({ ...received.styles }, { f1: { ascent: 0.8 } });
    assert.notEqual(received, textContent, 'the chunk the worker goes on filling is copied');
  });

  it('copies binary data; a transferred buffer moves, and the sender is left an empty one', async () => {
    const kept = new Uint8Array([1, 2, 3]);
    const copy = snapshot({ kept }) as { kept: Uint8Array };
    assert.ok(copy.kept instanceof Uint8Array && copy.kept !== kept);
    kept[0] = 9;
    assert.deepEqual([...copy.kept], [1, 2, 3]);

    const port = new InThreadPort();
    const got = listen(port);
    const given = new Uint8Array([4, 5, 6]);
    port.postMessage({ data: given, note: 'image' }, [given.buffer]);
    assert.equal(given.byteLength, 0, "detached on send, as with pdfjs's own port");
    await until(() => got.length === 1);
    assert.deepEqual(got[0].data, { data: new Uint8Array([4, 5, 6]), note: 'image' });
  });

  it('moves transferred buffers with every view on them, copies the rest, and copies a shared instance once', async () => {
    class Glyph {
      constructor(public unicode: string) {}
    }
    const shared = new Glyph('a');
    const buffer = new ArrayBuffer(16);
    new Float32Array(buffer).set([1, 2, 3, 4]);
    const whole = new Float32Array(buffer);
    const tail = new Float32Array(buffer, 8, 2);
    const bytes = new Uint8Array(buffer, 4, 4);
    const kept = new Float32Array([7, 8]);
    const raw = new ArrayBuffer(2);
    const message = { args: [[whole, tail], { bytes, kept }, [shared, 5, shared]], raw };
    const port = new InThreadPort();
    const got = listen(port);
    port.postMessage(message, [buffer, raw]);
    assert.equal(buffer.byteLength, 0, 'the sender is left an empty buffer');
    assert.equal(raw.byteLength, 0);
    assert.equal(kept.length, 2, 'a buffer not transferred stays with the sender');
    await until(() => got.length === 1);
    const data = got[0].data as {
      args: [[Float32Array, Float32Array], { bytes: Uint8Array; kept: Float32Array }, [Record<string, unknown>, number, Record<string, unknown>]];
      raw: ArrayBuffer;
    };
    const [[w, t], { bytes: b, kept: k }, [g1, n, g2]] = data.args;
    assert.deepEqual([...w], [1, 2, 3, 4]);
    assert.deepEqual([...t], [3, 4]);
    assert.ok(w.buffer === t.buffer && t.buffer === b.buffer, 'views of one buffer stand on one moved buffer');
    assert.equal(b.byteOffset, 4);
    assert.deepEqual([...b], [...new Uint8Array(new Float32Array([2]).buffer)]);
    assert.ok(k !== kept && k.buffer !== kept.buffer);
    assert.deepEqual([...k], [7, 8]);
    assert.ok(data.raw instanceof ArrayBuffer && data.raw.byteLength === 2);
    assert.equal(n, 5);
    assert.deepEqual(g1, { unicode: 'a' });
    assert.equal(Object.getPrototypeOf(g1), Object.prototype, 'as structuredClone: the class is not kept');
    assert.equal(g1, g2, 'an instance sent twice arrives once, as structuredClone sends it');
    // A message of a view alone, and a buffer transferred twice.
    const lone = new Uint16Array([9]);
    port.postMessage(lone, [lone.buffer, lone.buffer]);
    await until(() => got.length === 2);
    assert.ok(got[1].data instanceof Uint16Array);
    assert.deepEqual([...(got[1].data as Uint16Array)], [9]);
  });

  it('leaves what is not plain data to structuredClone', () => {
    class Point {
      constructor(public x: number) {}
    }
    const map = new Map([['k', [1, 2]]]);
    const error = new TypeError('bad');
    const copy = snapshot({ point: new Point(3), map, error, when: new Date(0) }) as Record<string, unknown>;
    assert.deepEqual(copy.point, { x: 3 });
    assert.equal(Object.getPrototypeOf(copy.point), Object.prototype, 'as structuredClone: the class is not kept');
    assert.ok(copy.map instanceof Map && copy.map !== map);
    assert.deepEqual([...(copy.map as Map<string, number[]>)], [['k', [1, 2]]]);
    assert.ok(copy.error instanceof TypeError && (copy.error as Error).message === 'bad');
    assert.ok(copy.when instanceof Date);
    // A cycle is beyond the direct copy's depth and still comes out as a cycle.
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    const c = snapshot(cyclic) as { self: unknown };
    let node: unknown = c;
    for (let i = 0; i < 100; i++) node = (node as { self: unknown }).self;
    assert.equal(typeof node, 'object');
  });

  it('delivers in order, after the sender returns; a listener removed by its signal gets nothing more', async () => {
    const port = new InThreadPort();
    const ac = new AbortController();
    const stays = listen(port);
    const leaves = listen(port, ac.signal);
    port.postMessage(1);
    port.postMessage(2);
    assert.equal(stays.length, 0, 'nothing is delivered synchronously');
    await until(() => stays.length === 2);
    ac.abort();
    port.postMessage(3);
    await until(() => stays.length === 3);
    assert.deepEqual(
      stays.map((m) => m.data),
      [1, 2, 3],
    );
    assert.deepEqual(
      leaves.map((m) => m.data),
      [1, 2],
    );
    port.terminate();
    port.postMessage(4);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(stays.length, 3, 'a terminated port has no listeners');
  });

  it("reads a real document exactly as through pdfjs's own port, and closes it", async () => {
    const bytes = fs.readFileSync(path.join(CORPUS, 'bcrypt.pdf'));
    const read = async (pdf: PDFDocumentProxy) => {
      const pages = [];
      for (let n = 1; n <= pdf.numPages; n++) {
        const page = await pdf.getPage(n);
        // The operator list: path data and matrices transferred, glyphs shared between text operations.
        const { fnArray, argsArray } = await page.getOperatorList();
        pages.push({ text: await page.getTextContent(), annotations: await page.getAnnotations({ intent: 'print' }), fnArray, argsArray });
      }
      return pages;
    };
    const lib = await pdfjs();
    // Without a worker of its own, pdfjs joins the two sides with its structuredClone port.
    const reference = await lib.getDocument({
      data: new Uint8Array(bytes),
      isEvalSupported: false,
      disableFontFace: true,
      useSystemFonts: false,
      verbosity: 0,
    }).promise;
    const expected = await read(reference);
    await reference.destroy();

    const loaded = await loadPdf(new Uint8Array(bytes));
    const actual = await read(loaded.pdf);
    // Font names carry the document's number (g_d0_f1, g_d1_f1): the only expected difference.
    const same = (pages: unknown) =>
      JSON.stringify(pages, (_key, value) => (ArrayBuffer.isView(value) ? [value.constructor.name, ...(value as Float32Array)] : value)).replace(
        /g_d\d+_/g,
        'g_',
      );
    assert.equal(same(actual), same(expected));
    assert.ok(
      actual.some((p) => p.annotations.length > 0),
      'the document has links',
    );
    assert.match(actual[0].text.items.map((i) => ('str' in i ? i.str : '')).join(''), /bcrypt/i);
    await loaded.close();
    assert.equal(loaded.pdf.loadingTask.destroyed, true);
    assert.throws(() => loaded.pdf.getPage(1), 'a closed document answers no more requests');
  });
});
