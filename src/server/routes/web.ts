// The browser pages (/ to try a PDF, /status to watch the host, /docs for the API reference) and
// the files they load. Everything is served from this machine: the pages from src/web, the
// libraries from their npm packages. Each servable file is named in a fixed table built at
// start-up, so a request path is looked up, never joined onto a folder: no traversal is possible.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type Koa from 'koa';
import type { AppDeps } from '../app.js';

/** src/server/routes and dist/server/routes are both three folders below the project root. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const WEB = path.join(ROOT, 'src/web');

/**
 * Only the page's own files may run or style it; pdfjs' worker is a file of ours too. Images may
 * be data: or blob: URLs (extracted images, downloads); pdfjs loads embedded fonts as data.
 * No 'unsafe-inline', no 'unsafe-eval' and no 'wasm-unsafe-eval' (pdfjs runs with useWasm off).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  file: string;
  type: string;
  /** A page (HTML, never cached by the browser: it names the assets); the rest are assets. */
  page?: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.pfb': 'application/octet-stream',
  '.ttf': 'font/ttf',
  '.bcmap': 'application/octet-stream',
};

/** The folder of an installed npm package (resolved as Node would, whatever its exports allow). */
function packageDir(name: string): string {
  let dir = path.dirname(fileURLToPath(import.meta.resolve(name)));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, 'utf8')).name === name) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the folder of the npm package ${name}`);
    dir = up;
  }
}

const typeOf = (file: string): string => TYPES[path.extname(file)] ?? 'application/octet-stream';

/** URL path → file, for every file the pages may load. */
export function assetTable(): Map<string, Asset> {
  const table = new Map<string, Asset>();
  const add = (url: string, file: string, page = false): void => {
    table.set(url, { file, type: typeOf(file), page });
  };
  add('/', path.join(WEB, 'index.html'), true);
  add('/status', path.join(WEB, 'status.html'), true);
  add('/docs', path.join(WEB, 'docs.html'), true);
  for (const name of fs.readdirSync(WEB)) {
    if (/\.(js|css|svg)$/.test(name)) add(`/assets/${name}`, path.join(WEB, name));
  }
  const pdfjs = packageDir('pdfjs-dist');
  add('/assets/pdfjs/pdf.mjs', path.join(pdfjs, 'build/pdf.mjs'));
  add('/assets/pdfjs/pdf.worker.mjs', path.join(pdfjs, 'build/pdf.worker.mjs'));
  // JPEG 2000 without WebAssembly (the CSP allows none): pdfjs imports this fallback instead.
  add('/assets/pdfjs/wasm/openjpeg_nowasm_fallback.js', path.join(pdfjs, 'wasm/openjpeg_nowasm_fallback.js'));
  // Character maps (CJK text) and the standard 14 fonts, as pdfjs asks for them by name.
  for (const sub of ['cmaps', 'standard_fonts']) {
    for (const name of fs.readdirSync(path.join(pdfjs, sub))) {
      if (/^[\w.-]+\.(bcmap|pfb|ttf)$/.test(name)) add(`/assets/pdfjs/${sub}/${name}`, path.join(pdfjs, sub, name));
    }
  }
  add('/assets/lib/marked.esm.js', path.join(packageDir('marked'), 'lib/marked.esm.js'));
  add('/assets/lib/purify.es.mjs', path.join(packageDir('dompurify'), 'dist/purify.es.mjs'));
  add('/assets/lib/uPlot.esm.js', path.join(packageDir('uplot'), 'dist/uPlot.esm.js'));
  add('/assets/lib/uPlot.min.css', path.join(packageDir('uplot'), 'dist/uPlot.min.css'));
  return table;
}

/** Headers every page and asset carries. */
export function setPageHeaders(ctx: Koa.Context): void {
  ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
}

type Routes = Record<string, Record<string, Koa.Middleware>>;

/** One GET route per file in the table. */
export function webRoutes({ config }: Pick<AppDeps, 'config'>): Routes {
  const routes: Routes = {};
  // The try-it page shows the key field at once when the API needs one.
  const auth = config.apiKey ? 'required' : 'none';
  for (const [url, asset] of assetTable()) {
    routes[url] = { GET: asset.page ? pageRoute(asset, auth) : assetRoute(asset) };
  }
  return routes;
}

function pageRoute(asset: Asset, auth: string): Koa.Middleware {
  let html: string | undefined;
  return (ctx) => {
    html ??= fs.readFileSync(asset.file, 'utf8').replace('{{AUTH}}', auth);
    setPageHeaders(ctx);
    ctx.set('Cache-Control', 'no-cache');
    ctx.type = asset.type;
    ctx.body = html;
  };
}

function assetRoute(asset: Asset): Koa.Middleware {
  // Read once, on first use: most assets (fonts, cmaps) are never asked for.
  let cached: { body: Buffer; etag: string } | undefined;
  return (ctx) => {
    cached ??= load(asset.file);
    setPageHeaders(ctx);
    // Kept, but checked on every use: an upgrade shows at once, and an unchanged file costs a 304.
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('ETag', cached.etag);
    ctx.type = asset.type;
    if (ctx.get('if-none-match') === cached.etag) {
      ctx.status = 304;
      return;
    }
    ctx.body = cached.body;
  };
}

function load(file: string): { body: Buffer; etag: string } {
  const body = fs.readFileSync(file);
  return { body, etag: `"${createHash('sha1').update(body).digest('base64url').slice(0, 16)}"` };
}
