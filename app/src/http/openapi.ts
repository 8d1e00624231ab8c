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
    type: z.url().max(200),
    title: z.string().max(200),
    status: z.int().min(400).max(599).meta({ format: 'int32' }),
    detail: z.string().max(1000),
    instance: z.string().max(200).regex(/^\//).optional(),
    errors: z
      .array(z.object({ path: z.string().max(200), message: z.string().max(500) }))
      .max(20)
      .optional(),
    retryAfterSeconds: z.int().min(1).max(86_400).meta({ format: 'int32' }).optional(),
  })
  .meta({
    id: 'Problem',
    description: 'RFC 9457 problem details; `type` is stable per failure, `errors` lists the fields that failed validation',
    example: {
      type: 'https://goticket.dev/problems/validation',
      title: 'Invalid request',
      status: 400,
      detail: 'invalid body',
      instance: '/api/v1/events',
      errors: [{ path: 'body.capacity', message: 'Too small: expected number to be >=1' }],
    },
  });

const TAGS: Record<string, string> = {
  auth: 'Accounts and tokens',
  users: 'Users and roles',
  events: 'Events (public reads, organizer writes)',
  bookings: 'Seat holds and bookings',
  audit: 'The audit trail (admins)',
  operations: 'Probes, metrics and these docs',
};

/**
 * The failures any operation of a given shape can answer, whatever its handler does: derived from
 * the route table (auth, roles, inputs, method) and the request pipeline every API route goes
 * through (rate limits, body parsing, request deadline). A route adds its domain failures (409,
 * 422, …) in its own `responses`.
 */
const GENERIC_FAILURES: Record<number, { description: string; when(spec: RouteSpec): boolean }> = {
  400: {
    description: 'Invalid request: a field, parameter or the JSON body failed validation (see `errors`)',
    when: (spec) => hasInput(spec),
  },
  401: { description: 'Not signed in, or the access token is invalid, expired or revoked', when: (spec) => spec.auth === 'user' },
  403: { description: 'Signed in without the role or ownership this needs', when: (spec) => Boolean(spec.roles?.length) },
  404: { description: 'No such resource (or not yours)', when: (spec) => Boolean(spec.params) },
  413: { description: 'The body exceeds the size limit (BODY_LIMIT)', when: (spec) => BODY_METHODS.has(spec.method) },
  415: { description: 'The body is not UTF-8 JSON, or has an unsupported Content-Encoding', when: (spec) => BODY_METHODS.has(spec.method) },
  429: { description: 'Rate limited: retry after `Retry-After` seconds', when: () => true },
  500: { description: 'Unexpected failure (no detail is given)', when: () => true },
  503: {
    description: 'A backend is unavailable or the request ran past its deadline: retry after `Retry-After` seconds',
    when: () => true,
  },
};

/** Methods whose requests go through body parsing (the pipeline reads a body for every method but GET/HEAD/OPTIONS). */
const BODY_METHODS = new Set<RouteSpec['method']>(['post', 'patch', 'delete']);

function hasInput(spec: RouteSpec): boolean {
  return Boolean(spec.params || spec.query || spec.headers || spec.body) || BODY_METHODS.has(spec.method);
}

/** Every status an operation of the route table documents: its own, then the generic ones that apply. */
export function documentedStatuses(spec: RouteSpec): number[] {
  const statuses = new Set(Object.keys(spec.responses).map(Number));
  if (spec.conditional) statuses.add(304);
  for (const [status, failure] of Object.entries(GENERIC_FAILURES)) if (failure.when(spec)) statuses.add(Number(status));
  return [...statuses].sort((a, b) => a - b);
}

const RATE_LIMIT_HEADERS = {
  'RateLimit-Limit': {
    description: 'Requests allowed in the current window of the tightest limit that applied',
    schema: { type: 'integer', format: 'int32', minimum: 0, maximum: 1_000_000 },
  },
  'RateLimit-Remaining': {
    description: 'Requests left in that window',
    schema: { type: 'integer', format: 'int32', minimum: 0, maximum: 1_000_000 },
  },
  'RateLimit-Reset': {
    description: 'Seconds until that window resets',
    schema: { type: 'integer', format: 'int32', minimum: 1, maximum: 86_400 },
  },
  'RateLimit-Policy': {
    description: 'The limit as `<requests>;w=<window seconds>` (IETF RateLimit headers draft)',
    schema: { type: 'string', maxLength: 40, pattern: '^\\d+;w=\\d+$' },
  },
} as const;

