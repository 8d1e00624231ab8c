/**
 * The API docs: /openapi.json lists exactly the routes Express serves (both come from the route
 * table), and it is a valid OpenAPI 3.1 document.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Express } from 'express';
import { publishedOpenApiDocument } from '../../../scripts/lib/openapi-document';
import { startTestApi, type TestApi } from '../support/api';

let api: TestApi;
let base: string;

beforeAll(async () => {
  api = await startTestApi();
  base = api.url.replace(/\/api\/v1$/, '');
});
afterAll(() => api?.close());

type Layer = { route?: { path: string; methods: Record<string, boolean> }; name?: string; rawPath?: string; handle: { stack?: Layer[] } };

/** Every `METHOD /path` Express routes to a handler (the 405 `all` handlers are not operations). */
function expressRoutes(app: Express): string[] {
  const out: string[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods).filter((m) => m !== '_all')) {
          out.push(`${method.toUpperCase()} ${prefix}${layer.route.path.replace(/:(\w+)/g, '{$1}')}`);
        }
      } else if (layer.handle.stack) walk(layer.handle.stack, prefix + (layer.rawPath && layer.rawPath !== '/' ? layer.rawPath : ''));
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return out.sort();
}

async function document(): Promise<{
  openapi: string;
  paths: Record<string, Record<string, { operationId?: string; responses: object }>>;
}> {
  const response = await fetch(`${base}/openapi.json`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return (await response.json()) as never;
}

test('every route Express serves is in /openapi.json, and every operation there is served', async () => {
  const doc = await document();
  const documented = Object.entries(doc.paths)
    .flatMap(([p, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${p}`))
    .sort();
  const served = expressRoutes(api.api.app);
  expect(served.length).toBeGreaterThanOrEqual(20);
  expect(documented).toEqual(served);
  // spot checks that the walk saw both the API router and the top-level routes
  expect(served).toEqual(
    expect.arrayContaining([
      'GET /api/v1/events',
      'POST /api/v1/events/{id}/bookings',
      'GET /healthz/ready',
      'GET /metrics',
      'GET /docs',
      'GET /openapi.json',
    ]),
  );
});

test('is a valid OpenAPI 3.1 document (official schema)', async () => {
  const doc = await document();
  expect(doc.openapi).toBe('3.1.0');
  const result = spawnSync(process.execPath, [path.join(__dirname, 'validate-openapi.mjs')], {
    input: JSON.stringify(doc),
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(result.stderr).toBe('');
  const verdict = JSON.parse(result.stdout) as { valid: boolean; version: string; errors: unknown };
  expect(verdict).toEqual({ valid: true, version: '3.1', errors: null });
});

test('the validator does reject a broken document (the check above can fail)', () => {
  const broken = { openapi: '3.1.0', info: { title: 'x' }, paths: { '/a': { get: { responses: { 200: { content: 'nope' } } } } } };
  const result = spawnSync(process.execPath, [path.join(__dirname, 'validate-openapi.mjs')], {
    input: JSON.stringify(broken),
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(JSON.parse(result.stdout).valid).toBe(false);
});

test('operations carry the zod schemas: ids, security, bodies, query limits and problem responses', async () => {
  const doc = (await document()) as unknown as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const book = doc.paths['/api/v1/events/{id}/bookings'].post;
  expect(book.operationId).toBe('postEventsIdBookings');
  expect(book.security).toEqual([{ bearer: [] }]);
  expect(book.parameters).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ name: 'id', in: 'path', required: true, schema: expect.objectContaining({ format: 'uuid' }) }),
      expect.objectContaining({ name: 'idempotency-key', in: 'header', required: false }),
    ]),
  );
  const quantity = book.requestBody.content['application/json'].schema.properties.quantity;
  expect(quantity).toMatchObject({ type: 'integer', minimum: 1, maximum: 10 });
  expect(book.responses['409'].content['application/problem+json'].schema).toEqual({ $ref: '#/components/schemas/Problem' });
  expect(book.responses['201'].content['application/json'].schema.required).toEqual(
    expect.arrayContaining(['id', 'eventId', 'status', 'expiresAt']),
  );
  const list = doc.paths['/api/v1/events'].get;
  expect(list.security).toEqual([]);
  expect(list.parameters.map((p: { name: string }) => p.name)).toEqual(
    expect.arrayContaining(['limit', 'cursor', 'from', 'to', 'minPrice', 'maxPrice', 'q']),
  );
  expect(doc.components.securitySchemes.bearer).toMatchObject({
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: expect.stringContaining('RFC8725'),
  });
  const operations = Object.values(doc.paths).flatMap((ops) =>
    Object.values(ops as Record<string, { operationId?: string; security?: unknown }>),
  );
  const operationIds = operations.map((op) => op.operationId);
  expect(operationIds.every((id) => typeof id === 'string' && /^[a-z][A-Za-z0-9]+$/.test(id))).toBe(true);
  expect(new Set(operationIds).size).toBe(operations.length);
  // every operation says who may call it: a scheme, or [] for public
  expect(operations.filter((op) => !Array.isArray(op.security))).toEqual([]);
});

test('query parameters carry their real types: integers as int32 with bounds and default, dates as date-time', async () => {
  const doc = (await document()) as unknown as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const parameter = (name: string) => doc.paths['/api/v1/events'].get.parameters.find((p: { name: string }) => p.name === name).schema;
  expect(parameter('limit')).toEqual({ type: 'integer', format: 'int32', minimum: 1, maximum: 100, default: 20 });
  expect(parameter('minPrice')).toMatchObject({ type: 'integer', format: 'int32', minimum: 0 });
  expect(parameter('from')).toMatchObject({ type: 'string', format: 'date-time', maxLength: 40 });
  expect(parameter('cursor')).toMatchObject({ type: 'string', maxLength: 200, pattern: '^[A-Za-z0-9_-]+$' });
});

test('the service answers integer query parameters as documented: 5 and 05 are limits, 5.0, -1, 1e1 and 101 are 400', async () => {
  for (const [limit, status] of [
    ['5', 200],
    ['05', 200],
    ['5.0', 400],
    ['-1', 400],
    ['1e1', 400],
    ['101', 400],
  ] as const) {
    const response = await fetch(`${api.url}/events?limit=${limit}`);
    expect([limit, response.status]).toEqual([limit, status]);
  }
});

test('failures are derived from the route table: auth → 401, roles → 403, path ids → 404, bodies → 413/415, every API route → 429 and 5xx', async () => {
  const doc = (await document()) as unknown as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const statuses = (p: string, method: string) => Object.keys(doc.paths[p][method].responses).map(Number);
  expect(statuses('/api/v1/events', 'get')).toEqual([200, 304, 400, 429, 500, 503]);
  expect(statuses('/api/v1/events/{id}', 'get')).toEqual([200, 304, 400, 404, 429, 500, 503]);
  expect(statuses('/api/v1/events', 'post')).toEqual([201, 400, 401, 403, 413, 415, 429, 500, 503]);
  expect(statuses('/api/v1/events/{id}/bookings', 'post')).toEqual([200, 201, 400, 401, 404, 409, 413, 415, 422, 429, 500, 503]);
  expect(statuses('/api/v1/users/me', 'get')).toEqual([200, 401, 429, 500, 503]);
  const rateLimited = doc.paths['/api/v1/events'].get.responses['429'];
  expect(rateLimited.content['application/problem+json'].schema).toEqual({ $ref: '#/components/schemas/Problem' });
  expect(Object.keys(rateLimited.headers)).toEqual(
    expect.arrayContaining([
      'Retry-After',
      'RateLimit-Limit',
      'RateLimit-Remaining',
      'RateLimit-Reset',
      'RateLimit-Policy',
      'X-Request-Id',
    ]),
  );
  expect(Object.keys(doc.paths['/api/v1/events'].get.responses['200'].headers)).not.toContain('Retry-After');
  // conditional reads: the validators on 200 and 304, If-None-Match documented; writes have none
  for (const p of ['/api/v1/events', '/api/v1/events/{id}']) {
    for (const status of ['200', '304'])
      expect(Object.keys(doc.paths[p].get.responses[status].headers)).toEqual(
        expect.arrayContaining(['ETag', 'Cache-Control', 'X-Request-Id']),
      );
    expect(doc.paths[p].get.responses['304'].content).toBeUndefined();
    expect(doc.paths[p].get.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ in: 'header', name: 'if-none-match', required: false })]),
    );
  }
  expect(Object.keys(doc.paths['/api/v1/events'].post.responses['201'].headers)).not.toContain('ETag');
  expect(doc.servers).toEqual([
    expect.objectContaining({ url: '/', 'x-internal': false, description: expect.stringMatching(/production/) }),
  ]);
});

test('the linted document (scripts/lib/openapi-document.ts, what make contracts checks) is the one the service publishes', async () => {
  expect(await document()).toEqual(JSON.parse(JSON.stringify(publishedOpenApiDocument())));
});

test('every request example in the document passes the service\'s own validation (Swagger UI\'s "try it out" bodies are accepted)', async () => {
  const doc = (await document()) as unknown as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const organizer = await api.user('organizer');
  const admin = await api.user('admin');
  const example = (p: string, method: string) => doc.paths[p][method].requestBody.content['application/json'].schema.example;
  const send = (p: string, method: string, token?: string) =>
    fetch(`${api.url}${p}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(example(`/api/v1${p.replace(/\/[0-9a-f-]{36}(?=\/|$)/g, '/{id}')}`, method.toLowerCase())),
    });
  const answers: Record<string, number> = {};
  answers.register = (await send('/auth/register', 'POST')).status;
  answers.login = (await send('/auth/login', 'POST')).status;
  answers.refresh = (await send('/auth/refresh', 'POST')).status; // a well-formed token nobody issued
  answers.logout = (await send('/auth/logout', 'POST')).status;
  answers.oauthExchange = (await send('/auth/oauth/exchange', 'POST')).status; // a well-formed code nobody issued
  const created = await send('/events', 'POST', organizer.token);
  answers.createEvent = created.status;
  const event = (await created.json()) as { id: string };
  answers.patchEvent = (await send(`/events/${event.id}`, 'PATCH', organizer.token)).status;
  const booked = await send(`/events/${event.id}/bookings`, 'POST', organizer.token);
  answers.book = booked.status;
  answers.pay = (await send(`/bookings/${((await booked.json()) as { id: string }).id}/pay`, 'POST', organizer.token)).status;
  answers.role = (await send(`/users/${organizer.id}/role`, 'PATCH', admin.token)).status;
  expect(answers).toEqual({
    register: 201,
    login: 200,
    refresh: 401,
    logout: 204,
    oauthExchange: 401,
    createEvent: 201,
    patchEvent: 200,
    book: 201,
    pay: 202,
    role: 200,
  });
  const withBodies = Object.values(doc.paths)
    .flatMap((ops) => Object.values(ops as Record<string, { requestBody?: unknown }>))
    .filter((op) => op.requestBody);
  expect(withBodies).toHaveLength(Object.keys(answers).length);
});

test('/docs serves Swagger UI from this server: page, bundle and initializer, no CDN', async () => {
  const page = await fetch(`${base}/docs`);
  expect(page.status).toBe(200);
  const html = await page.text();
  const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  expect(assets).toEqual(expect.arrayContaining(['/docs/swagger-ui.css', '/docs/swagger-ui-bundle.js', '/docs/goticket-init.js']));
  expect(assets.filter((a) => /^(https?:)?\/\//.test(a))).toEqual([]);
  for (const asset of assets) {
    const response = await fetch(`${base}${asset}`);
    expect([asset, response.status]).toEqual([asset, 200]);
    // Read to the end: an unread megabyte bundle holds its connection open past the test file (Jest's worker cannot exit).
    expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(0);
  }
  const init = await (await fetch(`${base}/docs/goticket-init.js`)).text();
  expect(init).toContain('"/openapi.json"');
  expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
});
