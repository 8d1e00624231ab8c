import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import type { Registry } from 'prom-client';
import type { Logger } from '../observability/logger';
import type { HealthCheck } from '../ports';
import type { AuditService } from '../services/audit';
import type { AuthService } from '../services/auth';
import type { BookingService } from '../services/bookings';
import type { EventService } from '../services/events';
import type { UserService } from '../services/users';
import { corsPolicy } from './cors';
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
  http: { bodyLimit: string; requestTimeoutMs: number; trustProxy: boolean | number | string[]; corsOrigins?: string[] };
  /** Absent: no rate limits (tests of other concerns). */
  rateLimits?: RateLimitMiddleware;
  /** True once shutdown began: readiness answers 503 so the load balancer drains us. */
  isShuttingDown(): boolean;
}

export function apiRoutes(deps: Pick<AppDeps, 'auth' | 'users' | 'events' | 'bookings' | 'audit'>): RouteSpec[] {
  return [...authRoutes(deps.auth, deps.users), ...eventRoutes(deps.events), ...bookingRoutes(deps.bookings), ...auditRoutes(deps.audit)];
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', deps.http.trustProxy);
  app.set('query parser', 'simple');

  app.use(requestContext(deps.logger));
  app.use(helmet());
  app.use(healthRouter(deps.health, deps.isShuttingDown, deps.metrics));
  app.use(apiDocs(() => apiRoutes(deps), API_BASE));

  const api = express.Router();
  api.use(corsPolicy(deps.http.corsOrigins ?? []));
  api.use(requestTimeout(deps.http.requestTimeoutMs));
  if (deps.rateLimits) api.use(deps.rateLimits.requests);
  api.use(requireJsonBodies());
  api.use(express.json({ limit: deps.http.bodyLimit, strict: true, type: ['application/json', 'application/*+json'] }));
  api.use(bodyParserErrors());
  if (deps.rateLimits) api.use(deps.rateLimits.logins);

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

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new HttpProblem(404, 'not-found', 'Not found', `no route for ${req.method} ${req.path.slice(0, 200)}`));
  });
  app.use(errorHandler(deps.logger));
  return app;
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

function errorHandler(logger: Logger) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const { status, headers, body } = toProblem(error);
    if (status >= 500) logger.error({ err: error, method: req.method, path: req.path }, 'request failed');
    if (res.headersSent) return void res.end();
    body.instance = req.originalUrl.split('?')[0]!.slice(0, 200);
    res.status(status).set(headers).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
  };
}
