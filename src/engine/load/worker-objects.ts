// pdfjs's worker-side objects, reached from the engine's own thread.
//
// pdfjs runs its worker in the engine's thread (see pdf.ts), so its worker-side document and
// evaluator live in this heap. The engine reaches them for work pdfjs's API does only at a higher
// price (reading a page's drawings without its text, fonts and images: see drawing-operators.ts).
// pdfjs exports none of its worker-side classes; a document's worker side (its PdfManager) is
// found as inflate.ts finds DecodeStream, by a property its constructor sets (`_docBaseUrl`): a
// setter on Object.prototype catches the first manager and moves itself onto the managers' own
// prototype, where it catches every later one. A caught manager waits (held weakly) until loadPdf
// binds it to its loading task by their common document id. From the manager the worker-side
// page, and from the page an evaluator of its own, are reached through their public methods.
//
// Everything here is optional: while no manager is found (or a pdfjs upgrade renamed what the
// hook relies on) the lookup returns undefined and the engine takes pdfjs's public API instead.
import type { PDFDocumentLoadingTask, PDFPageProxy } from 'pdfjs-dist/types/src/display/api.js';

/** What the engine uses of pdfjs's worker-side page (core/document.js, Page). */
export interface WorkerPage {
  readonly resources: WorkerDict | undefined;
  readonly _parsedAnnotations: Promise<WorkerAnnotation[]>;
  getContentStream(): Promise<{ dict?: WorkerDict; getBytes(): Uint8Array; reset(): void }>;
  loadResources(keys: string[]): Promise<unknown>;
  /** A new evaluator for the page (pdfjs builds one for each annotation list and each operator list). */
  createAnnotationEvaluator(handler: unknown): object;
}

/** pdfjs's Dict, as far as it is used here. */
export interface WorkerDict {
  get(key: string): unknown;
  readonly size: number;
}

/** pdfjs's worker-side annotation (core/annotation.js). */
export interface WorkerAnnotation {
  mustBeViewed(annotationStorage: null, renderForms: boolean): boolean;
  mustBeViewedWhenEditing(isEditing: boolean, modifiedIds: Set<string>): boolean;
  getOperatorList(evaluator: unknown, task: unknown, intent: number, annotationStorage: null): Promise<{ opList: OperatorSink | null }>;
}

/** What pdfjs's evaluator writes operators to (its OperatorList's interface). */
export interface OperatorSink {
  readonly fnArray: number[];
  readonly argsArray: unknown[];
  readonly length: number;
}

interface WorkerDocument {
  readonly docId: string;
  getPage(pageIndex: number): Promise<WorkerPage>;
}

const MANAGER_MARK = '_docBaseUrl';

/** Managers built and not yet bound to a loading task (a document being opened, or one pdfjs made for itself). */
const unbound = new Set<WeakRef<WorkerDocument>>();
const byTask = new WeakMap<object, WorkerDocument>();

let installed = false;

/** Catch the worker side of every document opened in this thread from now on. */
export function installWorkerHooks(): void {
  if (installed) return;
  installed = true;
  catchFirst(MANAGER_MARK, catchManager);
}

/** Bind the worker side of the document `task` opened to it (call once its promise settled). */
export function bindWorkerDocument(task: PDFDocumentLoadingTask): void {
  for (const ref of unbound) {
    const manager = ref.deref();
    if (!manager) unbound.delete(ref);
    else if (manager.docId === task.docId) {
      unbound.delete(ref);
      byTask.set(task, manager);
    }
  }
}

/** The worker side of an open document's page, or undefined where it cannot be reached. */
export async function workerPage(page: PDFPageProxy): Promise<WorkerPage | undefined> {
  const internals = page as unknown as { _transport?: { loadingTask?: object }; _pageIndex?: number };
  const task = internals._transport?.loadingTask;
  const manager = task && byTask.get(task);
  if (!manager || typeof internals._pageIndex !== 'number') return undefined;
  return manager.getPage(internals._pageIndex);
}

/**
 * A setter on Object.prototype for `mark` that hands each object setting it to `onFirst` (the
 * property becomes the object's own) until `onFirst` returns true; then the setter goes.
 */
export function catchFirst(mark: string, onFirst: (instance: object) => boolean): void {
  Object.defineProperty(Object.prototype, mark, {
    configurable: true,
    enumerable: false,
    set(this: object, value: unknown) {
      setOwn(this, mark, value);
      if (onFirst(this)) delete (Object.prototype as Record<string, unknown>)[mark];
    },
  });
}

function setOwn(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

function catchManager(instance: object): boolean {
  let proto = Object.getPrototypeOf(instance) as object | null;
  while (proto && !Object.hasOwn(proto, 'ensureDoc')) proto = Object.getPrototypeOf(proto);
  if (!proto || !Object.hasOwn(proto, 'getPage')) return false;
  // From now on the managers' own prototype catches each new one as it is built.
  Object.defineProperty(proto, MANAGER_MARK, {
    configurable: true,
    enumerable: false,
    set(this: object, value: unknown) {
      setOwn(this, MANAGER_MARK, value);
      unbound.add(new WeakRef(this as WorkerDocument));
    },
  });
  unbound.add(new WeakRef(instance as WorkerDocument));
  return true;
}
