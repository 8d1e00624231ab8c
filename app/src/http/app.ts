import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Registry } from 'prom-client';
import { FailureReporter } from '../observability/failures';
import type { Logger } from '../observability/logger';
import type { HealthCheck, RateLimiter } from '../ports';
import type { AuditService } from '../services/audit';
import type { AuthService } from '../services/auth';
import type { BookingService } from '../services/bookings';
import type { EventService } from '../services/events';
import type { OAuthService } from '../services/oauth';
import type { UserService } from '../services/users';
import { authentication, requireActor } from './authentication';
import { clientIpOf } from './client-ip';
import { conditionalReads, notModified, type ConditionalReads } from './conditional';
import { corsPolicy } from './cors';
import { deferredBodyErrors, hotRequests, PRE_ROUTER_STAGE } from './hot-requests';
import { bodyParserErrors, requestContext, requestTimeout, requireJsonBodies } from './middleware';
import { HttpProblem, PROBLEM_CONTENT_TYPE, toProblem } from './problem';
import { isFreeRefusal, type RateLimitMiddleware } from './rate-limit';
import { parseInput, type Reply, type RouteSpec } from './route';
import { auditRoutes } from './routes/audit';
import { authRoutes } from './routes/auth';
import { bookingRoutes } from './routes/bookings';
import { eventRoutes } from './routes/events';
import { oauthRoutes } from './routes/oauth';
import { healthRouter } from './health';
import { apiDocs } from './openapi';
import { securityHeaders } from './security-headers';

export const API_BASE = '/api/v1';

export interface AppDeps {
  logger: Logger;
  auth: AuthService;
  users: UserService;
  events: EventService;
  bookings: BookingService;
  audit: AuditService;
  /** Social sign-in (routes answer 404 for providers that are not configured). */
  oauth: OAuthService;
  /** Per-IP limit of the social sign-in routes; absent or null: none. */
  oauthLimiter?: RateLimiter | null;
  health: HealthCheck[];
  metrics: Registry;
  http: {
    bodyLimit: string;
    requestTimeoutMs: number;
    trustProxy: boolean | number | string[];
    corsOrigins?: string[];
    /** Answer cached `GET /events/:id` in the hot-request stage (default on; see hot-requests.ts). */
    fastReads?: boolean;
    /** Access-log line of every Nth read the hot-request stage answers (default 1: all). */
    accessLogCachedReadEvery?: number;
    /** Answer sold-out refusals in the hot-request stage, before the rate limiter (default on). */
    fastSoldOut?: boolean;
    /** Cache-Control max-age of event reads, seconds (CACHE_TTL: how far a served copy may lag); default 0. */
    eventReadMaxAgeSeconds?: number;
  };
  /** Absent: no rate limits (tests of other concerns). */
  rateLimits?: RateLimitMiddleware;
  /** More edges on this port (the GraphQL router), mounted after the REST API, before the probes. */
  edges?: RequestHandler[];
  /** True once shutdown began: readiness answers 503 so the load balancer drains us. */
  isShuttingDown: () => boolean;
  /** The process's failure reporter (one incident per outage, whichever part of the process meets it); default: one of its own. */
  failures?: FailureReporter;
}

export function apiRoutes(deps: Pick<AppDeps, 'auth' | 'users' | 'events' | 'bookings' | 'audit' | 'oauth' | 'oauthLimiter'>): RouteSpec[] {
  return [
    ...authRoutes(deps.auth, deps.users),
    ...oauthRoutes(deps.oauth, deps.oauthLimiter ?? null),
    ...eventRoutes(deps.events),
    ...bookingRoutes(deps.bookings),
    ...auditRoutes(deps.audit),
  ];
}

const NO_BODY_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const JSON_TYPES = ['application/json', 'application/*+json'];

