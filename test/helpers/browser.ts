import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';

/**
 * Debian's chromium, headless, driven by playwright-core: nothing downloaded, a fresh profile
 * per launch, no network of its own (no updates, sync or QUIC probes). `.ci/run` installs
 * chromium when it is missing.
 */
export const CHROMIUM = process.env.DOCMARK_CHROMIUM ?? '/usr/bin/chromium';

export interface TestBrowser {
  context: BrowserContext;
  /** A new page that records console errors, CSP violations and page errors. */
  page(): Promise<{ page: Page; problems: string[] }>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install -y chromium (as .ci/run does)`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'docmark-chromium-'));
  // A persistent context is how playwright takes a --user-data-dir: a fresh one per launch.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
    // The flags keep chromium off the network (no updates, sync or QUIC probes).
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 60_000,
  });
  return {
    context,
    async page() {
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (m: ConsoleMessage) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
      });
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
      return { page, problems };
    },
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Drop a file on an element as a user would (a real drop event with a DataTransfer). */
export async function dropFile(page: Page, selector: string, bytes: Uint8Array, name: string, type = 'application/pdf'): Promise<void> {
  const data = Buffer.from(bytes).toString('base64');
  const transfer = await page.evaluateHandle(
    ({ data, name, type }) => {
      const bin = atob(data);
      const arr = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) arr[i] = bin.charCodeAt(i);
      const dt = new (globalThis as any).DataTransfer();
      dt.items.add(new File([arr], name, { type }));
      return dt;
    },
    { data, name, type },
  );
  await page.dispatchEvent(selector, 'dragenter', { dataTransfer: transfer });
  await page.dispatchEvent(selector, 'drop', { dataTransfer: transfer });
}
