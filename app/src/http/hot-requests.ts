/**
 * The hot-request stage: one declared stage of the API router, after the request context,
 * security headers, CORS and authentication (so those are done once, by the functions every
 * request goes through) and before the request timeout, the rate limiter, the body chain and the
 * routes. It answers two kinds of request that this process can answer from memory, and hands
 * every other request on (`next()`) before it has written or taken anything:
 *
 * - a cached read: `GET`/`HEAD /events/<uuid>` while this process holds a fresh copy of the event
 *   (EventCache), sent with `sendReply` — the route's own sender (ETag, Cache-Control, 304) —
 *   after the read's limit (anonymous per IP, or the signed-in user's reads) answered from this
 *   process's lease without waiting, with the function the normal path charges reads with
 *   (`leasedVerdict` of http/rate-limit.ts) and the same headers (`applyRateLimitHeaders`);
 * - a sold-out refusal: `POST /events/<uuid>/bookings` that this process's seat marker refuses
 *   (BookingService.refusalFromMarker, the rule the service itself applies), for a signed-in
 *   caller without an Idempotency-Key whose writes limit had points left when this process last
 *   saw it. It takes no writes point (the refusal-charge rule, `isFreeRefusal`), parses the body
 *   with the normal path's own parser and the route's own schemas, and raises the SoldOutError
 *   for the error handler, exactly as the route would.
 *
 * So the answer is the normal path's by construction: the same middleware set the same headers
 * in the same order, and the same sender or error handler writes the rest. The differential
 * test (`app/test/integration/redis/shortcuts-differential.test.ts`) checks it byte for byte.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { SoldOutError } from '../domain/errors';
import { cacheLookups } from '../observability/metrics';
import type { RateLimitPolicy, RateLimitVerdict } from '../ports';
import { actorOf } from './authentication';
import { sampleAccessLog } from './middleware';
import { applyRateLimitHeaders } from './rate-limit';
import { parseInput } from './route';
import { BookingCreateBody, IdParams } from './schemas';

/** z.uuid()'s pattern (the route's IdParams): anything else is the route's to refuse. */
const UUID =
  /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$/;
const UUID_LENGTH = 36;
const EVENTS = '/events/';
const BOOKINGS = '/bookings';

export interface HotRequestsDeps {
  /** `/api/v1`: for the route templates of metrics and logs. */
  basePath: string;
  /** Cached reads; absent: off. */
  reads?: {
    /** The event's JSON (UTF-8) when this process holds a fresh copy (never waits). */
    peekEvent(id: string): Buffer | undefined;
    /**
     * The normal path's read limit, answered from its leases without waiting (RateLimitMiddleware
     * `leasedVerdict`): 'none' when no limit applies, null when the limiter must answer.
     */
    limit(req: IncomingMessage): { policy: RateLimitPolicy; verdict: RateLimitVerdict } | 'none' | null;
    /** Log the access line of every Nth read answered here (1: every one). */
    accessLogEvery: number;
    /** The route's sender (app.ts sendReply with the route's conditional setting). */
    send(req: Request, res: Response, json: Buffer): void;
  };
  /** Sold-out refusals; absent: off. */
  soldOut?: {
    /** Whether this process holds a seat marker for the event (no waiting). */
    mayRefuse(eventId: string): boolean;
    /** The seats left at most when the marker refuses this request, else null (BookingService.refusalFromMarker). */
    refusal(eventId: string, quantity: number): number | null;
    /** The user's writes verdict as last seen ('off': no limit; null: the limiter must be asked). */
    knownWrites(userId: string): { policy: RateLimitPolicy; verdict: RateLimitVerdict } | 'off' | null;
    /** The normal path's JSON body parser (the same instance: same limit, types and errors). */
    parseBody(req: IncomingMessage, res: ServerResponse, done: (error?: unknown) => void): void;
    /** Whether the normal path would accept the body's media type (else it answers 415 there). */
    isJson(req: Request): boolean;
  };
}

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

/** How long a body may take to arrive after its headers before the request goes on instead. */
const BODY_WAIT_MS = 10;

/**
 * Whether the whole body has arrived (without reading it: the stream stays untouched for the
 * normal path when not), waiting a few event-loop turns, at most BODY_WAIT_MS.
 */
