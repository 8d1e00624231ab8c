import cors from 'cors';
import type { RequestHandler } from 'express';

/**
 * CORS for browsers on other origins: only the origins in CORS_ORIGINS get the headers (none by
 * default: same-origin only). Bearer tokens, not cookies, so credentials stay off.
 */
export function corsPolicy(origins: readonly string[]): RequestHandler {
  const allowed = new Set(origins);
  return cors({
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-Id'],
    exposedHeaders: ['X-Request-Id', 'Location', 'Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'RateLimit-Policy', 'Idempotent-Replayed'],
    credentials: false,
    maxAge: 600,
  });
}
