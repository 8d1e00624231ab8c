/**
 * The hot-request stage: one declared stage that answers from memory the requests this process
 * can answer without its backends, with the functions every request goes through, and hands
 * every other request on before it has written or taken anything:
 *
 * - a cached read: `GET`/`HEAD /events/<uuid>` while this process holds a fresh copy of the event
 *   (EventCache), sent with `send` — the route's own sender (ETag, Cache-Control, 304) — after
 *   the read's limit (anonymous per IP, or the signed-in user's reads) answered from this
 *   process's lease without waiting, with the function the normal path charges reads with
 *   (`leasedVerdict` of http/rate-limit.ts) and the same headers (`applyRateLimitHeaders`).
 *   Anonymous ones are decided in front of Express (`beforeExpress`), signed-in ones in the API
 *   router after its authentication (`inRouter`);
 * - a sold-out refusal: `POST /events/<uuid>/bookings` that this process's seat marker refuses
 *   (BookingService.refusalFromMarker, the rule the service itself applies), for a signed-in
 *   caller without an Idempotency-Key whose writes limit had points left when this process last
 *   saw it, decided in front of Express: the refusals of a sold-out stampede are the most
 *   frequent request there is, and Express's entry, router walk and error handler cost several
 *   times the refusal itself. It authenticates with the router's own authentication instance
 *   (whose outcome the router then reuses: once per request), takes no writes point (the
 *   refusal-charge rule, `isFreeRefusal`), parses the body with the normal path's own parser and
 *   the route's own schemas, and answers the SoldOutError with the error handler's own writer.
 *
 * In front of Express a decided request first runs `shared` — the request context, security
 * headers and CORS middleware Express runs, the same instances — so the answer is the normal
 * path's by construction: the same functions set the same headers in the same order, and the
 * same sender or problem writer writes the rest. The differential test
 * (`app/test/integration/redis/shortcuts-differential.test.ts`) checks it byte for byte.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
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

type KnownLimit = { policy: RateLimitPolicy; verdict: RateLimitVerdict };

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
    limit(req: IncomingMessage): KnownLimit | 'none' | null;
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
    knownWrites(userId: string): KnownLimit | 'off' | null;
    /** The normal path's JSON body parser (the same instance: same limit, types and errors). */
    parseBody(req: IncomingMessage, res: ServerResponse, done: (error?: unknown) => void): void;
    /** The error handler's writer (app.ts sendProblem). */
    answer(req: IncomingMessage, res: ServerResponse, error: unknown): void;
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

/** Answers the request, or hands it on untouched (`onward`: into Express). */
export type PreRouterStage = (req: IncomingMessage, res: ServerResponse, onward: () => void) => void;

export interface HotRequests {
  /** Mounted in the API router after CORS and authentication: signed-in cached reads. */
  inRouter: RequestHandler;
  /**
   * The stage's part in front of Express: anonymous cached reads and sold-out refusals. `shared`
   * is the middleware Express runs before the API router (request context, security headers,
   * CORS: the same instances), run on a decided request before its answer; `authenticate` is the
   * API router's authentication middleware (the same instance). Nothing is touched before a
   * request is decided.
   */
  beforeExpress(shared: RequestHandler[], authenticate: RequestHandler): PreRouterStage;
}