async function arrived(req: IncomingMessage): Promise<boolean> {
  const until = performance.now() + BODY_WAIT_MS;
  while (!req.complete) {
    if (req.destroyed || performance.now() >= until) return false;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return true;
}

/** The app setting under which createApp declares the stage's part in front of Express (server.ts `listen` runs it). */
export const PRE_ROUTER_STAGE = 'pre-router stage';

/** Answers the request (true) or leaves it untouched for Express (false). */
export type PreRouterStage = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface HotRequests {
  /** Mounted in the API router after CORS and authentication. */
  inRouter: RequestHandler;
  /**
   * The same cached-read decision for a request without an Authorization header, in front of
   * Express (whose entry alone costs several times a cached read), running `shared` — the
   * request context, security headers and CORS middleware Express would run, the same instances
   * — before the same rate-limit headers and sender. It decides before it touches anything.
   */
  beforeExpress(shared: RequestHandler[]): PreRouterStage;
}

export function hotRequests(deps: HotRequestsDeps): HotRequests {
  const readRoute = `${deps.basePath}/events/:id`;
  const bookRoute = `${deps.basePath}/events/:id/bookings`;
  const hits = cacheLookups.labels('event', 'hit');
  const { reads, soldOut } = deps;
  const every = Math.max(1, Math.floor(reads?.accessLogEvery ?? 1));
  let answered = 0;

  const answerRead = (
    req: Request,
    res: Response,
    json: Buffer,
    limit: { policy: RateLimitPolicy; verdict: RateLimitVerdict } | 'none',
  ) => {
    if (limit !== 'none') applyRateLimitHeaders(res, limit.policy, limit.verdict);
    hits.inc();
    res.locals.routeTemplate = readRoute;
    if (every > 1) {
      // Every Nth access-log line, marked with N so log-based counts can be scaled (the metric counts all).
      if (++answered >= every) {
        answered = 0;
        sampleAccessLog(res, every);
      } else sampleAccessLog(res, false);
    }
    reads!.send(req, res, json);
  };

  const read = (req: Request, res: Response, next: NextFunction, id: string) => {
    const json = reads!.peekEvent(id);
    if (json === undefined) return next();
    // Anonymous: the client IP's limit; signed in: the user's reads limit (the authentication stage decided which).
    const limit = reads!.limit(req);
    if (!limit) return next();
    answerRead(req, res, json, limit);
  };

  const refuse = async (req: Request, res: Response, next: NextFunction, eventId: string, userId: string) => {
    const known = soldOut!.knownWrites(userId);
    // Only a body that has fully arrived is read here: a slow one is the normal path's (and its timeout's).
    if (!known || !soldOut!.isJson(req) || !(await arrived(req))) return next();
    const parseError = await new Promise<unknown>((resolve) => soldOut!.parseBody(req, res, resolve));
    if (parseError !== undefined) {
      deferred.set(req, parseError);
      return next();
    }
    let quantity: number;
    try {
      parseInput(IdParams, { id: eventId }, 'params');
      quantity = parseInput(BookingCreateBody, req.body, 'body')!.quantity;
    } catch {
      return next();
    }
    // Looked up again: the marker may have gone while the body was read.
    const bound = soldOut!.refusal(eventId, quantity);
    if (bound === null) return next();
    res.locals.routeTemplate = bookRoute;
    if (known !== 'off') applyRateLimitHeaders(res, known.policy, known.verdict);
    next(new SoldOutError(bound));
  };

  const inRouter: RequestHandler = (req, res, next) => {
    const { method, path } = req;
    if (!path.startsWith(EVENTS) || path.length < EVENTS.length + UUID_LENGTH) return next();
    const id = path.slice(EVENTS.length, EVENTS.length + UUID_LENGTH);
    const rest = path.length - EVENTS.length - UUID_LENGTH;
    if (reads && rest === 0 && (method === 'GET' || method === 'HEAD') && UUID.test(id)) return read(req, res, next, id);
    if (!soldOut || method !== 'POST' || rest !== BOOKINGS.length || !path.endsWith(BOOKINGS)) return next();
    const actor = actorOf(req);
    if (!actor || req.headers['idempotency-key'] !== undefined || !soldOut.mayRefuse(id)) return next();
    refuse(req, res, next, id, actor.userId).catch(() => {
      // Nothing is written before the last step: whatever failed, the normal path answers.
      if (!res.headersSent) next();
    });
  };

  const readPrefix = `${deps.basePath}${EVENTS}`;
  const beforeExpress = (shared: RequestHandler[]): PreRouterStage => {
    if (!reads) return () => false;
    return (req, res) => {
      const method = req.method;
      if ((method !== 'GET' && method !== 'HEAD') || req.headers.authorization !== undefined) return false;
      const url = req.url ?? '';
      if (!url.startsWith(readPrefix)) return false;
      const end = url.length === readPrefix.length + UUID_LENGTH ? url.length : url.indexOf('?', readPrefix.length);
      if (end !== readPrefix.length + UUID_LENGTH) return false;
      const id = url.slice(readPrefix.length, end);
      if (!UUID.test(id)) return false;
      const json = reads.peekEvent(id);
      if (json === undefined) return false;
      // No Authorization header: the anonymous limit (the authentication stage has not run, so no user is found).
      const limit = reads.limit(req);
      if (!limit) return false;
      // Answered here: the middleware Express would run first, then the same answer as in the router.
      const response = res as Response;
      response.locals = Object.create(null) as Response['locals'];
      let step = 0;
      const next = (error?: unknown) => {
        // (the cors package says next(null)); none of them fails, but a failure must not crash the server
        if (error !== undefined && error !== null)
          return void res.destroy(error instanceof Error ? error : new Error('pre-router stage middleware failed'));
        const handler = shared[step++];
        if (handler) handler(req as Request, response, next);
        else answerRead(req as Request, response, json, limit);
      };
      next();
      return true;
    };
  };

  return { inRouter, beforeExpress };
}
