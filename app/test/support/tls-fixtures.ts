/**
 * Real TLS listeners for the refusal tests, with certificates made by openssl in a temp folder:
 * a test CA, a server certificate it signs for localhost, one it signs for another host name, and
 * a self-signed one for localhost. The listeners terminate TLS and pass the plain bytes to the
 * local servers (PostgreSQL after its SSLRequest handshake, Redis and RabbitMQ as they are), so a
 * client that accepts the certificate talks to the real server behind it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';

export interface Pem {
  cert: string;
  key: string;
}

export interface TestPki {
  dir: string;
  /** Path of the test CA's certificate. */
  caFile: string;
  /** Signed by the test CA for localhost and 127.0.0.1. */
  good: Pem;
  /** Signed by the test CA for db.elsewhere.example only. */
  wrongHost: Pem;
  /** Self-signed for localhost: chains to nothing anyone trusts. */
  selfSigned: Pem;
  cleanup(): void;
}

export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'goticket-tls-'));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=GoTicket Test CA',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
  );
  const leaf = (name: string, cn: string, san: string): Pem => {
    writeFileSync(
      join(dir, `${name}.ext`),
      `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`,
    );
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    );
    return { cert: readFileSync(join(dir, `${name}.pem`), 'utf8'), key: readFileSync(join(dir, `${name}.key`), 'utf8') };
  };
  const good = leaf('good', 'localhost', 'DNS:localhost,IP:127.0.0.1');
  const wrongHost = leaf('wrong', 'db.elsewhere.example', 'DNS:db.elsewhere.example');
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost',
    '-keyout',
    'self.key',
    '-out',
    'self.pem',
  );
  const selfSigned = { cert: readFileSync(join(dir, 'self.pem'), 'utf8'), key: readFileSync(join(dir, 'self.key'), 'utf8') };
  return { dir, caFile: join(dir, 'ca.pem'), good, wrongHost, selfSigned, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Listener {
  port: number;
  close(): Promise<void>;
}

function listen(server: net.Server, sockets: Set<net.Socket>): Promise<Listener> {
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () =>
          new Promise((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      }),
    ),
  );
}

function pipeTo(upstreamPort: number, client: net.Socket, sockets: Set<net.Socket>): void {
  const upstream = net.connect(upstreamPort, '127.0.0.1');
  sockets.add(upstream);
  upstream.on('close', () => sockets.delete(upstream));
  const end = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', end).on('close', end);
  upstream.on('error', end).on('close', end);
  client.pipe(upstream).pipe(client);
}

/** TLS in front of a plain TCP server (Redis, RabbitMQ): what ElastiCache and Amazon MQ look like to a client. */
export function tlsListener(pem: Pem, upstreamPort: number): Promise<Listener> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ ...pem }, (client) => pipeTo(upstreamPort, client, sockets));
  server.on('tlsClientError', () => undefined);
  return listen(server, sockets);
}

const SSL_REQUEST = 80877103;

/**
 * PostgreSQL's TLS: the client sends SSLRequest in clear, the server answers `S`, then TLS starts
 * on the same socket and the startup message follows inside it. After the handshake the plain
 * stream goes to the real server (which gets the startup message directly, as from any client).
 */
export function postgresTlsListener(pem: Pem, upstreamPort: number): Promise<Listener> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    socket.on('error', () => socket.destroy());
    socket.once('data', (first: Buffer) => {
      if (first.length < 8 || first.readInt32BE(0) !== 8 || first.readInt32BE(4) !== SSL_REQUEST) {
        socket.end(); // this listener speaks TLS only, like an RDS instance with rds.force_ssl
        return;
      }
      socket.write('S');
      const secure = new tls.TLSSocket(socket, { isServer: true, ...pem });
      secure.on('error', () => socket.destroy());
      secure.once('secure', () => pipeTo(upstreamPort, secure, sockets));
    });
  });
  return listen(server, sockets);
}
