import cors from 'cors';
import type { RequestHandler } from 'express';
import type { HeaderList } from './security-headers';

const EXPOSED_HEADERS = ['X-Request-Id', 'Location', 'Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'RateLimit-Policy', 'Idempotent-Replayed'];

/**
 * CORS for browsers on other origins: only the origins in CORS_ORIGINS get the headers (none by
 * default: same-origin only). Bearer tokens, not cookies, so credentials stay off.
 */
export function corsPolicy(origins: readonly string[]): RequestHandler {
  const allowed = new Set(origins);
  const policy = cors({
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-Id', 'X-GraphQL-CSRF'],
    exposedHeaders: EXPOSED_HEADERS,
    credentials: false,
    maxAge: 600,
  });
  // Without an Origin header the policy adds nothing (same-origin and non-browser clients): skip it.
  return (req, res, next) => (req.headers.origin === undefined ? next() : policy(req, res, next));
}

/**
 * The headers `corsPolicy` puts on an actual (not preflight) response for a request's Origin:
 * the allowed origin reflected with `Vary: Origin` and the exposed headers; nothing otherwise.
 * For the read fast path, which answers without the cors middleware.
 */
export function corsResponseHeaders(origins: readonly string[]): (origin: string | undefined) => HeaderList {
  const allowed = new Map(origins.map((origin): [string, HeaderList] => [origin, [['Access-Control-Allow-Origin', origin], ['Vary', 'Origin'], ['Access-Control-Expose-Headers', EXPOSED_HEADERS.join(',')]]]));
  const none: HeaderList = [];
  return (origin) => (origin === undefined ? none : (allowed.get(origin) ?? none));
}