/**
 * One request pipeline. Every request: request context (X-Request-Id, access log, duration
 * metric), security headers. Every API request then: CORS, authentication (once; the outcome
 * rides on the request), the hot-request stage (answers from memory what it can, with the same
 * functions; `fastReads`/`fastSoldOut` off: every request goes on), request timeout, rate limits,
 * the body chain, the routes (`handle`), the error handler. Each response concern has one
 * function, used by every path.
 */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', deps.http.trustProxy);
  app.set('query parser', 'simple');
  const corsOrigins = deps.http.corsOrigins ?? [];
  const clientIp = clientIpOf(deps.http.trustProxy);
  const conditional = conditionalReads(deps.http.eventReadMaxAgeSeconds ?? 0);

  const context = requestContext(deps.logger, clientIp);
  const security = securityHeaders();
  const cors = corsPolicy(corsOrigins);
  app.use(context);
  app.use(security);

  const api = express.Router();
  api.use(cors);
  const authenticate = authentication((token) => deps.auth.authenticate(token));
  api.use(authenticate);
  const failures = deps.failures ?? new FailureReporter(deps.logger);
  const jsonBodies = express.json({ limit: deps.http.bodyLimit, strict: true, type: JSON_TYPES });
  const fastReads = deps.http.fastReads !== false;
  const fastSoldOut = deps.http.fastSoldOut !== false;
  if (fastReads || fastSoldOut) {
    const rateLimits = deps.rateLimits;
    const hot = hotRequests({
      basePath: API_BASE,
      reads: fastReads
        ? {
            peekEvent: (id) => deps.events.peekJsonBytes(id),
            limit: rateLimits ? (req) => rateLimits.leasedVerdict(req) : () => 'none',
            accessLogEvery: deps.http.accessLogCachedReadEvery ?? 1,
            send: (req, res, json) => sendReply(req, res, { status: 200, json }, conditional),
          }
        : undefined,
      soldOut: fastSoldOut
        ? {
            mayRefuse: (eventId) => deps.bookings.mayRefuseEarly(eventId),
            refusal: (eventId, quantity) => deps.bookings.refusalFromMarker(eventId, quantity),
            knownWrites: rateLimits ? (userId) => rateLimits.knownWrites(userId) : () => 'off',
            parseBody: jsonBodies,
            answer: (req, res, error) => sendProblem(req, res, error, failures),
          }
        : undefined,
    });
    api.use(hot.inRouter);
    // Its part in front of Express (server.ts listen runs it), with the same middleware instances.
    app.set(PRE_ROUTER_STAGE, hot.beforeExpress([context, security, cors], authenticate));
  }
  api.use(requestTimeout(deps.http.requestTimeoutMs));
  if (deps.rateLimits) api.use(deps.rateLimits.requests);
  // Bodies are read for the methods that carry one; GET/HEAD/OPTIONS skip the parser chain.
  const bodies = express.Router();
  bodies.use(requireJsonBodies());
  bodies.use(deferredBodyErrors());
  bodies.use(jsonBodies);
  bodies.use(bodyParserErrors());
  if (deps.rateLimits) bodies.use(deps.rateLimits.logins);
  api.use((req: Request, res: Response, next: NextFunction) => (NO_BODY_METHODS.has(req.method) ? next() : bodies(req, res, next)));

  const routes = apiRoutes(deps);
  for (const spec of routes) api[spec.method](spec.path, handle(spec, { rateLimits: deps.rateLimits, conditional }));
  // Known path, unknown method: 405 with the methods it has.
  for (const [path, methods] of groupMethods(routes)) {
    api.all(path, (req: Request, res: Response, next: NextFunction) => {
      const allow = [...methods, ...(methods.includes('GET') ? ['HEAD'] : []), 'OPTIONS'].join(', ');
      if (req.method === 'OPTIONS') return void res.set('Allow', allow).status(204).end();
      next(
        new HttpProblem(
          405,
          'method-not-allowed',
          'Method not allowed',
          `${req.method} is not supported here; use ${methods.join(' or ')}`,
          { Allow: allow },
        ),
      );
    });
  }
  app.use(API_BASE, api);
  for (const edge of deps.edges ?? []) app.use(edge);
  // After the API: API requests never walk these routers.
  app.use(healthRouter(deps.health, deps.isShuttingDown, deps.metrics));
  app.use(apiDocs(() => apiRoutes(deps), API_BASE));

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new HttpProblem(404, 'not-found', 'Not found', `no route for ${req.method} ${req.path.slice(0, 200)}`));
  });
  app.use(errorHandler(failures));

  return app;
}

