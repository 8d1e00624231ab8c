/**
 * The read fast path: `GET`/`HEAD /api/v1/events/<uuid>` answered from this process's copy of
 * the event (EventCache's in-process JSON), in front of the Express router. It sends what the
 * Express route sends — same status, body and headers (helmet's set, X-Request-Id, CORS, the
 * anonymous limit's RateLimit-*) — and observes http_request_duration_seconds with the route
 * template for every request (until the response is handed to the socket; Express's ends at
 * 'finish', which follows at once for a response this small). Its access-log line is sampled: every `accessLogEvery`th request
 * it answers is logged, with `sampled: N` so log-based counts can be scaled (the metric counts
 * all of them). Anything it cannot answer that cheaply (another
 * path, a token, no local copy, the limiter has to ask Redis or refuses) goes to Express
 * untouched: it returns false before it has written or taken anything.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../observability/logger';
import { cacheLookups, httpRequestDuration } from '../observability/metrics';
import type { LeasedRateLimiter } from './rate-limit-lease';
import { rateLimitHeaders } from './rate-limit';
import { requestIdOf } from './middleware';
import { directResponseHeaders, type HeaderList } from './security-headers';

/** z.uuid()'s pattern (the route's IdParams): anything else is Express's to refuse. */
const UUID = /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$/;
const UUID_LENGTH = 36;

export interface FastPathDeps {
  /** `/api/v1` */
  basePath: string;
  /** The event's JSON (UTF-8) when this process holds a fresh copy (never waits). */
  peekEvent(id: string): Buffer | undefined;
  /** The anonymous limiter of the normal path (same leases); null when the limit is off. */
  anonymous: LeasedRateLimiter | null;
  /** Helmet's headers, as the normal path sets them. */
  securityHeaders: HeaderList;
  /** CORS headers of an actual response for the request's Origin (corsResponseHeaders). */
  corsHeaders(origin: string | undefined): HeaderList;
  /** The client address as Express's `req.ip` computes it (TRUST_PROXY). */
  clientIp(req: IncomingMessage): string;
  logger: Logger;
  /** Log the access line of every Nth request answered here (1: every request). */
  accessLogEvery: number;
}

export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean;

export function eventReadFastPath(deps: FastPathDeps): FastPath {
  const prefix = `${deps.basePath}/events/`;
  const route = `${deps.basePath}/events/:id`;
  const duration = { GET: httpRequestDuration.labels('GET', route, '200'), HEAD: httpRequestDuration.labels('HEAD', route, '200') };
  const hits = cacheLookups.labels('event', 'hit');
  const { anonymous, logger } = deps;
  const noLimitHeaders: HeaderList = [];
  const security = deps.securityHeaders.flat();
  const every = Math.max(1, Math.floor(deps.accessLogEvery));
  const sampled = every > 1 ? { sampled: every } : {};
  let answered = 0;

  return (req, res) => {
    const started = performance.now();
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') return false;
    const url = req.url ?? '';
    if (!url.startsWith(prefix)) return false;
    const end = url.length === prefix.length + UUID_LENGTH ? url.length : url.indexOf('?', prefix.length);
    if (end !== prefix.length + UUID_LENGTH) return false;
    const id = url.slice(prefix.length, end);
    // A token may name a user (no anonymous limit, other headers): Express decides.
    if (!UUID.test(id) || req.headers.authorization !== undefined) return false;
    const json = deps.peekEvent(id);
    if (json === undefined) return false;
    const ip = deps.clientIp(req);
    let limitHeaders = noLimitHeaders;
    if (anonymous) {
      const verdict = anonymous.tryConsume(ip);
      // The lease has to be renewed, or the answer is 429: the normal path does both.
      if (!verdict?.allowed) return false;
      limitHeaders = rateLimitHeaders(anonymous.policy, verdict);
    }
    hits.inc();

    const requestId = requestIdOf(req.headers['x-request-id']);
    res.writeHead(200, directResponseHeaders(requestId, security, deps.corsHeaders(req.headers.origin), limitHeaders, 'application/json; charset=utf-8', json.length));
    if (method === 'HEAD') res.end();
    else res.end(json);

    const seconds = (performance.now() - started) / 1000;
    duration[method].observe(seconds);
    if (++answered >= every) {
      answered = 0;
      logger.info({ request_id: requestId, method, route, status: 200, duration_ms: Math.round(seconds * 1000), ip, ...sampled }, 'request');
    }
    return true;
  };
}
