import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy for outage tests: sits between a client and a real server (RabbitMQ, Redis,
 * PostgreSQL…). `cut()` kills every open connection and refuses new ones until `restore()`;
 * `delay(ms)` holds every chunk in both directions for `ms` (0 to stop delaying);
 * `blackhole()` is a host that vanished without a word (a failed-over database primary): every
 * byte in either direction is dropped, nothing is closed, new connections are accepted and then
 * never answered. `restore()` lets new connections through again; the black-holed ones stay dead
 * (the old host is gone), so only a client-side deadline or keepalive frees them.
 */
export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  /** `url` with its host and port replaced by the proxy's. */
  rewrite(url: string): string;
  cut(): void;
  blackhole(): void;
  restore(): void;
  delay(ms: number): void;
  /** Open client connections (for assertions). */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  /** Connections that fell into the black hole: their bytes go nowhere, for good. */
  const dead = new WeakSet<Socket>();
  /** Connections accepted while black-holed, never connected upstream. */
  const held = new Set<Socket>();
  let isCut = false;
  let isBlackhole = false;
  let delayMs = 0;

  const pipe = (from: Socket, to: Socket) => {
    from.on('data', (chunk) => {
      if (dead.has(from)) return;
      if (delayMs === 0) {
        to.write(chunk);
        return;
      }
      from.pause();
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
        from.resume();
      }, delayMs);
    });
  };

  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    if (isCut) {
      client.destroy();
      return;
    }
    if (isBlackhole) {
      held.add(client);
      client.on('error', () => undefined);
      client.on('close', () => held.delete(client));
      // read and drop: the client's writes never back up, nothing ever comes back
      client.resume();
      return;
    }
    const upstream = connect(target.port, target.host);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const teardown = () => {
      pairs.delete(pair);
      upstream.destroy();
      // a black-holed client connection stays open and silent (see blackhole)
      if (!dead.has(client)) client.destroy();
    };
    for (const socket of pair) {
      socket.setNoDelay(true);
      socket.on('error', teardown);
      socket.on('close', teardown);
      // a half-close is passed on, unless the connection is black-holed (then nothing is)
      socket.on('end', () => {
        if (!dead.has(client)) (socket === client ? upstream : client).end();
      });
    }
    pipe(client, upstream);
    pipe(upstream, client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const destroyAll = () => {
    for (const [client, upstream] of pairs) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
    for (const client of held) client.destroy();
    held.clear();
  };

  return {
    host: '127.0.0.1',
    port,
    rewrite(url: string) {
      const parsed = new URL(url);
      parsed.hostname = '127.0.0.1';
      parsed.port = String(port);
      return parsed.toString();
    },
    cut() {
      isCut = true;
      destroyAll();
    },
    blackhole() {
      isBlackhole = true;
      // The host is gone: its sessions end (what they had not committed is lost), while the
      // clients' connections to it stay open and hear nothing, ever.
      for (const [client, upstream] of [...pairs]) {
        dead.add(client);
        held.add(client);
        client.once('close', () => held.delete(client));
        upstream.destroy();
      }
    },
    restore() {
      isCut = false;
      isBlackhole = false;
    },
    delay(ms: number) {
      delayMs = ms;
    },
    get connections() {
      return pairs.size;
    },
    close() {
      isCut = true;
      destroyAll();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
