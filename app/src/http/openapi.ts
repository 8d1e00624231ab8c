/**
 * The OpenAPI 3.1 document, generated from the route table (the same zod schemas that validate
 * requests), and Swagger UI at /docs served from swagger-ui-dist (no CDN).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { PROBLEM_CONTENT_TYPE } from './problem';
import { openApiPath, type RouteSpec } from './route';

export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PATH = '/docs';

const ProblemJson = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    instance: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });

const TAGS: Record<string, string> = {
  auth: 'Accounts and tokens',
  users: 'Users and roles',
  events: 'Events (public reads, organizer writes)',
  bookings: 'Seat holds and bookings',
  operations: 'Probes, metrics and these docs',
};

const STATUS_TEXT: Record<number, string> = { 401: 'Not signed in or token invalid', 429: 'Rate limited (see Retry-After)', 500: 'Unexpected failure' };

/** Routes outside the API base that Express serves: documented so the document lists every route. */
const OPERATIONAL: RouteConfig[] = [
  {
    method: 'get',
    path: '/healthz/live',
    summary: 'Liveness: the process answers',
    tags: ['operations'],
    responses: { 200: { description: 'Alive', content: { 'application/json': { schema: z.object({ status: z.literal('up') }) } } } },
  },
  {
    method: 'get',
    path: '/healthz/ready',
    summary: 'Readiness: every critical backend answers',
    tags: ['operations'],
    responses: {
      200: { description: 'Ready (up or degraded)', content: { 'application/json': { schema: readiness() } } },
      503: { description: 'Not ready, or shutting down', content: { 'application/json': { schema: readiness() } } },
    },
  },
  {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics (text exposition format)',
    tags: ['operations'],
    responses: { 200: { description: 'Metrics', content: { 'text/plain': { schema: z.string() } } } },
  },
  {
    method: 'get',
    path: OPENAPI_PATH,
    summary: 'This document (OpenAPI 3.1)',
    tags: ['operations'],
    responses: { 200: { description: 'The OpenAPI document', content: { 'application/json': { schema: z.object({ openapi: z.string() }).loose() } } } },
  },
  {
    method: 'get',
    path: DOCS_PATH,
    summary: 'Swagger UI for this document',
    tags: ['operations'],
    responses: { 200: { description: 'HTML page', content: { 'text/html': { schema: z.string() } } } },
  },
];

function readiness() {
  return z.object({ status: z.enum(['up', 'degraded', 'down']), reason: z.string().optional(), checks: z.record(z.string(), z.enum(['up', 'degraded', 'down'])) });
}

/** One operation per route of the table, under `basePath`; plus the operational routes. */
export function buildOpenApiDocument(routes: readonly RouteSpec[], basePath: string, version = '1.0.0') {
  const registry = new OpenAPIRegistry();
  const bearer = registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  for (const spec of routes) registry.registerPath(toRouteConfig(spec, basePath, bearer.name));
  for (const config of OPERATIONAL) registry.registerPath(config);
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'GoTicket API',
      version,
      description: 'Events, seat holds and bookings. Errors are application/problem+json (RFC 9457). Every response carries X-Request-Id.',
    },
    servers: [{ url: '/' }],
    tags: [...new Set([...routes.flatMap((spec) => spec.tags), 'operations'])].map((name) => ({ name, ...(TAGS[name] ? { description: TAGS[name] } : {}) })),
  });
}

