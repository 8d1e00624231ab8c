/**
 * The client address the rate limiter, the access log and the hot-request stage key on
 * (http/client-ip.ts: proxy-addr compiled from TRUST_PROXY) is exactly Express's `req.ip` under
 * the same `trust proxy` setting, for any X-Forwarded-For chain: checked against a real Express
 * app over HTTP, with fast-check choosing the chains.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import fc from 'fast-check';
import { clientIpOf, type TrustProxy } from '../../src/http/client-ip';

const SETTINGS: TrustProxy[] = [false, true, 0, 1, 2, 'loopback', '127.0.0.1, 10.0.0.0/8', ['loopback', '192.0.2.0/24'], ['203.0.113.7']];

let server: Server;
let base: string;
let current: TrustProxy = false;
const apps = new Map<string, express.Express>();

function appFor(trust: TrustProxy): express.Express {
  const key = JSON.stringify(trust);
  let app = apps.get(key);
  if (!app) {
    app = express();
    app.set('trust proxy', trust);
    const ours = clientIpOf(trust);
    app.get('/', (req, res) => void res.json({ express: req.ip, ours: ours(req) }));
    apps.set(key, app);
  }
  return app;
}

beforeAll(async () => {
  server = (await import('node:http')).createServer((req, res) => appFor(current)(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

const ipv4 = fc.oneof(
  fc.constantFrom('127.0.0.1', '10.1.2.3', '192.0.2.10', '203.0.113.7', '198.51.100.1'),
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((parts) => parts.join('.')),
);
const address = fc.oneof({ weight: 4, arbitrary: ipv4 }, { weight: 1, arbitrary: fc.constantFrom('::1', '2001:db8::5', 'not-an-ip', '') });

it('equals req.ip for every TRUST_PROXY form and any X-Forwarded-For chain', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...SETTINGS),
      fc.option(fc.array(address, { minLength: 1, maxLength: 5 }), { nil: undefined }),
      async (trust, chain) => {
        current = trust;
        const headers: Record<string, string> = chain ? { 'x-forwarded-for': chain.join(', ') } : {};
        const answer = (await (await fetch(base, { headers })).json()) as { express: string; ours: string };
        expect(answer.ours).toBe(answer.express);
      },
    ),
    { numRuns: 150 },
  );
});

it('trusts nothing by default: a forged X-Forwarded-For does not move the address', () => {
  const ip = clientIpOf(false)({ headers: { 'x-forwarded-for': '198.51.100.1' }, socket: { remoteAddress: '127.0.0.1' } } as never);
  expect(ip).toBe('127.0.0.1');
  const trusted = clientIpOf('loopback')({
    headers: { 'x-forwarded-for': '198.51.100.1' },
    socket: { remoteAddress: '127.0.0.1' },
  } as never);
  expect(trusted).toBe('198.51.100.1');
});
