/** 3. Cached reads: GET /events/:id side by side with a bare node:http server returning the same bytes. */
import { spawn } from 'node:child_process';
import { callApi, type BenchContext } from '../lib/context';
import { cpuMeter, perRequestUs } from '../lib/cpu';
import { runLoad, type LoadResult } from '../lib/load';
import { progress } from '../lib/progress';
import { freePort } from '../../scripts/lib/free-port';
import { rate, ratio, summarize, type LatencySummary } from '../lib/stats';

/** The reference: node:http, no framework, the same body and content type, keep-alive. */
const BARE_SERVER = `
const http = require('node:http');
const body = Buffer.from(process.env.BODY_B64, 'base64');
const type = process.env.CONTENT_TYPE;
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': type, 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 65000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('ready\\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

export interface ReadStats {
  requests: number;
  seconds: number;
  rps: number;
  latency: LatencySummary;
}

export interface ReadsResult {
  eventId: string;
  bodyBytes: number;
  connections: number;
  /** order of the rounds: bare, api, api, bare (drift on a shared machine cancels out) */
  rounds: Array<{ target: 'bare' | 'api'; rps: number; p99: number }>;
  api: ReadStats;
  bare: ReadStats;
  ratio: number;
  /** CPU time per request over the rounds (/proc/<pid>/stat), µs: the api's and the bare server's. */
  cpuPerRequestUs: { api: number; bare: number; ratio: number };
  problems: string[];
}

function combine(loads: LoadResult[]): ReadStats {
  const latencies = loads.flatMap((load) => load.samples.latencyMs);
  const requests = loads.reduce((n, load) => n + load.samples.status.length, 0);
  const ms = loads.reduce((n, load) => n + load.elapsedMs, 0);
  return { requests, seconds: ms / 1000, rps: rate(requests, ms), latency: summarize(latencies) };
}

async function startBare(body: string, contentType: string): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['-e', BARE_SERVER], {
    env: { PATH: process.env.PATH ?? '', PORT: String(port), BODY_B64: Buffer.from(body).toString('base64'), CONTENT_TYPE: contentType },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`bare node:http server exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

export async function reads(ctx: BenchContext): Promise<ReadsResult> {
  const { rows } = await ctx.db.pool.query<{ id: string }>(`SELECT id FROM events WHERE name LIKE 'Show 42:%' LIMIT 1`);
  const eventId = rows[0]!.id;
  const path = `/events/${eventId}`;
  const response = await fetch(`${ctx.apiBase}${path}`);
  const body = await response.text();
  if (response.status !== 200) throw new Error(`GET ${path} answered ${response.status}: ${body.slice(0, 200)}`);
  await callApi(`${ctx.apiBase}${path}`); // and once more, so a cache has it
  const contentType = response.headers.get('content-type') ?? 'application/json';
  const bare = await startBare(body, contentType);
  const seconds = ctx.options.sizes.readSeconds;
  const connections = ctx.options.connections;
  progress.step(
    `cached reads: GET /api/v1/events/:id (${body.length} bytes) vs bare node:http, ${connections} connections, 4 rounds of ${seconds}s (bare, api, api, bare)`,
  );
  const byTarget: Record<'bare' | 'api', LoadResult[]> = { bare: [], api: [] };
  const rounds: ReadsResult['rounds'] = [];
  const problems: string[] = [];
  const cpuUs = { bare: 0, api: 0 };
  try {
    for (const target of ['bare', 'api', 'api', 'bare'] as const) {
      const url = target === 'api' ? `${ctx.apiBase}${path}` : `${bare.url}${path}`;
      const cpu = cpuMeter(target === 'api' ? ctx.api.pid : bare.pid);
      const load = await runLoad({ label: `reads ${target}`, url, connections, durationSeconds: seconds });
      cpuUs[target] += cpu.stop();
      const wrong = Object.entries(load.statusCounts).filter(([code]) => code !== '200');
      if (wrong.length || load.errors)
        problems.push(`reads ${target}: statuses ${JSON.stringify(load.statusCounts)}, ${load.errors} errors`);
      byTarget[target].push(load);
      const stats = combine([load]);
      rounds.push({ target, rps: stats.rps, p99: stats.latency.p99 });
    }
  } finally {
    await bare.stop();
  }
  const api = combine(byTarget.api);
  const bareStats = combine(byTarget.bare);
  const cpuPerRequest = { api: perRequestUs(cpuUs.api, api.requests), bare: perRequestUs(cpuUs.bare, bareStats.requests) };
  const cpuPerRequestUs = { ...cpuPerRequest, ratio: ratio(cpuPerRequest.api, cpuPerRequest.bare) };
  const result = {
    eventId,
    bodyBytes: Buffer.byteLength(body),
    connections,
    rounds,
    api,
    bare: bareStats,
    ratio: ratio(api.rps, bareStats.rps),
    cpuPerRequestUs,
    problems,
  };
  progress.info(
    `reads: api ${api.rps.toFixed(0)} req/s (p99 ${api.latency.p99.toFixed(1)} ms), bare ${bareStats.rps.toFixed(0)} req/s (p99 ${bareStats.latency.p99.toFixed(1)} ms), ratio ${result.ratio.toFixed(2)}; ` +
      `CPU per request api ${cpuPerRequest.api.toFixed(1)} µs, bare ${cpuPerRequest.bare.toFixed(1)} µs (${cpuPerRequestUs.ratio.toFixed(2)}×)`,
  );
  return result;
}
