// Copies of pdfjs's text state that do not turn the state they copy into a prototype.
//
// pdfjs's evaluator reading a page's text keeps its text state (matrices, font, spacing) in a
// TextState, and copies it on every `q` operator and whenever the font or its size changes. Its
// clone() makes the copy with Object.create(this): the state copied becomes the copy's prototype,
// and V8 turns an object used as a prototype into a slow one with a shape of its own. The state
// copied at a font change is the current one (and after a `Q` the state saved at its `q` is), so
// from a page's first font change on, every read of the state in pdfjs's per-glyph code (font
// size, matrices, spacing) misses V8's inline caches.
//
// The copy needs no link to the state it came from: clone() copies every field the state has as the
// copy's own (all of them are declared fields), so a copy whose prototype is TextState's own reads
// the same values. The replacement clone() makes that copy; everything else is pdfjs's.
//
// pdfjs exports none of its classes: TextState is reached through the StateManager that holds it,
// found by the property StateManager's constructor sets (`stateStack`, see worker-objects.ts). The
// graphics states of operator lists (EvalState, whose copies do read through their prototype) are
// left as they are. Where the classes are not as expected nothing is replaced.
import { catchFirst } from './worker-objects.js';

const MANAGER_MARK = 'stateStack';
/** The fields TextState.clone() copies into arrays of their own (the copy changes them in place). */
const COPIED_ARRAYS = ['textMatrix', 'textLineMatrix', 'fontMatrix'] as const;

interface TextStateLike {
  textMatrix: number[];
  textLineMatrix: number[];
  fontMatrix: number[];
  translateTextMatrix: unknown;
  clone(): TextStateLike;
}

/** TextState's prototype and pdfjs's own clone(), once replaced. */
export interface ReplacedClone {
  readonly proto: { clone(): unknown };
  readonly original: () => unknown;
}

let installed = false;
let replaced: ReplacedClone | undefined;

/** Replace TextState's clone() on the first text state pdfjs builds from now on (idempotent). */
export function installTextStateClone(): void {
  if (installed) return;
  installed = true;
  catchFirst(MANAGER_MARK, replaceClone);
}

/** pdfjs's TextState and its own clone() once found and replaced; undefined before (or if never). */
export function replacedTextStateClone(): ReplacedClone | undefined {
  return replaced;
}

function replaceClone(manager: object): boolean {
  const state = (manager as { state?: unknown }).state;
  if (!isTextState(state)) return false; // an EvalState (operator lists), or the display side's canvas
  const proto = Object.getPrototypeOf(state) as TextStateLike;
  const original = proto.clone;
  if (typeof original !== 'function' || !Object.hasOwn(proto, 'clone') || !isKnownClone(original)) return true;
  proto.clone = function clone(this: TextStateLike): TextStateLike {
    const copy = Object.assign(Object.create(proto) as TextStateLike, this);
    for (const key of COPIED_ARRAYS) copy[key] = this[key].slice();
    return copy;
  };
  replaced = { proto, original };
  return true;
}

/**
 * Whether `clone` is the copy this file replaces: Object.create(this) with every own field copied
 * and the three matrices sliced. A pdfjs that copies more (or less) keeps its own clone().
 */
function isKnownClone(clone: () => unknown): boolean {
  const source = Function.prototype.toString.call(clone).replace(/\s+/g, '');
  return source === KNOWN_CLONE;
}

const KNOWN_CLONE =
  'clone(){constclone=Object.assign(Object.create(this),this);' +
  'clone.textMatrix=this.textMatrix.slice();clone.textLineMatrix=this.textLineMatrix.slice();' +
  'clone.fontMatrix=this.fontMatrix.slice();returnclone;}';

function isTextState(state: unknown): state is TextStateLike {
  if (typeof state !== 'object' || state === null) return false;
  const s = state as Partial<TextStateLike>;
  return (
    typeof s.translateTextMatrix === 'function' &&
    typeof s.clone === 'function' &&
    COPIED_ARRAYS.every((key) => Array.isArray(s[key]) || ArrayBuffer.isView(s[key]))
  );
}
