/**
 * The sold-out fast refusal: `POST /api/v1/events/<uuid>/bookings` answered 409 `…/sold-out`
 * from this process's copy of the event's seat marker (EventCache), in front of Express like the
 * read fast path: no rate limiter (no Redis call), no middleware chain, no thrown error.
 *
 * It refuses only what the normal path would refuse the same way, and only after what wins over
 * a refusal there: a valid token whose version is current (AuthService.authenticate), a
 * well-formed body (the route's own schema), no Idempotency-Key (a replay must return its
 * booking), and a writes limit with points left as this process last saw it (else the limiter
 * must answer, maybe 429). Anything else goes to Express: before the body is touched when the
 * path, marker, headers, token or limit rule the request out, or when the body has not fully
 * arrived within a few milliseconds (a slow client gets the normal path and its request
 * timeout); with the body parsed by the
 * normal path's own parser otherwise (Express's parser then skips it, and a parse failure is
 * raised where the normal path parses bodies: deferredBodyErrors).
 *
 * The answer is what the normal path sends for that SoldOutError, byte for byte apart from Date:
 * status, problem body (`instance` included), X-Request-Id (the request's when sane), helmet's
 * headers, CORS, the writes limit's RateLimit-* as this process last saw them (a refusal takes no
 * point), Content-Type and Content-Length, in the same order. Counted as booking outcome
 * `sold_out`, a `sold_out` cache hit and in http_request_duration_seconds with the route
 * template; one access-log line each. PostgreSQL stays the authority: this only ever refuses,
 * and only while the marker copy lives (see EventCache).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SoldOutError } from '../domain/errors';
import type { Actor } from '../domain/user';
import type { Logger } from '../observability/logger';
import { bookingOutcomes, httpRequestDuration } from '../observability/metrics';
import { requestIdOf } from './middleware';
import { PROBLEM_CONTENT_TYPE, toProblem, type Problem } from './problem';
import { parseInput } from './route';
import { BookingCreateBody, IdParams } from './schemas';
import { directResponseHeaders, type HeaderList } from './security-headers';

const UUID_LENGTH = 36;
const SUFFIX = '/bookings';
const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{1,4096})$/;

export interface SoldOutFastPathDeps {
  /** `/api/v1` */
  basePath: string;
  /** Whether this process holds a seat marker for the event (no waiting). */
  mayRefuse(eventId: string): boolean;
  /** The seats left at most when the marker refuses this request, else null (BookingService.refusalFromMarker). */
  refusal(eventId: string, quantity: number, idempotencyKey?: string): number | null;
  /** What the route authenticates with (signature, expiry, token version). */
  authenticate(token: string): Promise<Actor>;
  /** The writes limit's RateLimit-* headers without consulting it; null when it must be consulted. */
  limitHeaders(userId: string): HeaderList | null;
  /** The normal path's JSON body parser (the same instance: same limit, types and errors). */
  parseBody(req: IncomingMessage, res: ServerResponse, done: (error?: unknown) => void): void;
  /** Helmet's headers, as the normal path sets them. */
  securityHeaders: HeaderList;
  /** CORS headers of an actual response for the request's Origin (corsResponseHeaders). */
  corsHeaders(origin: string | undefined): HeaderList;
  /** The client address as Express's `req.ip` computes it (TRUST_PROXY). */
  clientIp(req: IncomingMessage): string;
  logger: Logger;
}

/**
 * True when it took the request: it answers it, or hands it to `express` later. False: it has
 * done nothing, the caller hands the request to Express.
 */
export type SoldOutFastPath = (req: IncomingMessage, res: ServerResponse, express: () => void) => boolean;

/** Body-parser failures met here, raised again where the normal path parses bodies. */
const deferred = new WeakMap<IncomingMessage, unknown>();

/** Mounted where the normal path parses bodies (before its JSON parser): raises a failure met early. */
export function deferredBodyErrors() {
  return (req: IncomingMessage, _res: unknown, next: (error?: unknown) => void): void => {
    const error = deferred.get(req);
    if (error === undefined) return next();
    deferred.delete(req);
    next(error);
  };
}

/** How long a body may take to arrive after its headers before the request goes to Express instead. */
const BODY_WAIT_MS = 10;

