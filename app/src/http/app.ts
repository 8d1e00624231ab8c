import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import { FailureReporter } from '../observability/failures';
import type { Logger } from '../observability/logger';
import type { HealthCheck } from '../ports';
import type { AuditService } from '../services/audit';
import type { AuthService } from '../services/auth';
import type { BookingService } from '../services/bookings';
import type { EventService } from '../services/events';
import type { UserService } from '../services/users';
import { corsPolicy, corsResponseHeaders } from './cors';
import { eventReadFastPath } from './fast-path';
import { deferredBodyErrors, soldOutFastPath } from './sold-out-fast-path';
import { bearerToken, bodyParserErrors, requestContext, requestTimeout, requireJsonBodies } from './middleware';
import { HttpProblem, PROBLEM_CONTENT_TYPE, toProblem } from './problem';
import type { RateLimitMiddleware } from './rate-limit';
import { parseInput, type RouteSpec } from './route';
import { auditRoutes } from './routes/audit';
import { authRoutes } from './routes/auth';
import { bookingRoutes } from './routes/bookings';
import { eventRoutes } from './routes/events';
import { healthRouter } from './health';
import { apiDocs } from './openapi';
import { helmetHeaders, securityHeaders } from './security-headers';

export const API_BASE = '/api/v1';

export interface AppDeps {
  logger: Logger;
  auth: AuthService;
  users: UserService;
  events: EventService;
  bookings: BookingService;
  audit: AuditService;
  health: HealthCheck[];
  metrics: Registry;
  http: {
    bodyLimit: string;
    requestTimeoutMs: number;
    trustProxy: boolean | number | string[];
    corsOrigins?: string[];
    /** Answer cached `GET /events/:id` in front of Express (default on; see fast-path.ts). */
    fastReads?: boolean;
    /** Access-log line of every Nth request the fast path answers (default 1: all). */
    accessLogCachedReadEvery?: number;
    /** Answer sold-out refusals before the rate limiter (default on; see sold-out-fast-path.ts). */
    fastSoldOut?: boolean;
  };
  /** Absent: no rate limits (tests of other concerns). */
  rateLimits?: RateLimitMiddleware;
  /** True once shutdown began: readiness answers 503 so the load balancer drains us. */
  isShuttingDown: () => boolean;
  /** The process's failure reporter (one incident per outage, whichever part of the process meets it); default: one of its own. */
  failures?: FailureReporter;
}

export function apiRoutes(deps: Pick<AppDeps, 'auth' | 'users' | 'events' | 'bookings' | 'audit'>): RouteSpec[] {
  return [...authRoutes(deps.auth, deps.users), ...eventRoutes(deps.events), ...bookingRoutes(deps.bookings), ...auditRoutes(deps.audit)];
}

