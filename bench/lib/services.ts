/** The service under test: a private copy of build/app, and api + worker (+ payments) as separate child processes. */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, cpSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { nodeHeapOptions, prod } from '../../charts/environments';
import { progress } from './progress';

export const ROOT = path.resolve(__dirname, '../..');

/** The memory limit each role runs under in prod; its container gets NODE_OPTIONS sized from it (charts/goticket.ts). */
const PROD_MEMORY_LIMIT = {
  api: prod.api.resources.memoryLimit,
  worker: prod.worker.resources.memoryLimit,
  // charts/environments.ts has no payments Deployment sizing yet: the worker's (the role closest to it)
  payments: prod.worker.resources.memoryLimit,
  migrate: prod.migrate.resources.memoryLimit,
};

/**
 * Copies build/app into build/bench-<id>/app, so another `make build` (which wipes build/app)
 * cannot pull files from under a running benchmark. Inside build/, node_modules still resolve.
 * BENCH_BUILD_DIR=build/<other> benchmarks another compiled tree (a candidate change) instead.
 */
export function snapshotBuild(runId: string, from = process.env.BENCH_BUILD_DIR ?? 'build/app'): string {
  const source = path.resolve(ROOT, from);
  if (!existsSync(path.join(source, 'main.js')))
    throw new Error(`${from}/main.js is missing: run \`make bench\` (it builds first) or \`npm run build\``);
  if (!source.startsWith(path.join(ROOT, 'build')))
    throw new Error('BENCH_BUILD_DIR must be inside build/ (node_modules must resolve from it)');
  const dir = path.join(ROOT, 'build', `bench-${runId}`);
  cpSync(source, path.join(dir, 'app'), { recursive: true });
  // the gRPC edge loads the protos at startup (beside app/, as in the image)
  cpSync(path.join(ROOT, 'proto'), path.join(dir, 'proto'), { recursive: true });
  return dir;
}

export function removeSnapshot(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface ServiceProcess {
  role: string;
  pid: number;
  url: string;
  logFile: string;
  child: ChildProcess;
  exited: boolean;
  /** SIGTERM, then SIGKILL after the grace period; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  tail(lines?: number): string;
}

export interface StartOptions {
  snapshot: string;
  role: 'api' | 'worker' | 'payments' | 'migrate';
  env: Record<string, string>;
  logFile: string;
  nodeArgs?: string[];
  /** Wait for GET /healthz/ready = 200 (api, worker, payments); migrate is awaited to its exit instead. */
  port?: number;
}

function tailOf(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export async function startService(options: StartOptions): Promise<ServiceProcess> {
  const fd = openSync(options.logFile, 'a');
  // Each role with production's heap flags (BENCH_ENV_NODE_OPTIONS, in options.env, overrides them).
  const memoryLimit = PROD_MEMORY_LIMIT[options.role];
  const heap = { NODE_OPTIONS: nodeHeapOptions(memoryLimit) };
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    GRPC_PORT: '0',
    ...heap,
    ...options.env,
  };
  if (options.role !== 'migrate')
    progress.info(`${options.role} NODE_OPTIONS="${env.NODE_OPTIONS ?? ''}" (prod ${options.role} memory limit ${memoryLimit})`);
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), path.join(options.snapshot, 'app/main.js'), options.role], {
    cwd: options.snapshot,
    env,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let exitCode: number | null = null;
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? 128 : null);
      service.exited = true;
      resolve(exitCode);
    }),
  );
  const service: ServiceProcess = {
    role: options.role,
    pid: child.pid!,
    url: `http://127.0.0.1:${options.port ?? 0}`,
    logFile: options.logFile,
    child,
    exited: false,
    tail: (lines) => tailOf(options.logFile, lines),
    async stop(graceMs = 25_000) {
      if (service.exited) return exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
  };

  if (options.role === 'migrate') {
    const code = await exit;
    if (code !== 0) throw new Error(`migrate exited with ${code}:\n${service.tail()}`);
    return service;
  }

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (service.exited) throw new Error(`${options.role} exited with ${exitCode} before it was ready:\n${service.tail()}`);
    try {
      const response = await fetch(`${service.url}/healthz/ready`, { signal: AbortSignal.timeout(2_000) });
      if (response.status === 200) return service;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await service.stop(2_000);
      throw new Error(`${options.role} was not ready within 60 s:\n${service.tail()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Resident set size now and at its peak (VmHWM), in MiB, from /proc. */
export function memoryOf(pid: number): { rssMb: number; hwmMb: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

/** Samples a process's RSS every `everyMs` until stopped; returns the highest sample. */
export function sampleRss(pid: number, everyMs = 100): { stop(): { peakMb: number; samples: number } } {
  let peakMb = 0;
  let samples = 0;
  const take = () => {
    const memory = memoryOf(pid);
    if (!memory) return;
    samples++;
    peakMb = Math.max(peakMb, memory.rssMb);
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return { peakMb, samples };
    },
  };
}
