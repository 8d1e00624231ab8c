import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eventReadFastPath, type FastPathDeps } from '../../src/http/fast-path';
import { createLogger } from '../../src/observability/logger';

const ID = '1b4e28ba-2fa1-41d2-883f-0016d3cca427';
const JSON_TEXT = JSON.stringify({ id: ID, name: 'Gig – “quoted” ✓' });

let server: Server;
let base: string;
let lines: Array<Record<string, unknown>>;
let fallbacks: number;

async function serve(overrides: Partial<FastPathDeps> = {}): Promise<void> {
  lines = [];
  fallbacks = 0;
  const fast = eventReadFastPath({
    basePath: '/api/v1',
    peekEvent: (id) => (id === ID ? Buffer.from(JSON_TEXT) : undefined),
    anonymous: null,
    securityHeaders: [['X-Content-Type-Options', 'nosniff']],
    corsHeaders: () => [],
    clientIp: (req) => req.socket.remoteAddress ?? 'unknown',
    logger: createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } }),
    accessLogEvery: 1,
    ...overrides,
  });
  server = createServer((req, res) => {
    if (fast(req, res)) return;
    fallbacks++;
    res.writeHead(599).end();
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(() => new Promise((resolve) => server.close(resolve)));

it('answers the cached event with its exact bytes and a correct Content-Length (multi-byte text)', async () => {
  await serve();
  const response = await fetch(`${base}/api/v1/events/${ID}`);
  expect(response.status).toBe(200);
  expect(await response.text()).toBe(JSON_TEXT);
  expect(Number(response.headers.get('content-length'))).toBe(Buffer.byteLength(JSON_TEXT));
  expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(response.headers.get('x-content-type-options')).toBe('nosniff');
});

it.each([
  ['another id (no local copy)', 'GET', '/api/v1/events/6f1c2b8e-3d4a-4b5c-9d6e-7f8a9b0c1d2e', {}],
  ['a trailing slash', 'GET', `/api/v1/events/${ID}/`, {}],
  ['a sub-resource', 'GET', `/api/v1/events/${ID}/bookings`, {}],
  ['an upper-case path', 'GET', `/API/V1/EVENTS/${ID}`, {}],
  ['a percent-encoded id', 'GET', `/api/v1/events/${ID.replace('1', '%31')}`, {}],
  ['a longer id', 'GET', `/api/v1/events/${ID}0`, {}],
  ['a POST', 'POST', `/api/v1/events/${ID}`, {}],
  ['a DELETE', 'DELETE', `/api/v1/events/${ID}`, {}],
  ['a token', 'GET', `/api/v1/events/${ID}`, { authorization: 'Bearer x.y.z' }],
  ['the list', 'GET', '/api/v1/events', {}],
])('leaves %s to the normal path', async (_name, method, path, headers) => {
  await serve();
  const response = await fetch(`${base}${path}`, { method, headers });
  expect(response.status).toBe(599);
  expect(fallbacks).toBe(1);
  expect(lines).toEqual([]);
});

it('leaves the request to the normal path, untouched, when the limiter has to ask the store or refuses', async () => {
  const verdicts = [null, { allowed: false, limit: 1, consumed: 2, remaining: 0, resetMs: 1_000 }];
  let taken = 0;
  const anonymous = { policy: { points: 1, windowMs: 60_000 }, tryConsume: () => (taken++, verdicts.shift() ?? null) };
  await serve({ anonymous: anonymous as unknown as FastPathDeps['anonymous'] });
  for (let i = 0; i < 2; i++) expect((await fetch(`${base}/api/v1/events/${ID}`)).status).toBe(599);
  expect(taken).toBe(2);
  expect(fallbacks).toBe(2);
});

it('writes the access-log line of every Nth request it answers, marked with the sampling factor', async () => {
  await serve({ accessLogEvery: 4 });
  for (let i = 0; i < 9; i++) expect((await fetch(`${base}/api/v1/events/${ID}`, { method: i % 2 ? 'HEAD' : 'GET' })).status).toBe(200);
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatchObject({ msg: 'request', route: '/api/v1/events/:id', status: 200, sampled: 4, ip: '127.0.0.1' });
  expect(lines[0]!.request_id).toMatch(/^[0-9a-f-]{36}$/);
});

it('logs every request without a sampling mark when N is 1', async () => {
  await serve({ accessLogEvery: 1 });
  for (let i = 0; i < 3; i++) await fetch(`${base}/api/v1/events/${ID}`, { headers: { 'x-request-id': `req-${i}` } });
  expect(lines.map((line) => line.request_id)).toEqual(['req-0', 'req-1', 'req-2']);
  expect(lines.every((line) => !('sampled' in line))).toBe(true);
});