/**
 * Whether the whole body has arrived (without reading it: the stream stays untouched for Express
 * when not), waiting a few event-loop turns, at most BODY_WAIT_MS: a client usually sends the body
 * right behind the headers, often in its own packet.
 */
async function arrived(req: IncomingMessage): Promise<boolean> {
  const until = performance.now() + BODY_WAIT_MS;
  while (!req.complete) {
    if (req.destroyed || performance.now() >= until) return false;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return true;
}

export function soldOutFastPath(deps: SoldOutFastPathDeps): SoldOutFastPath {
  const prefix = `${deps.basePath}/events/`;
  const length = prefix.length + UUID_LENGTH + SUFFIX.length;
  const route = `${deps.basePath}/events/:id${SUFFIX}`;
  const duration = httpRequestDuration.labels('POST', route, '409');
  const soldOut = bookingOutcomes.labels({ outcome: 'sold_out' });
  const security = deps.securityHeaders.flat();
  /** The problem of a SoldOutError per seat bound (0..9: a refusal needs quantity > bound, quantity <= 10). */
  const problems = new Map<number, Problem>();
  const problemFor = (bound: number) => {
    let problem = problems.get(bound);
    if (!problem) problems.set(bound, (problem = toProblem(new SoldOutError(bound)).body));
    return problem;
  };

  const parse = (req: IncomingMessage, res: ServerResponse) => new Promise<unknown>((resolve) => deps.parseBody(req, res, resolve));

  const attempt = async (req: IncomingMessage, res: ServerResponse, express: () => void, url: string, eventId: string, token: string, started: number) => {
    let actor: Actor;
    try {
      actor = await deps.authenticate(token);
    } catch {
      return express();
    }
    const limitHeaders = deps.limitHeaders(actor.userId);
    // Only a body that has fully arrived is read here: a slow one is the normal path's (and its timeout's).
    if (!limitHeaders || !(await arrived(req))) return express();
    const parseError = await parse(req, res);
    if (parseError !== undefined) {
      deferred.set(req, parseError);
      return express();
    }
    let quantity: number;
    try {
      parseInput(IdParams, { id: eventId }, 'params');
      quantity = parseInput(BookingCreateBody, (req as IncomingMessage & { body?: unknown }).body, 'body')!.quantity;
    } catch {
      return express();
    }
    // Looked up again: the marker may have gone while the token was checked or the body read.
    const bound = deps.refusal(eventId, quantity);
    if (bound === null) return express();

    soldOut.inc();
    const requestId = requestIdOf(req.headers['x-request-id']);
    // What the error handler sends for the SoldOutError the route would have thrown.
    const body = Buffer.from(JSON.stringify({ ...problemFor(bound), instance: url }));
    res.writeHead(409, directResponseHeaders(requestId, security, deps.corsHeaders(req.headers.origin), limitHeaders, `${PROBLEM_CONTENT_TYPE}; charset=utf-8`, body.length));
    res.end(body);

    const seconds = (performance.now() - started) / 1000;
    duration.observe(seconds);
    deps.logger.info({ request_id: requestId, method: 'POST', route, status: 409, duration_ms: Math.round(seconds * 1000), ip: deps.clientIp(req) }, 'request');
  };

  return (req, res, express) => {
    const started = performance.now();
    if (req.method !== 'POST') return false;
    const url = req.url ?? '';
    if (url.length !== length || !url.startsWith(prefix) || !url.endsWith(SUFFIX)) return false;
    const eventId = url.slice(prefix.length, prefix.length + UUID_LENGTH);
    if (!deps.mayRefuse(eventId)) return false;
    const { authorization } = req.headers;
    if (req.headers['idempotency-key'] !== undefined || authorization === undefined) return false;
    const token = BEARER.exec(authorization)?.[1];
    if (!token) return false;
    let handed = false;
    const toExpress = () => {
      if (handed) return;
      handed = true;
      express();
    };
    attempt(req, res, toExpress, url, eventId, token, started).catch(() => {
      // Nothing is written before the last step: whatever failed, the normal path answers.
      if (!res.headersSent) toExpress();
    });
    return true;
  };
}
