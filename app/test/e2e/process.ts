import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';

const ROOT = path.resolve(__dirname, '../../..');

/** Compiles the service exactly as `make build` does, into a folder of its own under build/ (so node_modules resolve). */
export async function buildService(): Promise<string> {
  mkdirSync(path.join(ROOT, 'build'), { recursive: true });
  const out = mkdtempSync(path.join(ROOT, 'build', 'e2e-'));
  chmodSync(out, 0o755);
  const buildDir = path.join(out, 'app');
  await promisify(execFile)(
    process.execPath,
    [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', buildDir],
    {
      cwd: ROOT,
      timeout: 180_000,
    },
  );
  cpSync(path.join(ROOT, 'app/src/adapters/postgres/migrations'), path.join(buildDir, 'adapters/postgres/migrations'), { recursive: true });
  cpSync(path.join(ROOT, 'app/src/payments/migrations'), path.join(buildDir, 'payments/migrations'), { recursive: true });
  // the gRPC edge loads the protos at startup, as the image ships them beside the build
  cpSync(path.join(ROOT, 'proto'), path.join(out, 'proto'), { recursive: true });
  return out;
}

export interface RunningService {
  url: string;
  /** The port the gRPC edge bound (GRPC_PORT 0 lets the kernel choose), when the role serves one. */
  grpcPort?: number;
  child: ChildProcess;
  output(): string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `node <build>/main.js <role>` (what `make run` runs) and waits for its "listening" line. */
export function startService(buildRoot: string, role: string, env: Record<string, string>): Promise<RunningService> {
  return spawnService([path.join(buildRoot, 'app/main.js'), role], buildRoot, env);
}

/**
 * Starts `main.ts <role>` from the sources (tsx's loader, no build) and waits for its "listening" line.
 * The loader runs in this one process (the flags tsx's CLI would give its own child): through the CLI,
 * a SIGKILL reached only the wrapper and left the service running as an orphan.
 */
export function startFromSource(role: string, env: Record<string, string>): Promise<RunningService> {
  const tsx = path.join(ROOT, 'node_modules/tsx/dist');
  const loader = ['--require', path.join(tsx, 'preflight.cjs'), '--import', pathToFileURL(path.join(tsx, 'loader.mjs')).href];
  return spawnService([...loader, path.join(ROOT, 'app/src/main.ts'), role], ROOT, env);
}

function spawnService(args: string[], cwd: string, env: Record<string, string>): Promise<RunningService> {
  // the test runner's own variables (TEST_*, JEST_*) stay out; the service sees a clean environment
  const child = spawn(process.execPath, args, {
    cwd,
    // GRPC_PORT 0 unless the test says: parallel test files (and other checkouts) never fight over 9090
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', GRPC_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`service did not start in 90 s:\n${output}`)), 90_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((l) => l.includes('listening on'));
      if (line) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.stdout.on('data', (more: Buffer) => (output += more.toString()));
        const listening = JSON.parse(line) as { url: string; backends?: { grpc?: string } };
        const grpcPort = /^port (\d+)$/.exec(listening.backends?.grpc ?? '')?.[1];
        resolve({
          url: listening.url,
          grpcPort: grpcPort === undefined ? undefined : Number(grpcPort),
          child,
          output: () => output,
          stop: () => {
            child.kill('SIGTERM');
            return exited;
          },
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`service exited with ${code} before listening:\n${output}`));
    });
  });
}