const HEADERS = {
  'X-Request-Id': {
    description:
      "Correlates this answer with the service's logs and traces: the caller's own X-Request-Id when it is sane, else a new UUID",
    required: true,
    schema: { type: 'string', maxLength: 128, pattern: '^[A-Za-z0-9._:-]{1,128}$' },
  },
  ...RATE_LIMIT_HEADERS,
  'Access-Control-Allow-Origin': {
    description: "The caller's Origin, only when it is one of CORS_ORIGINS (none by default: browsers on other origins are refused)",
    schema: { type: 'string', format: 'uri', maxLength: 200 },
  },
  'Retry-After': {
    description: 'Seconds to wait before retrying',
    required: true,
    schema: { type: 'integer', format: 'int32', minimum: 1, maximum: 86_400 },
  },
  ETag: {
    description: 'Strong validator of the exact body (send it back in If-None-Match to get 304 while it is current)',
    required: true,
    schema: { type: 'string', maxLength: 64, pattern: '^"[A-Za-z0-9_-]{1,60}"$' },
  },
  'Cache-Control': {
    description:
      'How long clients and shared caches may keep the answer: `public, max-age=<CACHE_TTL seconds>` (the most a copy the API serves may lag), `no-cache` when CACHE_TTL is 0',
    required: true,
    schema: { type: 'string', maxLength: 64, pattern: '^(public, max-age=\\d+|no-cache)$' },
  },
} as const;

type HeaderName = keyof typeof HEADERS;
const ref = (name: HeaderName) => ({ $ref: `#/components/headers/${name}` });

/**
 * The headers of an API answer: the request id always, the rate-limit state when a limit applied,
 * Retry-After on 429/503, the validators on a conditional read's 200 and 304.
 */
function apiHeaders(status: number, conditional = false): Record<string, { $ref: string }> {
  const names: HeaderName[] = ['X-Request-Id', 'Access-Control-Allow-Origin', ...(Object.keys(RATE_LIMIT_HEADERS) as HeaderName[])];
  if (status === 429 || status === 503) names.push('Retry-After');
  if (conditional && (status === 200 || status === 304)) names.push('ETag', 'Cache-Control');
  return Object.fromEntries(names.map((name) => [name, ref(name)]));
}

/** Routes outside the API base that Express serves: documented so the document lists every route. */
const OPERATIONAL: RouteConfig[] = [
  {
    method: 'get',
    path: '/healthz/live',
    operationId: 'getLiveness',
    summary: 'Liveness: the process answers',
    description:
      'Kubernetes liveness probe. 200 while the event loop runs; never consults a backend, so a database outage does not restart healthy pods.',
    tags: ['operations'],
    security: [],
    responses: {
      200: {
        description: 'Alive',
        headers: { 'X-Request-Id': ref('X-Request-Id') },
        content: { 'application/json': { schema: z.object({ status: z.literal('up') }) } },
      },
    },
  },
  {
    method: 'get',
    path: '/healthz/ready',
    operationId: 'getReadiness',
    summary: 'Readiness: every critical backend answers',
    description:
      'Kubernetes readiness probe. 200 when every critical backend answers (`degraded` when an optional one does not, e.g. Redis with its in-process fallback); 503 while a critical one is down or once shutdown began, so the load balancer drains this pod.',
    tags: ['operations'],
    security: [],
    responses: {
      200: {
        description: 'Ready (up or degraded)',
        headers: { 'X-Request-Id': ref('X-Request-Id') },
        content: { 'application/json': { schema: readiness() } },
      },
      503: {
        description: 'Not ready, or shutting down',
        headers: { 'X-Request-Id': ref('X-Request-Id') },
        content: { 'application/json': { schema: readiness() } },
      },
    },
  },
  {
    method: 'get',
    path: '/metrics',
    operationId: 'getMetrics',
    summary: 'Prometheus metrics (text exposition format)',
    description:
      'Scraped by Prometheus through the ServiceMonitor: RED per route, booking outcomes, outbox and consumer state, cache and rate limits, pool and runtime.',
    tags: ['operations'],
    security: [],
    responses: {
      200: { description: 'Metrics', headers: { 'X-Request-Id': ref('X-Request-Id') }, content: { 'text/plain': { schema: z.string() } } },
    },
  },
  {
    method: 'get',
    path: OPENAPI_PATH,
    operationId: 'getOpenApiDocument',
    summary: 'This document (OpenAPI 3.1)',
    description: 'Generated from the route table: the same zod schemas validate the requests.',
    tags: ['operations'],
    security: [],
    responses: {
      200: {
        description: 'The OpenAPI document',
        headers: { 'X-Request-Id': ref('X-Request-Id') },
        content: {
          'application/json': {
            schema: z
              .object({
                openapi: z
                  .string()
                  .max(16)
                  .regex(/^3\.1\.\d+$/),
              })
              .loose(),
          },
        },
      },
    },
  },
  {
    method: 'get',
    path: DOCS_PATH,
    operationId: 'getApiDocs',
    summary: 'Swagger UI for this document',
    description: 'Swagger UI served by this process (no CDN; the page runs under a `script-src self` CSP).',
    tags: ['operations'],
    security: [],
    responses: {
      200: { description: 'HTML page', headers: { 'X-Request-Id': ref('X-Request-Id') }, content: { 'text/html': { schema: z.string() } } },
    },
  },
];

