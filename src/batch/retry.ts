// When to try a file again, and how long to wait first. Retried: the connection failed
// or broke (the server is down or restarted mid-request) and 502/503/504 (busy,
// restarting, timed out). Never retried: 4xx — the file itself is the problem. Other 5xx
// (a conversion worker crashed, an internal error) are tried once more only: the server
// replaces a crashed worker, but a PDF that crashes it every time must not do so for ever.

/** What went wrong with one attempt. */
export class AttemptError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: {
      /** Trying again may work. */
      retryable: boolean;
      /** The server could not be reached at all (counts against it in the rotation). */
      unreachable?: boolean;
      /** HTTP status, when the server answered. */
      status?: number;
      /** The server's Retry-After, in ms. */
      retryAfterMs?: number;
      /** Fewer retries than --retries for this kind of failure. */
      maxRetries?: number;
    },
  ) {
    super(message);
    this.name = 'AttemptError';
  }
}

const RETRYABLE_STATUS = new Set([502, 503, 504]);

/** Connecting failed: nobody is listening there (yet). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
/** The connection broke or went quiet mid-request: the server restarted or was killed. */
const BROKEN = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET', // "other side closed", "socket closed"
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status);
}

/** Turn a thrown network error into an AttemptError (unknown errors are not retried). */
export function networkError(err: unknown): AttemptError {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e?.code ?? e?.cause?.code ?? 'network_error';
  const message = e?.message || e?.cause?.message || String(err);
  if (UNREACHABLE.has(code)) return new AttemptError(code, message, { retryable: true, unreachable: true });
  if (BROKEN.has(code)) return new AttemptError(code, message, { retryable: true });
  return new AttemptError(code, message, { retryable: false });
}

/** Retry-After as ms: delta seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return undefined;
  if (/^\s*\d+\s*$/.test(raw)) return Number(raw) * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export interface BackoffOptions {
  baseMs: number;
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 250, capMs: 30_000 };

/**
 * Wait before retry number `retry` (1, 2, …): exponential, capped, with jitter so that
 * many clients that failed together do not come back together. At least Retry-After.
 */
export function retryDelayMs(retry: number, retryAfterMs: number | undefined, options = DEFAULT_BACKOFF, random = Math.random): number {
  const exp = Math.min(options.capMs, options.baseMs * 2 ** Math.max(0, retry - 1));
  const backoff = exp / 2 + (random() * exp) / 2;
  if (retryAfterMs === undefined) return Math.round(backoff);
  return Math.round(Math.max(backoff, retryAfterMs * (1 + random() * 0.2)));
}
