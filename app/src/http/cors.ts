import cors from 'cors';
import type { RequestHandler } from 'express';

const EXPOSED_HEADERS = [
  'X-Request-Id',
  'Location',
  'Retry-After',
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
  'RateLimit-Policy',
  'Idempotent-Replayed',
];

/**
 * CORS for browsers on other origins: only the origins in CORS_ORIGINS get the headers (none by
 * default: same-origin only). Bearer tokens, not cookies, so credentials stay off. The one CORS
 * function: every API request, the hot-request stage's included, passes it.
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
