import { setTimeout as delay } from 'node:timers/promises';
import type { TransferListItem } from 'node:worker_threads';
import { checkpoint } from '../../engine/cancel.js';
import { assembleDocument, type ConvertHooks, openDocument } from '../../engine/convert.js';
import type { ConvertOptions, ConvertResult, Page } from '../../engine/types.js';
import { DEFAULT_OPTIONS } from '../../engine/types.js';
import type { FromWorker, ToWorker } from './messages.js';

// The worker side of a big document shared by several workers. The worker the conversion was
// given to opens the PDF; when it selects more than splitPages pages it asks the pool which
// shares idle workers will read ('split'), reads the first share itself, then takes the other
// shares' pages as they come back ('share-pages') and assembles the document once. A share the
// pool gives back (its worker crashed, or was wanted by a queued conversion) it reads itself.
// Shares are read in document order: a reader names fonts in the order the document uses them
// (see engine/extract/font-names.ts), so it cannot go back to pages before those it has read.

/** How often a conversion waiting for other workers' pages looks whether it was cancelled. */
const CANCEL_POLL_MS = 100;

type Send = (msg: FromWorker, transfer?: TransferListItem[]) => void;

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** The plan and shares of the conversion this worker runs; messages for any other are stale. */
export class ShareInbox {
  private id = 0;
  private plan?: Deferred<number[][]>;
  /** Per share: its pages, or undefined when it is left to this worker. */
  private shares: Array<Deferred<Page[] | undefined>> = [];

  open(id: number): Deferred<number[][]> {
    this.id = id;
    this.plan = deferred();
    this.shares = [];
    return this.plan;
  }

  close(): void {
    this.id = 0;
    this.plan = undefined;
    this.shares = [];
  }

  /** Per share of the plan: its pages, or undefined when it is left to this worker. */
  arriving(): Array<Promise<Page[] | undefined>> {
    return this.shares.map((d) => d.promise);
  }

  /** True when the message was one of the inbox's (handled or stale). */
  receive(msg: ToWorker): boolean {
    switch (msg.type) {
      case 'split-plan':
        if (msg.id === this.id && this.plan) {
          // A share may be given back before this worker has even sent the file.
          this.shares = msg.shares.map(() => deferred<Page[] | undefined>());
          this.plan.resolve(msg.shares);
        }
        return true;
      case 'share-pages':
      case 'share-back':
        if (msg.id === this.id) this.shares[msg.share]?.resolve(msg.type === 'share-pages' ? msg.pages : undefined);
        return true;
      default:
        return false;
    }
  }
}

export interface SharedConversion {
  id: number;
  bytes: Uint8Array;
  options: ConvertOptions;
  /** Most pages converted without asking for help (0: never ask). */
  splitPages: number;
  inbox: ShareInbox;
  send: Send;
  /** OCR pages and progress, as for a conversion in one worker. */
  hooks: Pick<ConvertHooks, 'onOcrPage' | 'onPage'>;
}

/** Convert a document, sharing its pages with other workers when it is big and the pool agrees. */
export async function convertShared({ id, bytes, options: opts, splitPages, inbox, send, hooks }: SharedConversion): Promise<ConvertResult> {
  const options: ConvertOptions = { ...DEFAULT_OPTIONS, ...opts };
  const started = performance.now();
  // Progress counts every selected page, whoever reads it: this worker reports the pages it read.
  let doneHere = 0;
  let total = 0;
  const doc = await openDocument(bytes, options, {
    handOver: true,
    onOcrPage: hooks.onOcrPage,
    onPage: (done) => {
      if (done > 0) doneHere++;
      hooks.onPage?.(doneHere, total);
    },
  });
  try {
    total = doc.selected.length;
    let shares: number[][] = [];
    if (splitPages > 0 && total > splitPages) {
      const plan = inbox.open(id);
      send({ type: 'split', id, selected: doc.selected });
      shares = await waitUncancelled(plan.promise);
      if (shares.length > 0) {
        const copy = await doc.copyBytes();
        send({ type: 'split-bytes', id, bytes: copy }, [copy.buffer as ArrayBuffer]);
      }
    }
    const arriving = inbox.arriving();
    const elsewhere = new Set(shares.flat());
    const pages = await doc.extract(doc.selected.filter((i) => !elsewhere.has(i)));
    for (const [k, share] of shares.entries()) {
      const read = await waitUncancelled(arriving[k]);
      pages.push(...(read ?? (await doc.extract(share))));
    }
    pages.sort((a, b) => a.index - b.index);
    return assembleDocument(pages, doc.info, options, started);
  } finally {
    inbox.close();
    await doc.close();
  }
}

/** Wait for other workers, stopping as soon as this conversion is cancelled. */
async function waitUncancelled<T>(promise: Promise<T>): Promise<T> {
  let settled = false;
  let value!: T;
  void promise.then((v) => {
    settled = true;
    value = v;
  });
  for (;;) {
    checkpoint();
    await Promise.race([promise, delay(CANCEL_POLL_MS)]);
    if (settled) return value;
  }
}
