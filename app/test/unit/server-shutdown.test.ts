import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { closeServer, listen } from '../../src/http/server';

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

/**
 * A client connection as a load balancer keeps it: HTTP/1.1 keep-alive, requests written by hand,
 * everything the server sends collected, and when the server closes it.
 */
class Connection {
  private received = '';
  private waiters: Array<() => void> = [];
  readonly closedByServer: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.toString('latin1');
      for (const wake of this.waiters.splice(0)) wake();
    });
    socket.on('error', () => undefined);
    this.closedByServer = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async open(url: string): Promise<Connection> {
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname);
    await new Promise((resolve) => socket.once('connect', resolve));
    return new Connection(socket);
  }

  send(path: string): void {
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: test\r\nConnection: keep-alive\r\n\r\n`);
  }

  /** Waits until what the server sent satisfies `done`; returns all of it. */
  async until(done: (text: string) => boolean): Promise<string> {
    while (!done(this.received)) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.received;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const headersOf = (text: string) => text.slice(0, text.indexOf('\r\n\r\n')).toLowerCase();

/** A server whose `/hold` requests wait for `release()`; `/stream` sends its headers first. */
async function holdingServer() {
  const waiting: Array<() => void> = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/stream') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('first;');
    }
    for (const wake of waiting.splice(0)) wake();
    if (req.url === '/quick') return void res.end('quick');
    void released.then(() => res.end('done'));
  };
  const { server, url } = await listen(handler, '127.0.0.1', 0);
  /** Sends a request on `client` and waits until the handler has it. */
  const begin = async (client: Connection, path: string) => {
    const started = new Promise<void>((resolve) => waiting.push(resolve));
    client.send(path);
    await started;
  };
  return { server, url, release, begin };
}

/** Runs `test` with `count` open connections to `url`, destroyed afterwards whatever happens. */
async function withConnections(url: string, count: number, test: (clients: Connection[]) => Promise<void>): Promise<void> {
  const clients = await Promise.all(Array.from({ length: count }, () => Connection.open(url)));
  try {
    await test(clients);
  } finally {
    for (const client of clients) client.destroy();
  }
}

describe('graceful HTTP shutdown', () => {
  it('lets an in-flight request finish, then refuses new connections', async () => {
    let markStarted!: () => void;
    const started = new Promise<void>((resolve) => (markStarted = resolve));
    const { server, url } = await listen(
      (_req, res) => {
        markStarted();
        setTimeout(() => res.end('done'), 300);
      },
      '127.0.0.1',
      0,
    );
    const inFlight = get(`${url}/slow`);
    await started;
    const closed = closeServer(server);
    await expect(get(`${url}/new`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(await inFlight).toEqual({ status: 200, body: 'done' });
    await closed;
    expect(server.listening).toBe(false);
  });

  it('closes an idle keep-alive connection itself (the client never closes it)', async () => {
    const { server, url } = await holdingServer();
    await withConnections(url, 1, async ([client]) => {
      client!.send('/quick');
      expect(headersOf(await client!.until((text) => text.endsWith('quick')))).toContain('connection: keep-alive');
      await closeServer(server);
      await client!.closedByServer;
    });
  });

  it('answers a request in flight on a keep-alive connection with Connection: close, then closes that connection', async () => {
    const { server, url, release, begin } = await holdingServer();
    await withConnections(url, 1, async ([client]) => {
      await begin(client!, '/hold');
      const closed = closeServer(server);
      release();
      const text = await client!.until((t) => t.endsWith('done'));
      expect(text.startsWith('HTTP/1.1 200')).toBe(true);
      expect(headersOf(text)).toContain('connection: close');
      await client!.closedByServer;
      await closed;
    });
  });

  it('closes a keep-alive connection as soon as a response whose headers were already sent ends', async () => {
    const { server, url, release, begin } = await holdingServer();
    await withConnections(url, 1, async ([client]) => {
      await begin(client!, '/stream');
      // the status line and headers (keep-alive, chunked) are out before shutdown begins
      expect(headersOf(await client!.until((t) => t.includes('first;')))).toContain('connection: keep-alive');
      const closed = closeServer(server);
      release();
      await client!.until((t) => t.endsWith('0\r\n\r\n'));
      // without the server closing it, this connection would stay open for keepAliveTimeout (65 s)
      await client!.closedByServer;
      await closed;
    });
  });

  it('leaves no connection behind for any of several keep-alive clients, idle or busy', async () => {
    const { server, url, release, begin } = await holdingServer();
    await withConnections(url, 4, async (clients) => {
      const [idle, busy] = [clients.slice(0, 2), clients.slice(2)];
      for (const client of idle) {
        client.send('/quick');
        await client.until((t) => t.endsWith('quick'));
      }
      for (const client of busy) await begin(client, '/hold');
      const closed = closeServer(server);
      await Promise.all(idle.map((client) => client.closedByServer));
      release();
      for (const client of busy) expect(headersOf(await client.until((t) => t.endsWith('done')))).toContain('connection: close');
      await Promise.all(clients.map((client) => client.closedByServer));
      await closed;
      expect(await new Promise((resolve) => server.getConnections((_error, count) => resolve(count)))).toBe(0);
    });
  });
});
