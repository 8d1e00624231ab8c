/**
 * TRUST_PROXY against the proxy that now fronts the service. Envoy (the shared Gateway's data
 * plane) appends the address it received the connection from to X-Forwarded-For and forwards
 * whatever the client sent before it; the NLB in front of it passes TCP through and keeps the
 * client's address (externalTrafficPolicy Local). So exactly one hop is trusted: the service must
 * take the LAST X-Forwarded-For entry as the client, never one the client wrote itself.
 *
 * Real sockets on 127.0.0.1: the service's own client-address function (`clientIpOf`, what the
 * rate limiter, the access log and the hot-request stage key on) and Express's `req.ip`, both under
 * the TRUST_PROXY its own config parses from the ConfigMap value cdk8s ships, behind a forwarding proxy that edits X-Forwarded-For the
 * way Envoy does (use_remote_address: append the downstream peer).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { loadConfig } from '../../app/src/config';
import { clientIpOf } from '../../app/src/http/client-ip';
import { EDGE } from '../../platform/contract';
import { ENVIRONMENTS } from '../environments';
import { configData } from '../goticket';

const servers: http.Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
});

function listen(server: http.Server): Promise<number> {
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** The service's view of the client under the given TRUST_PROXY, parsed by the service's own config. */
async function service(trustProxy: string): Promise<number> {
  const trust = loadConfig({ TRUST_PROXY: trustProxy }).http.trustProxy;
  const clientIp = clientIpOf(trust);
  const app = express();
  app.set('trust proxy', trust);
  app.get('/whoami', (req, res) => {
    // The two must agree (client-ip.ts compiles proxy-addr as Express does); a mismatch shows as a different answer.
    res.json({ ip: clientIp(req) === req.ip ? clientIp(req) : `mismatch ${clientIp(req)} vs ${String(req.ip)}` });
  });
  return listen(http.createServer(app));
}

/** Forwards to `upstream`, appending the downstream peer's address to X-Forwarded-For (Envoy's default at the edge). */
async function envoyLike(upstream: number): Promise<number> {
  return listen(
    http.createServer((req, res) => {
      const peer = req.socket.remoteAddress!;
      const prior = req.headers['x-forwarded-for'];
      const headers = { ...req.headers, 'x-forwarded-for': prior ? `${String(prior)}, ${peer}` : peer };
      const out = http.request({ host: '127.0.0.1', port: upstream, path: req.url, method: req.method, headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      out.on('error', () => res.writeHead(502).end());
      req.pipe(out);
    }),
  );
}

function get(port: number, headers: Record<string, string>): Promise<{ ip: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/whoami', headers, agent: false }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve(JSON.parse(body) as { ip: string }));
      })
      .on('error', reject);
  });
}

const SPOOFED = '203.0.113.66';

describe.each(ENVIRONMENTS.map((env) => [env.name, env] as const))('client address in %s', (_name, env) => {
  it('ships TRUST_PROXY = the hops that append to X-Forwarded-For (Envoy only)', () => {
    expect(configData(env).TRUST_PROXY).toBe(String(EDGE.trustedProxyHops));
    expect(EDGE.trustedProxyHops).toBe(1);
  });

  it('takes the address Envoy saw, not an X-Forwarded-For the client wrote', async () => {
    const edge = await envoyLike(await service(configData(env).TRUST_PROXY ?? 'unset'));
    // The client (here on 127.0.0.1) claims to be someone else; Envoy appends the real peer.
    expect(await get(edge, { 'X-Forwarded-For': SPOOFED })).toEqual({ ip: '127.0.0.1' });
    expect(await get(edge, { 'X-Forwarded-For': `198.51.100.1, ${SPOOFED}` })).toEqual({ ip: '127.0.0.1' });
    expect(await get(edge, {})).toEqual({ ip: '127.0.0.1' });
  });

  it('would believe the client with one hop too many (why the count matters)', async () => {
    const edge = await envoyLike(await service(String(EDGE.trustedProxyHops + 1)));
    expect(await get(edge, { 'X-Forwarded-For': SPOOFED })).toEqual({ ip: SPOOFED });
  });
});