function toRouteConfig(spec: RouteSpec, basePath: string, securityScheme: string): RouteConfig {
  const responses: RouteConfig['responses'] = {};
  for (const [status, response] of Object.entries(spec.responses)) {
    const code = Number(status);
    if (response.schema) responses[status] = { description: response.description, content: { 'application/json': { schema: response.schema } } };
    else if (code >= 400) responses[status] = { description: response.description, content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemJson } } };
    else responses[status] = { description: response.description };
  }
  const implied = [...(spec.auth === 'user' ? [401] : []), ...(spec.body || spec.params || spec.query ? [400] : []), 429, 500];
  for (const code of implied) {
    responses[String(code)] ??= { description: STATUS_TEXT[code] ?? 'Invalid request', content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemJson } } };
  }
  const roles = spec.roles?.length ? ` Roles: ${spec.roles.join(', ')}.` : '';
  return {
    method: spec.method,
    path: `${basePath}${openApiPath(spec.path)}`,
    operationId: operationId(spec),
    summary: spec.summary,
    description: `${spec.summary}.${roles}`,
    tags: spec.tags,
    ...(spec.auth === 'user' ? { security: [{ [securityScheme]: [] }] } : {}),
    request: {
      ...(spec.params ? { params: spec.params as never } : {}),
      ...(spec.query ? { query: spec.query as never } : {}),
      ...(spec.headers ? { headers: spec.headers as never } : {}),
      ...(spec.body ? { body: { required: true, content: { 'application/json': { schema: spec.body } } } } : {}),
    },
    responses,
  };
}

/** `post /events/:id/bookings` → `postEventsIdBookings`. */
export function operationId(spec: Pick<RouteSpec, 'method' | 'path'>): string {
  const words = spec.path.split(/[/:-]+/).filter(Boolean);
  return spec.method + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

/**
 * GET /openapi.json and GET /docs (Swagger UI from swagger-ui-dist, files under /docs/).
 * The document is generated once, on first request.
 */
export function apiDocs(routes: () => readonly RouteSpec[], basePath: string): Router {
  const router = Router();
  let document: unknown;
  const assets = swaggerUiDir();
  const page = docsPage();

  router.get(OPENAPI_PATH, (_req: Request, res: Response) => {
    res.locals.routeTemplate = OPENAPI_PATH;
    document ??= buildOpenApiDocument(routes(), basePath);
    res.set('Cache-Control', 'no-cache').json(document);
  });
  router.get(DOCS_PATH, (req: Request, res: Response, next: NextFunction) => {
    // `/docs/` reaches here too (non-strict routing): same page.
    res.locals.routeTemplate = DOCS_PATH;
    if (req.path !== DOCS_PATH && req.path !== `${DOCS_PATH}/`) return next();
    res.type('html').set('Cache-Control', 'no-cache').send(page);
  });
  router.use(`${DOCS_PATH}/goticket-init.js`, (_req: Request, res: Response) => {
    res.locals.routeTemplate = DOCS_PATH;
    res.type('application/javascript').send(INITIALIZER);
  });
  router.use(DOCS_PATH, (_req: Request, res: Response, next: NextFunction) => {
    res.locals.routeTemplate = DOCS_PATH;
    next();
  });
  router.use(DOCS_PATH, express.static(assets, { index: false, maxAge: '1h', fallthrough: true }));
  return router;
}

/** Where swagger-ui-dist's files are (resolved, not loaded: its index.js would load the browser bundle). */
function swaggerUiDir(): string {
  return path.dirname(require.resolve('swagger-ui-dist/package.json'));
}

/** Swagger UI's own index.html, with absolute asset paths and our initializer (no inline script: CSP stays `script-src 'self'`). */
function docsPage(): string {
  return readFileSync(path.join(swaggerUiDir(), 'index.html'), 'utf8')
    .replace('<title>Swagger UI</title>', '<title>GoTicket API · Swagger UI</title>')
    .replace(/(href|src)="\.?\/?(?!\/)([\w.-]+)"/g, `$1="${DOCS_PATH}/$2"`)
    .replace(`${DOCS_PATH}/swagger-initializer.js`, `${DOCS_PATH}/goticket-init.js`);
}

const INITIALIZER = `window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: ${JSON.stringify(OPENAPI_PATH)},
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    displayRequestDuration: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: 'StandaloneLayout',
  });
};
`;
