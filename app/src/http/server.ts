import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { RequestListener } from 'node:http';
import { PRE_ROUTER_STAGE, type PreRouterStage } from './hot-requests';

/** The open connections of each server `listen` made (closeServer needs the busy ones). */
const connectionsOf = new WeakMap<Server, Set<Socket>>();

/**
 * The request listener of `handler`, with the stage it declares in front of itself (createApp's
 * hot-request stage: `app.set(PRE_ROUTER_STAGE, stage)`) run first: the stage answers a request
 * or hands it on untouched to the handler.
 */
export function withPreRouterStage(handler: RequestListener): RequestListener {
  const settings = handler as RequestListener & { get?: (name: string) => unknown };
  const stage = typeof settings.get === 'function' ? (settings.get(PRE_ROUTER_STAGE) as PreRouterStage | undefined) : undefined;
  if (!stage) return handler;
  return (req, res) => stage(req, res, () => void handler(req, res));
}

export async function listen(handler: RequestListener, host: string, port: number): Promise<{ server: Server; url: string }> {
  const server = createServer(
    {
      requestTimeout: 30_000,
      headersTimeout: 10_000,
      // Node compares incomplete requests with the two deadlines above only this often (30 s by
      // default, so a 10 s header deadline fired after up to 30 s).
      connectionsCheckingInterval: 1_000,
      maxHeaderSize: 16 * 1024,
    },
    withPreRouterStage(handler),
  );
  // Longer than a typical load balancer idle timeout, so the balancer closes first.
  server.keepAliveTimeout = 65_000;
  // Per connection, not per request: the hot path pays nothing for shutdown.
  const connections = new Set<Socket>();
  connectionsOf.set(server, connections);
  server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return { server, url: `http://${shownHost}:${address.port}` };
}

/**
 * Stops accepting, lets in-flight requests finish, and closes every connection as soon as it has
 * nothing in flight: idle keep-alive connections at once, a busy one when its response ends (the
 * response says `Connection: close` when its headers are not out yet, and so does any request
 * that arrives after shutdown began). Without this a keep-alive connection that was busy when
 * shutdown began (a load balancer's upstream connection usually is) stayed open after its
 * response until the client closed it or keepAliveTimeout (65 s) passed: far past
 * SHUTDOWN_TIMEOUT. Resolves once the last connection is closed. Busy connections are found
 * for servers made by `listen`; for any other server, idle ones are still closed.
 */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    // First, so the handler has not written the headers yet.
    server.prependListener('request', lastOnItsConnection);
    server.closeIdleConnections();
    const closeWhenIdle = () => server.closeIdleConnections();
    for (const socket of connectionsOf.get(server) ?? []) {
      const response = inFlight(socket);
      if (!response) continue;
      lastOnItsConnection(undefined, response);
      // Node detaches the response from its socket in its own 'finish' listener, which runs first.
      response.once('finish', closeWhenIdle);
    }
  });
}

function lastOnItsConnection(_req: IncomingMessage | undefined, res: ServerResponse): void {
  if (!res.headersSent) res.setHeader('Connection', 'close');
}

/**
 * The response a connection is serving, if it has not finished. Node keeps it on the socket as
 * `_httpMessage` (its own closeIdleConnections reads it the same way); the alternative, tracking
 * every response, would cost every request a listener.
 */
function inFlight(socket: Socket): ServerResponse | undefined {
  const response = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  return response && !response.writableFinished ? response : undefined;
}
