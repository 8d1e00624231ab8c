/** scripts/eks-reachable.ts with a stand-in `aws` CLI and a local TCP listener as the API server. */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterNameOf } from '../eks-reachable';
import { ROOT } from './github-files';

const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const dirs: string[] = [];
let server: Server;
let openPort = 0;
let closedPort = 0;

beforeAll(async () => {
  server = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  openPort = (server.address() as { port: number }).port;
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Runs the script with an `aws` that answers describe-cluster with `answer` (or fails with `error`). */
function check(aws: { endpoint?: string; error?: string }) {
  const bin = mkdtempSync(join(tmpdir(), 'fake-aws-'));
  dirs.push(bin);
  const body = aws.error ? `echo "${aws.error}" >&2\nexit 254` : `echo "$*" > ${join(bin, 'args')}\necho "${aws.endpoint}"`;
  writeFileSync(join(bin, 'aws'), `#!/bin/sh\n${body}\n`);
  chmodSync(join(bin, 'aws'), 0o755);
  const result = spawnSync(TSX, ['scripts/eks-reachable.ts', '--stack', 'prod', '--timeout-ms', '2000'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
  });
  return { status: result.status, out: `${result.stdout}${result.stderr}`.trim(), bin };
}

it('reads the cluster name from Pulumi.prod.yaml', () => {
  expect(clusterNameOf('prod')).toBe('goticket-prod');
});

it('passes when the API server accepts a connection', () => {
  const r = check({ endpoint: `https://127.0.0.1:${openPort}` });
  expect(r).toMatchObject({ status: 0, out: expect.stringContaining('answers from this runner') });
});

it('fails at once with one line naming what to set when it does not', () => {
  const r = check({ endpoint: `https://127.0.0.1:${closedPort}` });
  expect(r.status).toBe(1);
  expect(r.out.split('\n')).toHaveLength(1);
  expect(r.out).toMatch(/not reachable from this runner: .*PULUMI_PROD_RUNS_ON.*goticket:eks\.publicAccessCidrs/);
});

it('lets the first up through: no cluster yet, nothing to reach', () => {
  const r = check({
    error:
      'An error occurred (ResourceNotFoundException) when calling the DescribeCluster operation: No cluster found for name: goticket-prod.',
  });
  expect(r).toMatchObject({ status: 0, out: expect.stringContaining('does not exist yet') });
});

it('reports any other AWS failure (expired credentials, no permission) instead of guessing', () => {
  const r = check({ error: 'An error occurred (AccessDeniedException) when calling the DescribeCluster operation' });
  expect(r.status).toBe(1);
  expect(r.out).toContain('AccessDeniedException');
});
