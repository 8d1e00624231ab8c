import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

export type TrustProxy = boolean | number | string | string[];

/**
 * The client address under TRUST_PROXY, with proxy-addr compiled the way Express compiles its
 * `trust proxy` setting (so it equals `req.ip`): `true` trusts every hop, a number that many
 * hops, a list (or comma-separated text) of addresses/subnets/`loopback`…; `false` none. The one
 * function the rate limiter, the access log and the hot-request stage key on.
 */
export function clientIpOf(trust: TrustProxy): (req: IncomingMessage) => string {
  const trusted = compileTrust(trust);
  return (req) => proxyaddr(req, trusted) || req.socket.remoteAddress || 'unknown';
}

function compileTrust(trust: TrustProxy): (address: string, hop: number) => boolean {
  if (trust === true) return () => true;
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  const list = typeof trust === 'string' ? trust.split(',').map((value) => value.trim()) : trust || [];
  return proxyaddr.compile(list);
}
