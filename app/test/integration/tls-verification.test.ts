/**
 * Every TLS connection to a data service verifies the server: the chain AND the host name. Real
 * TLS listeners made here (tls-fixtures.ts: openssl certificates, TLS terminated in front of the
 * local PostgreSQL, Redis and RabbitMQ), real drivers configured by the service's own adapters,
 * URLs built by infra/urls.ts exactly as the prod runtime Secret carries them.
 *
 * Fails on the old code: infra/urls.ts built `sslmode=require&uselibpqcompat=true` for RDS, which
 * node-postgres treats as encrypt-without-verify: the self-signed listener below was accepted.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { amqpUrl, postgresUrl, redisUrl } from '../../../infra/urls';
import { createPool } from '../../src/adapters/postgres/pool';
import { makePki, postgresTlsListener, tlsListener, type Listener, type Pem, type TestPki } from '../support/tls-fixtures';

const run = promisify(execFile);
const REDIS_PORT = Number(new URL(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379').port || 6379);
const AMQP_PORT = Number(new URL(process.env.TEST_AMQP_URL ?? 'amqp://127.0.0.1:5672').port || 5672);
const PG = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');

let pki: TestPki;
const listeners: Listener[] = [];
const opened = async (listener: Promise<Listener>): Promise<number> => {
  const l = await listener;
  listeners.push(l);
  return l.port;
};

beforeAll(() => {
  pki = makePki();
});
afterAll(async () => {
  await Promise.all(listeners.map((l) => l.close()));
  pki.cleanup();
});

describe('PostgreSQL (RDS): verify-full against the shipped CA bundle', () => {
  /** What the service does with DATABASE_URL: its own pool, one query. Resolves 'ok' or the driver's error. */
  async function connect(port: number, host = 'localhost', rootCertFile = pki.caFile): Promise<string> {
    const url = postgresUrl({
      user: decodeURIComponent(PG.username) || 'postgres',
      password: decodeURIComponent(PG.password),
      host,
      port,
      database: PG.pathname.slice(1) || 'postgres',
      tls: { rootCertFile },
    });
    const pool = createPool({ url, max: 1, statementTimeoutMs: 5_000, connectTimeoutMs: 5_000, applicationName: 'tls-verification-test' });
    try {
      const { rows } = await pool.query<{ ok: number }>('select 1 as ok');
      return rows[0]?.ok === 1 ? 'ok' : 'no row';
    } catch (error) {
      const cause = ((error as { cause?: unknown }).cause ?? error) as { code?: string; message?: string };
      return `${cause.code ?? ''} ${cause.message ?? ''}`.trim();
    } finally {
      await pool.end();
    }
  }
  const listener = (pem: Pem) => opened(postgresTlsListener(pem, Number(PG.port || 5432)));

  it('the URL asks for verify-full with the CA file', () => {
    const url = new URL(
      postgresUrl({
        user: 'u',
        password: 'p',
        host: 'db.example',
        port: 5432,
        database: 'd',
        tls: { rootCertFile: '/app/app/certs/rds-ca-bundle.pem' },
      }),
    );
    expect(Object.fromEntries(url.searchParams)).toEqual({
      sslmode: 'verify-full',
      sslrootcert: '/app/app/certs/rds-ca-bundle.pem',
      uselibpqcompat: 'true',
    });
  });

  it('connects to a server whose certificate chains to the CA and names the host (the listener works)', async () => {
    expect(await connect(await listener(pki.good))).toBe('ok');
  });

  it('refuses a server whose certificate does not chain to the configured CA', async () => {
    expect(await connect(await listener(pki.selfSigned))).toMatch(/SELF_SIGNED|self[- ]signed/i);
  });

  it('refuses a certificate of the right CA for another host name', async () => {
    expect(await connect(await listener(pki.wrongHost))).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID|does not match/);
  });

  it('refuses the right certificate when the bundle holds another CA (the shipped RDS bundle)', async () => {
    const rdsBundle = path.join(__dirname, '..', '..', 'certs', 'rds-ca-bundle.pem');
    expect(await connect(await listener(pki.good), 'localhost', rdsBundle)).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify/i);
  });
});

describe('Redis (rediss://) and RabbitMQ (amqps://): public-CA chain and host name verified', () => {
  type Outcome = { url: string; ok: boolean; error?: string };
  /** The adapters in a child whose CA store holds the test CA (as Node's store holds ElastiCache's and Amazon MQ's CAs). */
  async function outcomes(targets: { kind: 'redis' | 'amqp'; url: string }[]): Promise<Outcome[]> {
    const child = path.join(__dirname, '..', 'support', 'tls-client.ts');
    const { stdout } = await run(process.execPath, [require.resolve('tsx/cli'), child, JSON.stringify(targets)], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: pki.caFile },
      timeout: 60_000,
    });
    return JSON.parse(stdout) as Outcome[];
  }

  it('connects through certificates that chain and match; refuses self-signed and wrong-host ones', async () => {
    const redis = async (pem: Pem) =>
      redisUrl({ password: '', host: 'localhost', port: await opened(tlsListener(pem, REDIS_PORT)), tls: true });
    const amqp = async (pem: Pem) =>
      amqpUrl({ user: 'guest', password: 'guest', host: 'localhost', port: await opened(tlsListener(pem, AMQP_PORT)), tls: true });
    const targets = [
      { kind: 'redis' as const, url: await redis(pki.good) },
      { kind: 'redis' as const, url: await redis(pki.selfSigned) },
      { kind: 'redis' as const, url: await redis(pki.wrongHost) },
      { kind: 'amqp' as const, url: await amqp(pki.good) },
      { kind: 'amqp' as const, url: await amqp(pki.selfSigned) },
      { kind: 'amqp' as const, url: await amqp(pki.wrongHost) },
    ];
    expect(targets.every((t) => t.url.startsWith(t.kind === 'redis' ? 'rediss://' : 'amqps://'))).toBe(true);
    const result = await outcomes(targets);
    const summary = result.map((o) =>
      o.ok
        ? 'ok'
        : /SELF_SIGNED|self[- ]signed/i.test(o.error ?? '')
          ? 'refused: not chained'
          : /ALTNAME|does not match/i.test(o.error ?? '')
            ? 'refused: wrong host'
            : `other: ${o.error}`,
    );
    expect(summary).toEqual(['ok', 'refused: not chained', 'refused: wrong host', 'ok', 'refused: not chained', 'refused: wrong host']);
  }, 90_000);
});
