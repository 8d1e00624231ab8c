/**
 * The API docs: /openapi.json lists exactly the routes Express serves (both come from the route
 * table), and it is a valid OpenAPI 3.1 document.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Express } from 'express';
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

async function document(): Promise<{ openapi: string; paths: Record<string, Record<string, { operationId?: string; responses: object }>> }> {
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
  expect(served).toEqual(expect.arrayContaining(['GET /api/v1/events', 'POST /api/v1/events/{id}/bookings', 'GET /healthz/ready', 'GET /metrics', 'GET /docs', 'GET /openapi.json']));
});

test('is a valid OpenAPI 3.1 document (official schema)', async () => {
  const doc = await document();
  expect(doc.openapi).toBe('3.1.0');
  const result = spawnSync(process.execPath, [path.join(__dirname, 'validate-openapi.mjs')], { input: JSON.stringify(doc), encoding: 'utf8', timeout: 30_000 });
  expect(result.stderr).toBe('');
  const verdict = JSON.parse(result.stdout) as { valid: boolean; version: string; errors: unknown };
  expect(verdict).toEqual({ valid: true, version: '3.1', errors: null });
});

test('the validator does reject a broken document (the check above can fail)', () => {
  const broken = { openapi: '3.1.0', info: { title: 'x' }, paths: { '/a': { get: { responses: { 200: { content: 'nope' } } } } } };
  const result = spawnSync(process.execPath, [path.join(__dirname, 'validate-openapi.mjs')], { input: JSON.stringify(broken), encoding: 'utf8', timeout: 30_000 });
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
  expect(book.responses['201'].content['application/json'].schema.required).toEqual(expect.arrayContaining(['id', 'eventId', 'status', 'expiresAt']));
  const list = doc.paths['/api/v1/events'].get;
  expect(list.security).toBeUndefined();
  expect(list.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['limit', 'cursor', 'from', 'to', 'minPrice', 'maxPrice', 'q']));
  expect(doc.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  const operationIds = Object.values(doc.paths).flatMap((ops) => Object.values(ops as Record<string, { operationId?: string }>).map((op) => op.operationId)).filter(Boolean);
  expect(new Set(operationIds).size).toBe(operationIds.length);
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
  }
  const init = await (await fetch(`${base}/docs/goticket-init.js`)).text();
  expect(init).toContain('"/openapi.json"');
  expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
});