const NO_BODY_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', deps.http.trustProxy);
  app.set('query parser', 'simple');
  const helmetSet = helmetHeaders();
  const corsOrigins = deps.http.corsOrigins ?? [];

  app.use(requestContext(deps.logger));
  app.use(securityHeaders(helmetSet));

  const api = express.Router();
  api.use(corsPolicy(corsOrigins));
  api.use(requestTimeout(deps.http.requestTimeoutMs));
  const jsonBodies = express.json({ limit: deps.http.bodyLimit, strict: true, type: ['application/json', 'application/*+json'] });
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
  for (const spec of routes) api[spec.method](spec.path, handle(spec, deps.auth));
  // Known path, unknown method: 405 with the methods it has.
  for (const [path, methods] of groupMethods(routes)) {
    api.all(path, (req: Request, res: Response, next: NextFunction) => {
      const allow = [...methods, ...(methods.includes('GET') ? ['HEAD'] : []), 'OPTIONS'].join(', ');
      if (req.method === 'OPTIONS') return void res.set('Allow', allow).status(204).end();
      next(new HttpProblem(405, 'method-not-allowed', 'Method not allowed', `${req.method} is not supported here; use ${methods.join(' or ')}`, { Allow: allow }));
    });
  }
  app.use(API_BASE, api);
  // After the API: API requests never walk these routers.
  app.use(healthRouter(deps.health, deps.isShuttingDown, deps.metrics));
  app.use(apiDocs(() => apiRoutes(deps), API_BASE));

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new HttpProblem(404, 'not-found', 'Not found', `no route for ${req.method} ${req.path.slice(0, 200)}`));
  });
  app.use(errorHandler(deps.failures ?? new FailureReporter(deps.logger)));

  // In front of Express's own entry point, so `app` stays the one request handler for servers and tests.
  const entry = app as Express & { handle: (req: IncomingMessage, res: ServerResponse, done?: (error?: unknown) => void) => void };
  const viaExpress = entry.handle.bind(app);
  const clientIp = expressClientIp(app);
  const fastPaths: Array<(req: IncomingMessage, res: ServerResponse, done?: (error?: unknown) => void) => boolean> = [];
  if (deps.http.fastReads !== false) {
    const fastPath = eventReadFastPath({
      basePath: API_BASE,
      peekEvent: (id) => deps.events.peekJsonBytes(id),
      anonymous: deps.rateLimits?.anonymous ?? null,
      securityHeaders: helmetSet,
      corsHeaders: corsResponseHeaders(corsOrigins),
      clientIp,
      logger: deps.logger,
      accessLogEvery: deps.http.accessLogCachedReadEvery ?? 1,
    });
    fastPaths.push(fastPath);
  }
  if (deps.http.fastSoldOut !== false) {
    // A refusal from this process's seat marker: no rate limiter (no Redis call), no middleware chain.
    const soldOut = soldOutFastPath({
      basePath: API_BASE,
      mayRefuse: (eventId) => deps.bookings.mayRefuseEarly(eventId),
      refusal: (eventId, quantity) => deps.bookings.refusalFromMarker(eventId, quantity),
      authenticate: (token) => deps.auth.authenticate(token),
      limitHeaders: deps.rateLimits ? (userId) => deps.rateLimits!.knownWritesHeaders(userId) : () => [],
      parseBody: jsonBodies,
      securityHeaders: helmetSet,
      corsHeaders: corsResponseHeaders(corsOrigins),
      clientIp,
      logger: deps.logger,
    });
    fastPaths.push((req, res, done) => soldOut(req, res, () => viaExpress(req, res, done)));
  }
  if (fastPaths.length > 0) {
    entry.handle = (req, res, done) => {
      for (const fastPath of fastPaths) if (fastPath(req, res, done)) return;
      viaExpress(req, res, done);
    };
  }
  return app;
}

/**
 * `req.ip` exactly as Express computes it (proxy-addr over X-Forwarded-For with the app's
 * compiled TRUST_PROXY), for requests that never become Express requests.
 */
function expressClientIp(app: Express): (req: IncomingMessage) => string {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- the getter is called with a receiver of its own below
  const ip = Object.getOwnPropertyDescriptor(express.request, 'ip')!.get!;
  return (req) => (ip.call({ app, headers: req.headers, socket: req.socket, connection: req.socket }) as string | undefined) ?? req.socket.remoteAddress ?? 'unknown';
}

function groupMethods(routes: RouteSpec[]): Map<string, string[]> {
  const byPath = new Map<string, string[]>();
  for (const spec of routes) byPath.set(spec.path, [...(byPath.get(spec.path) ?? []), spec.method.toUpperCase()]);
  return byPath;
}

function handle(spec: RouteSpec, auth: AuthService) {
  const template = `${API_BASE}${spec.path}`;
  return async (req: Request, res: Response) => {
    res.locals.routeTemplate = template;
    // Authentication first: an anonymous caller learns nothing from validation messages.
    const actor = spec.auth === 'user' ? await auth.authenticate(bearerToken(req)) : undefined;
    const params = parseInput(spec.params, req.params, 'params');
    const query = parseInput(spec.query, req.query, 'query');
    const headers = parseInput(spec.headers, req.headers, 'headers');
    const body = parseInput(spec.body, req.body, 'body');
    const reply = await spec.handler({ params, query, body, headers, actor: actor!, req, res });
    if (res.headersSent) return;
    res.status(reply.status).set(reply.headers ?? {});
    if (reply.json !== undefined) {
      // what res.json does with the text it makes
      if (!res.get('Content-Type')) res.set('Content-Type', 'application/json');
      res.send(reply.json);
    } else if (reply.body === undefined) res.end();
    else res.json(reply.body);
  };
}

function errorHandler(failures: FailureReporter) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const { status, headers, body } = toProblem(error);
    if (status >= 500) {
      const route = (res.locals.routeTemplate as string | undefined) ?? 'unmatched';
      const timeout = error instanceof HttpProblem && error.code === 'timeout';
      failures.report(error, { source: 'http', requestId: res.locals.requestId as string | undefined, method: req.method, route, timeout });
    }
    if (res.headersSent) return void res.end();
    body.instance = req.originalUrl.split('?')[0]!.slice(0, 200);
    res.status(status).set(headers).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
  };
}
