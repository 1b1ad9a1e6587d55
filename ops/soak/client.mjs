// One conversion request as a careful client makes it: a fresh connection, heartbeats asked for
// (`X-Docmark-Heartbeat: 1`: the server sends `102 Processing` every 10 s once it has admitted the
// request), and a request given up as lost after STALL_MS of silence: a connection PM2's cluster
// master was handing to an instance killed with SIGKILL is never answered nor closed. Then retried:
// broken connections and 502/503/504 are worth another try, a 4xx or 500 is the answer.
import http from 'node:http';

/** Three missed heartbeats. */
const STALL_MS = 35_000;
/** Attempts in all (the batch client's default: 8 retries); a failure counts only when the retries failed too. */
export const MAX_ATTEMPTS = 9;
/**
 * How long a client keeps trying while no instance can take its request (connections refused or
 * reset at once, 503): longer than every instance being down at once takes (a kill -9 of one while
 * the other reloads; each restart takes seconds on a loaded host). The batch client gives up on a
 * server after the same minute. An attempt that ran for a while (a conversion cut by a restart) does
 * not use this up: it counts against MAX_ATTEMPTS only.
 */
export const RETRY_FOR_MS = 60_000;
/** An attempt answered or cut sooner than this found no instance to take it. */
const QUICK_FAILURE_MS = 10_000;
/** The longest pause between attempts, whatever Retry-After says. */
const MAX_BACKOFF_MS = 10_000;

/**
 * @typedef {{ status: number, code?: string, error?: string, ms: number, pages?: number, output?: string }} Attempt
 */

/**
 * @param {string} url  the /convert URL with its query
 * @param {{ body: Buffer, headers?: Record<string, string>, declaredLength?: number }} req
 * @returns {Promise<Attempt & { retryAfter?: number }>}
 */
export function convertOnce(url, { body, headers = {}, declaredLength }) {
  const started = performance.now();
  return new Promise((resolve) => {
    let done = false;
    let stall;
    const finish = (/** @type {any} */ result) => {
      if (done) return;
      done = true;
      clearTimeout(stall);
      resolve({ ...result, ms: Math.round(performance.now() - started) });
    };
    const req = http.request(url, {
      method: 'POST',
      agent: false,
      headers: {
        'content-type': 'application/pdf',
        'content-length': String(declaredLength ?? body.length),
        'x-docmark-heartbeat': '1',
        ...headers,
      },
    });
    const armStall = () => {
      clearTimeout(stall);
      stall = setTimeout(() => {
        req.destroy();
        finish({ status: 0, error: 'stalled' });
      }, STALL_MS);
    };
    armStall();
    req.on('information', armStall);
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => {
        chunks.push(c);
        armStall();
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        const retryAfter = Number(res.headers['retry-after']) || undefined;
        finish({ status: res.statusCode ?? 0, code: json?.error?.code, pages: json?.metadata?.pages, output: json?.output, retryAfter });
      });
      res.on('error', (err) => finish({ status: 0, error: err.code ?? err.message }));
    });
    req.on('error', (/** @type {NodeJS.ErrnoException} */ err) => finish({ status: 0, error: err.code ?? err.message }));
    // A body that is refused half-way (413) ends the exchange early: write what the socket takes.
    if (body.length > 0) req.write(body);
    req.end();
  });
}

/** @param {Attempt} a */
export const isRetriable = (a) => a.status === 0 || a.status === 502 || a.status === 503 || a.status === 504;

/**
 * Convert with retries. `attempts` lists each try; `final` is the last.
 * @param {string} url
 * @param {{ body: Buffer, headers?: Record<string, string>, declaredLength?: number }} req
 * @param {{ stopped?: () => boolean }} [opts]
 */
export async function convertWithRetry(url, req, { stopped } = {}) {
  /** @type {Array<Attempt & { retryAfter?: number }>} */
  const attempts = [];
  let unreachableMs = 0;
  for (let i = 0; i < MAX_ATTEMPTS; i++) {
    const a = await convertOnce(url, req);
    attempts.push(a);
    if (!isRetriable(a) || stopped?.()) break;
    const backoff = Math.min(MAX_BACKOFF_MS, a.retryAfter ? a.retryAfter * 1000 : Math.min(5000, 500 * 2 ** i));
    if (a.ms < QUICK_FAILURE_MS) unreachableMs += a.ms + backoff;
    if (unreachableMs > RETRY_FOR_MS) break;
    await new Promise((r) => setTimeout(r, backoff));
  }
  return { attempts, final: attempts[attempts.length - 1] };
}