function groupMethods(routes: RouteSpec[]): Map<string, string[]> {
  const byPath = new Map<string, string[]>();
  for (const spec of routes) byPath.set(spec.path, [...(byPath.get(spec.path) ?? []), spec.method.toUpperCase()]);
  return byPath;
}

function handle(spec: RouteSpec, deps: { rateLimits?: RateLimitMiddleware; conditional: ConditionalReads }) {
  const template = `${API_BASE}${spec.path}`;
  return async (req: Request, res: Response) => {
    res.locals.routeTemplate = template;
    // Authentication first: an anonymous caller learns nothing from validation messages.
    const actor = spec.auth === 'user' ? requireActor(req) : undefined;
    let reply: Reply;
    try {
      const params = parseInput(spec.params, req.params, 'params');
      const query = parseInput(spec.query, req.query, 'query');
      const headers = parseInput(spec.headers, req.headers, 'headers');
      const body = parseInput(spec.body, req.body, 'body');
      reply = await spec.handler({ params, query, body, headers, actor: actor!, req, res });
    } catch (error) {
      // The refusal-charge rule (rate-limit.ts): a refusal that did no work gives its point back.
      if (deps.rateLimits && isFreeRefusal(error)) await deps.rateLimits.giveBack(res);
      throw error;
    }
    if (res.headersSent) return;
    sendReply(req, res, reply, spec.conditional ? deps.conditional : undefined);
  };
}

/**
 * The one sender of route replies (the hot-request stage's cached reads, in front of Express or in
 * the router, included): status, the reply's headers, a conditional read's validators (ETag,
 * Cache-Control; 304 when If-None-Match matches: conditional.ts), Content-Type and -Length, the
 * body (none for HEAD) — what Express's res.send writes for JSON text, on the plain node:http
 * response, so a request answered before Express gets the same bytes.
 */
export function sendReply(req: IncomingMessage, res: ServerResponse, reply: Reply, conditional?: ConditionalReads): void {
  if (reply.json === undefined) {
    const response = res as Response;
    response.status(reply.status).set(reply.headers ?? {});
    if (reply.body === undefined) response.end();
    else response.json(reply.body);
    return;
  }
  res.statusCode = reply.status;
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  if (conditional && reply.status === 200) conditional.validators(res, reply.json);
  if (res.getHeader('Content-Type') === undefined) res.setHeader('Content-Type', 'application/json; charset=utf-8');
  const body = typeof reply.json === 'string' ? Buffer.from(reply.json) : reply.json;
  if (reply.status >= 200 && reply.status < 300 && notModified(req, res.getHeader('ETag') as string | undefined)) {
    res.statusCode = 304;
    res.removeHeader('Content-Type');
    return void res.end();
  }
  res.setHeader('Content-Length', String(body.length));
  if (req.method === 'HEAD') return void res.end();
  res.end(body);
}

function errorHandler(failures: FailureReporter) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction) => sendProblem(req, res, error, failures);
}

/**
 * The one writer of problem answers (the error handler's, and the pre-router stage's refusals):
 * what Express's res.send wrote for them, on the plain node:http response — status, the problem's
 * headers, Content-Type, Content-Length, the body (none for HEAD). A 5xx is reported.
 */
export function sendProblem(req: IncomingMessage, res: ServerResponse, error: unknown, failures: FailureReporter): void {
  const { status, headers, body } = toProblem(error);
  const locals = (res as Response).locals ?? {};
  if (status >= 500) {
    const route = (locals.routeTemplate as string | undefined) ?? 'unmatched';
    const timeout = error instanceof HttpProblem && error.code === 'timeout';
    failures.report(error, { source: 'http', requestId: locals.requestId as string | undefined, method: req.method, route, timeout });
  }
  if (res.headersSent) return void res.end();
  // originalUrl inside Express (its routers rewrite url), url in front of it
  body.instance = ((req as Request).originalUrl ?? req.url ?? '').split('?')[0]!.slice(0, 200);
  const json = Buffer.from(JSON.stringify(body));
  res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('Content-Type', `${PROBLEM_CONTENT_TYPE}; charset=utf-8`);
  res.setHeader('Content-Length', String(json.length));
  if (req.method === 'HEAD') return void res.end();
  res.end(json);
}