export function hotRequests(deps: HotRequestsDeps): HotRequests {
  const readRoute = `${deps.basePath}/events/:id`;
  const bookRoute = `${deps.basePath}/events/:id/bookings`;
  const hits = cacheLookups.labels('event', 'hit');
  const { reads, soldOut } = deps;
  const every = Math.max(1, Math.floor(reads?.accessLogEvery ?? 1));
  let answered = 0;

  const answerRead = (req: Request, res: Response, json: Buffer, limit: KnownLimit | 'none') => {
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

  const inRouter: RequestHandler = (req, res, next) => {
    if (!reads) return next();
    const { method, path } = req;
    if ((method !== 'GET' && method !== 'HEAD') || path.length !== EVENTS.length + UUID_LENGTH || !path.startsWith(EVENTS)) return next();
    const id = path.slice(EVENTS.length);
    if (!UUID.test(id)) return next();
    const json = reads.peekEvent(id);
    if (json === undefined) return next();
    // Anonymous: the client IP's limit; signed in: the user's reads limit (the authentication stage decided which).
    const limit = reads.limit(req);
    if (!limit) return next();
    answerRead(req, res, json, limit);
  };

  /** Runs `shared` on a decided request (the middleware Express would run first), then `answer`. */
  const inFront = (shared: RequestHandler[], req: IncomingMessage, res: ServerResponse, answer: (res: Response) => void) => {
    const response = res as Response;
    response.locals = Object.create(null) as Response['locals'];
    let step = 0;
    const next = (error?: unknown) => {
      // (the cors package says next(null)); none of them fails, but a failure must not crash the server
      if (error !== undefined && error !== null)
        return void res.destroy(error instanceof Error ? error : new Error('pre-router stage middleware failed'));
      const handler = shared[step++];
      if (handler) handler(req as Request, response, next);
      else answer(response);
    };
    next();
  };

  /** The event id of `<prefix><uuid><suffix>` (a query string after it allowed when `query`), or null. */
  const idIn = (url: string, prefix: string, suffix: string, query: boolean): string | null => {
    if (!url.startsWith(prefix)) return null;
    const end = prefix.length + UUID_LENGTH + suffix.length;
    if (url.length !== end && !(query && url.indexOf('?', prefix.length) === end)) return null;
    if (suffix && !url.startsWith(suffix, prefix.length + UUID_LENGTH)) return null;
    const id = url.slice(prefix.length, prefix.length + UUID_LENGTH);
    return UUID.test(id) ? id : null;
  };

  const eventsPrefix = `${deps.basePath}${EVENTS}`;

  /** An anonymous cached read, answered (true) or not touched (false). */
  const readInFront = (shared: RequestHandler[], req: IncomingMessage, res: ServerResponse): boolean => {
    if (!reads || (req.method !== 'GET' && req.method !== 'HEAD') || req.headers.authorization !== undefined) return false;
    const id = idIn(req.url ?? '', eventsPrefix, '', true);
    if (id === null) return false;
    const json = reads.peekEvent(id);
    if (json === undefined) return false;
    // No Authorization header: the anonymous limit (no user to find).
    const limit = reads.limit(req);
    if (!limit) return false;
    inFront(shared, req, res, (response) => answerRead(req as Request, response, json, limit));
    return true;
  };

  /** Why the request is a sold-out refusal (the seats left and the writes limit as known), or null: the normal path's. */
  const refusalOf = async (req: IncomingMessage, res: ServerResponse, eventId: string) => {
    const actor = actorOf(req);
    if (!actor || !soldOut) return null;
    const known = soldOut.knownWrites(actor.userId);
    // Only a body that has fully arrived is read here: a slow one is the normal path's (and its timeout's).
    if (!known || !(await arrived(req))) return null;
    const parseError = await new Promise<unknown>((resolve) => soldOut.parseBody(req, res, resolve));
    if (parseError !== undefined) {
      deferred.set(req, parseError);
      return null;
    }
    let quantity: number;
    try {
      parseInput(IdParams, { id: eventId }, 'params');
      quantity = parseInput(BookingCreateBody, (req as Request).body, 'body')!.quantity;
    } catch {
      return null;
    }
    // Looked up again: the marker may have gone while the body was read.
    const seatsLeft = soldOut.refusal(eventId, quantity);
    return seatsLeft === null ? null : { seatsLeft, known };
  };

  /** A sold-out refusal, decided (true: answered, or handed on when it turns out not to be one) or not touched (false). */
  const refuseInFront = (
    shared: RequestHandler[],
    authenticate: RequestHandler,
    req: IncomingMessage,
    res: ServerResponse,
    onward: () => void,
  ): boolean => {
    if (!soldOut || req.method !== 'POST' || req.headers.authorization === undefined || req.headers['idempotency-key'] !== undefined)
      return false;
    const id = idIn(req.url ?? '', eventsPrefix, BOOKINGS, false);
    if (id === null || !soldOut.mayRefuse(id)) return false;
    const decide = () =>
      refusalOf(req, res, id).then(
        (refusal) => {
          if (!refusal) return onward();
          inFront(shared, req, res, (response) => {
            response.locals.routeTemplate = bookRoute;
            if (refusal.known !== 'off') applyRateLimitHeaders(response, refusal.known.policy, refusal.known.verdict);
            soldOut.answer(req, response, new SoldOutError(refusal.seatsLeft));
          });
        },
        // Nothing is written before the last step: whatever failed, the normal path answers.
        () => {
          if (!res.headersSent) onward();
        },
      );
    // The router's own authentication: its outcome stays on the request, so the router does not authenticate again.
    authenticate(req as Request, res as Response, () => void decide());
    return true;
  };

  const beforeExpress = (shared: RequestHandler[], authenticate: RequestHandler): PreRouterStage => {
    return (req, res, onward) => {
      if (readInFront(shared, req, res)) return;
      if (refuseInFront(shared, authenticate, req, res, onward)) return;
      onward();
    };
  };

  return { inRouter, beforeExpress };
}
