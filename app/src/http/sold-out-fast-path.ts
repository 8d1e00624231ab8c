/**
 * The sold-out fast refusal: `POST /api/v1/events/:id/bookings` answered 409 `…/sold-out` from
 * this process's copy of the event's seat marker (EventCache), before the writes rate limiter's
 * Redis call and without a thrown error walking Express's error chain. Mounted on the API router
 * after the request context, security headers, CORS and the request timeout, and before the rate
 * limiter, so everything those set is on the answer.
 *
 * It refuses only what the normal path would refuse the same way, and only after what wins over
 * a refusal there: a valid token whose version is current (AuthService.authenticate), a
 * well-formed body (the route's own schemas), no Idempotency-Key (a replay must return its
 * booking), and a writes limit with points left as this process last saw it (else the limiter
 * must answer, maybe 429). Anything else — no marker, a failed check, a quantity the marker
 * allows — goes on to the normal path untouched; a body it had to read is left parsed for it, and
 * a body that failed to parse fails there, at the point where it would have (deferredBodyErrors).
 *
 * The answer is what the error handler sends for a SoldOutError: same status, problem body
 * (`instance` included), Content-Type, and the headers set before it; the limiter's RateLimit-*
 * come from the last verdict this process saw for the user (a refusal takes no point). Counted as
 * booking outcome `sold_out`, a `sold_out` cache hit and in http_request_duration_seconds with
 * the route template; logged like any request. PostgreSQL stays the authority: this only ever
 * refuses, and only while the marker is alive (see EventCache).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { SoldOutError } from '../domain/errors';
import type { Actor } from '../domain/user';
import { bookingOutcomes } from '../observability/metrics';
import { bearerToken } from './middleware';
import { PROBLEM_CONTENT_TYPE, toProblem, type ProblemResponse } from './problem';
import { parseInput } from './route';
import { BookingCreateBody, IdempotencyHeaders, IdParams } from './schemas';
import type { HeaderList } from './security-headers';

export interface SoldOutFastPathDeps {
  /** `/api/v1/events/:id/bookings`: the route label of the duration metric. */
  routeTemplate: string;
  /** Whether this process holds a seat marker for the event (no waiting). */
  mayRefuse(eventId: string): boolean;
  /** The seats left at most when the marker refuses this request, else null (BookingService.refusalFromMarker). */
  refusal(eventId: string, quantity: number, idempotencyKey?: string): number | null;
  /** What the route authenticates with (signature, expiry, token version). */
  authenticate(token: string): Promise<Actor>;
  /** The writes limit's RateLimit-* headers without consulting it; null when it must be consulted. */
  limitHeaders(userId: string): HeaderList | null;
  /** The normal path's JSON body parser (the same instance: same limit, types and errors). */
  parseBody: RequestHandler;
}

/** Body-parser failures met here, raised again where the normal path parses bodies. */
const deferred = new WeakMap<Request, unknown>();

/** Mounted where the normal path parses bodies (before its JSON parser): raises a failure met early. */
export function deferredBodyErrors(): RequestHandler {
  return (req, _res, next) => {
    const error = deferred.get(req);
    if (error === undefined) return next();
    deferred.delete(req);
    next(error);
  };
}

export function soldOutFastPath(deps: SoldOutFastPathDeps): RequestHandler {
  const soldOut = bookingOutcomes.labels({ outcome: 'sold_out' });
  /** The problem of a SoldOutError per seat bound (0..9: a refusal needs quantity > bound, quantity <= 10). */
  const problems = new Map<number, ProblemResponse>();
  const problemFor = (bound: number) => {
    let problem = problems.get(bound);
    if (!problem) problems.set(bound, (problem = toProblem(new SoldOutError(bound))));
    return problem;
  };

  const attempt = async (req: Request, res: Response, next: NextFunction, token: string) => {
    let actor: Actor;
    try {
      actor = await deps.authenticate(token);
    } catch {
      return next();
    }
    const limitHeaders = deps.limitHeaders(actor.userId);
    if (!limitHeaders) return next();
    const parseError = await new Promise<unknown>((resolve) => deps.parseBody(req, res, resolve));
    if (parseError !== undefined) {
      deferred.set(req, parseError);
      return next();
    }
    let eventId: string, quantity: number, idempotencyKey: string | undefined;
    try {
      eventId = parseInput(IdParams, req.params, 'params')!.id;
      idempotencyKey = parseInput(IdempotencyHeaders, req.headers, 'headers')!['idempotency-key'];
      quantity = parseInput(BookingCreateBody, req.body, 'body')!.quantity;
    } catch {
      return next();
    }
    // Looked up again: the marker may have gone while the token was checked or the body read.
    const bound = deps.refusal(eventId, quantity, idempotencyKey);
    if (bound === null) return next();

    res.locals.routeTemplate = deps.routeTemplate;
    soldOut.inc();
    for (const [name, value] of limitHeaders) res.setHeader(name, value);
    // What the error handler sends for the SoldOutError the route would have thrown.
    const { status, headers, body } = problemFor(bound);
    const text = JSON.stringify({ ...body, instance: req.originalUrl.split('?')[0]!.slice(0, 200) });
    res.status(status).set(headers).type(PROBLEM_CONTENT_TYPE).send(text);
  };

  return (req, res, next) => {
    const eventId = req.params.id;
    if (typeof eventId !== 'string' || !deps.mayRefuse(eventId)) return next();
    if (req.headers['idempotency-key'] !== undefined || req.headers.authorization === undefined) return next();
    let token: string;
    try {
      token = bearerToken(req);
    } catch {
      return next();
    }
    attempt(req, res, next, token).catch(next);
  };
}
