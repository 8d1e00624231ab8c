/**
 * Conditional event reads (RFC 9110 §8.8.3, §13.1.2): the JSON of `GET /events/:id` and of
 * every `GET /events` page carries a strong ETag (a hash of its exact bytes) and a Cache-Control
 * that lets clients and the edge keep it as long as the API itself may serve a copy that old
 * (CACHE_TTL, the shared cache's life: a booking does not refresh it). A request whose
 * If-None-Match names the current ETag gets 304 without a body (Express's `send` decides with
 * `notModified` below; Express's `req.fresh` answers the same).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface ConditionalReads {
  /** Sets ETag and Cache-Control for this body. */
  validators(res: ServerResponse, json: string | Buffer): void;
}

/** A strong ETag: 16 bytes of SHA-256 over the exact bytes sent, base64url. */
export function etagOf(json: string | Buffer): string {
  return `"${createHash('sha256').update(json).digest('base64url').slice(0, 22)}"`;
}

export function conditionalReads(maxAgeSeconds: number): ConditionalReads {
  const cacheControl = maxAgeSeconds > 0 ? `public, max-age=${Math.floor(maxAgeSeconds)}` : 'no-cache';
  /** A cached copy's bytes are one Buffer for its whole life: its tag is computed once. */
  const tags = new WeakMap<Buffer, string>();
  return {
    validators(res, json) {
      let tag: string | undefined;
      if (typeof json === 'string') tag = etagOf(json);
      else if (!(tag = tags.get(json))) tags.set(json, (tag = etagOf(json)));
      res.setHeader('ETag', tag);
      res.setHeader('Cache-Control', cacheControl);
    },
  };
}

const NO_CACHE = /(?:^|,)\s*no-cache\s*(?:,|$)/i;

/**
 * Whether a GET/HEAD with this response's ETag is answered 304 (RFC 9110 §13.1.2, weak comparison,
 * as Express's `fresh` does): If-None-Match is `*` or lists the tag (`W/` or not); a request that
 * says `Cache-Control: no-cache` gets the full answer.
 */
export function notModified(req: IncomingMessage, etag: string | undefined): boolean {
  const header = req.headers['if-none-match'];
  if (header === undefined || etag === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
  const cacheControl = req.headers['cache-control'];
  if (cacheControl !== undefined && NO_CACHE.test(cacheControl)) return false;
  if (header.trim() === '*') return true;
  const bare = etag.startsWith('W/') ? etag.slice(2) : etag;
  return header.split(',').some((candidate) => {
    const tag = candidate.trim();
    return tag === bare || tag === `W/${bare}`;
  });
}
