// Completion webhooks: only to hosts the operator allowed (a converter must not become a way to
// make requests into its own network), signed so the receiver knows the call came from us, retried
// with back-off for a bounded time, and never followed through redirects.
import { createHmac } from 'node:crypto';
import { DocmarkError } from '../errors.js';

/** Waits between attempts; after the last one the delivery is given up (about an hour in all). */
export const RETRY_DELAYS_MS = [10_000, 30_000, 60_000, 300_000, 900_000, 1_800_000];
/** A receiver that takes longer than this to answer counts as a failed attempt. */
const ATTEMPT_TIMEOUT_MS = 10_000;
/** URLs longer than this are refused before they are parsed further. */
const MAX_URL_LENGTH = 2048;

/**
 * `X-Docmark-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the receiver
 * recomputes it with the shared secret and rejects old timestamps (replays).
 */
export function signature(secret: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

/**
 * The allow list (DOCMARK_WEBHOOK_ALLOW): comma-separated `host`, `host:port`, `*.domain`, or `*`
 * for any host. Empty means webhooks are off.
 */
export function parseAllowList(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
}

/** Check a client's webhook_url; throws invalid_option saying why it is refused. */
export function checkWebhookUrl(raw: string, allow: readonly string[]): string {
  const refuse = (why: string): never => {
    throw new DocmarkError('invalid_option', `webhook_url is refused: ${why}.`);
  };
  if (allow.length === 0) refuse('webhooks are off on this server (DOCMARK_WEBHOOK_ALLOW is empty)');
  if (raw.length > MAX_URL_LENGTH) refuse(`longer than ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') refuse('only http and https URLs are called');
  if (url.username || url.password) refuse('credentials in the URL are not sent');
  const host = url.hostname.toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const allowed = allow.some((entry) => {
    if (entry === '*') return true;
    const [name, entryPort] = splitHostPort(entry);
    if (entryPort !== undefined && entryPort !== port) return false;
    if (name.startsWith('*.')) return host.endsWith(name.slice(1)) && host.length > name.length - 1;
    return host === name;
  });
  if (!allowed) refuse(`host ${host}:${port} is not in DOCMARK_WEBHOOK_ALLOW`);
  return url.href;
}

function splitHostPort(entry: string): [string, string | undefined] {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) return [bracketed[1], bracketed[2]];
  const i = entry.lastIndexOf(':');
  if (i > 0 && entry.indexOf(':') === i) return [entry.slice(0, i), entry.slice(i + 1)];
  return [entry, undefined];
}

export interface DeliveryResult {
  ok: boolean;
  /** HTTP status, or the network error's code. */
  detail: string;
}

/** One attempt: a 2xx counts as delivered; redirects are not followed. */
export async function deliver(url: string, body: string, secret: string | undefined, now = Date.now()): Promise<DeliveryResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'docmark-webhook' };
  if (secret) headers['x-docmark-signature'] = signature(secret, Math.floor(now / 1000), body);
  try {
    const res = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS) });
    await res.body?.cancel();
    return { ok: res.status >= 200 && res.status < 300, detail: `HTTP ${res.status}` };
  } catch (err) {
    const e = err as { name?: string; cause?: { code?: string }; message?: string };
    return { ok: false, detail: e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.message ?? 'error') };
  }
}

/** When to try again after `attempts` failed attempts; null = give up. */
export function nextAttemptAt(attempts: number, now: number): number | null {
  const delay = RETRY_DELAYS_MS[attempts - 1];
  return delay === undefined ? null : now + delay;
}