function readiness() {
  const status = z.enum(['up', 'degraded', 'down']);
  return z.object({ status, reason: z.string().max(200).optional(), checks: z.record(z.string().max(64), status) });
}

/** One operation per route of the table, under `basePath`; plus the operational routes. */
export function buildOpenApiDocument(routes: readonly RouteSpec[], basePath: string, version = '1.0.0') {
  const registry = new OpenAPIRegistry();
  const bearer = registry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      'Access token from POST /auth/login or /auth/refresh: a JWS following RFC8725 (JWT Best Current Practices): one algorithm (HS256) pinned by the verifier, so `alg: none` and every other algorithm are refused, as is any `crit` header; `iss`, `aud`, `sub` and `exp` required and checked; short-lived (ACCESS_TOKEN_TTL), and its token version is checked on every request, so sign-out everywhere and role changes revoke it.',
  });
  for (const [name, header] of Object.entries(HEADERS)) registry.registerComponent('headers', name, header);
  for (const spec of routes) registry.registerPath(toRouteConfig(spec, basePath, bearer.name));
  for (const config of OPERATIONAL) registry.registerPath(config);
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'GoTicket API',
      version,
      description: 'Events, seat holds and bookings. Errors are application/problem+json (RFC 9457). Every response carries X-Request-Id.',
      license: { name: 'MIT', identifier: 'MIT' },
      contact: { name: 'GoTicket Platform team', url: 'https://github.com/goticket-platform/goticket' },
    },
    servers: [{ url: '/', description: 'The deployment serving this document (production, or a local `make run`)', 'x-internal': false }],
    tags: [...new Set([...routes.flatMap((spec) => spec.tags), 'operations'])].map((name) => ({
      name,
      ...(TAGS[name] ? { description: TAGS[name] } : {}),
    })),
  });
}

const NOT_MODIFIED = 'Not modified: If-None-Match names the current ETag (no body; the validators and Cache-Control again)';

/** The request header of a conditional read. */
const ConditionalHeaders = z.object({
  'if-none-match': z
    .string()
    .max(4096)
    .regex(/^[\x21-\x7E][\x20-\x7E]*$/)
    .optional()
    .meta({ description: 'ETag(s) of a copy you hold (or `*`): 304 without a body while it is current' }),
});

function toRouteConfig(spec: RouteSpec, basePath: string, securityScheme: string): RouteConfig {
  const responses: RouteConfig['responses'] = {};
  for (const status of documentedStatuses(spec)) {
    const own = spec.responses[status];
    const description = status === 304 && !own ? NOT_MODIFIED : (own?.description ?? GENERIC_FAILURES[status]?.description ?? 'Failure');
    const headers = apiHeaders(status, spec.conditional);
    if (own?.schema) responses[status] = { description, headers, content: { 'application/json': { schema: own.schema } } };
    else if (status >= 400) responses[status] = { description, headers, content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemJson } } };
    else responses[status] = { description, headers };
  }
  const roles = spec.roles?.length ? ` Roles: ${spec.roles.join(', ')}.` : '';
  return {
    method: spec.method,
    path: `${basePath}${openApiPath(spec.path)}`,
    operationId: operationId(spec),
    summary: spec.summary,
    description: `${spec.summary}.${roles}`,
    tags: spec.tags,
    // Public operations say so: a document-level default could otherwise be read as applying to them.
    security: spec.auth === 'user' ? [{ [securityScheme]: [] }] : [],
    request: {
      ...(spec.params ? { params: spec.params as never } : {}),
      ...(spec.query ? { query: spec.query as never } : {}),
      ...(spec.headers ? { headers: spec.headers as never } : spec.conditional ? { headers: ConditionalHeaders as never } : {}),
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
