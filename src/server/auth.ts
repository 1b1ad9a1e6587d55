import { createHash, timingSafeEqual } from 'node:crypto';
import type Koa from 'koa';
import { DocmarkError } from '../errors.js';

/**
 * Optional API key (DOCMARK_API_KEY) for the paths that do work. When set, requests to
 * them need `Authorization: Bearer <key>`; /health and /metrics stay open for PM2 and
 * load balancers. Runs before the upload is read (and before `100 Continue` is sent), so
 * strangers cannot make us read it.
 */
export function apiKeyAuth(apiKey: string | undefined, protectedPaths: string[] = ['/convert']): Koa.Middleware {
  if (!apiKey) return (_ctx, next) => next();
  const expected = digest(apiKey);
  return (ctx, next) => {
    if (!protectedPaths.includes(ctx.path)) return next();
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(ctx.get('authorization'));
    // Comparing fixed-size digests in constant time reveals neither the key nor its length.
    if (!match || !timingSafeEqual(digest(match[1]), expected)) {
      ctx.set('WWW-Authenticate', 'Bearer realm="docmark"');
      throw new DocmarkError(
        'unauthorized',
        match ? 'The API key is not valid.' : 'This server needs an API key: send it as "Authorization: Bearer <key>".',
      );
    }
    return next();
  };
}

const digest = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();
