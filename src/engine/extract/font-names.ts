import type { Page } from '../types.js';

// Extract step: names for the fonts of the text layer that are the same in every reading of
// the document. pdfjs names a font by the order in which its reader first met it ("g_d0_f3"),
// so two readers of one PDF that read different pages (the parts of a document split across
// workers) give one font different names, and different fonts the same name. The document-level
// steps compare fonts by name (font statistics, lines in one font), so each reader renames its
// fonts by the order they first appear in the document: page by page, in reading order. A reader
// that does not start at the first page reads the text layer of the pages before its own first
// (see convert.ts), which is what makes the names agree.

/** Names the engine gives runs itself, never renamed: '' is a run whose font is unknown. */
const KEPT = new Set(['']);

export class FontNames {
  private readonly names = new Map<string, string>();

  /** Rename the page's runs in place, naming fonts not met before in the order they appear. */
  rename(page: Page): void {
    for (const line of page.lines) {
      for (const run of line.runs) {
        if (KEPT.has(run.fontName)) continue;
        let name = this.names.get(run.fontName);
        if (name === undefined) {
          name = `font${this.names.size + 1}`;
          this.names.set(run.fontName, name);
        }
        run.fontName = name;
      }
    }
  }
}
