/**
 * Fails a prod job of .github/workflows/pulumi.yml in seconds, with one line saying what to change,
 * when its runner cannot reach the EKS API server. The endpoint is public only to
 * `eks.publicAccessCidrs` (and private inside the VPC), so a GitHub-hosted runner with a random
 * egress address would otherwise hang in `pulumi preview/up` until the Kubernetes provider times out.
 *
 *   npx tsx scripts/eks-reachable.ts [--stack prod] [--timeout-ms 10000]
 *
 * Reads the cluster name from Pulumi.<stack>.yaml, asks `aws eks describe-cluster` for its endpoint
 * (no cluster yet: the first `pulumi up` creates it, nothing to check) and opens a TCP connection.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';

const ROOT = join(__dirname, '..');

export function clusterNameOf(stack: string, root = ROOT): string {
  const file = parse(readFileSync(join(root, `Pulumi.${stack}.yaml`), 'utf8')) as { config?: Record<string, { clusterName?: string }> };
  const name = file.config?.['goticket:eks']?.clusterName;
  if (!name) throw new Error(`Pulumi.${stack}.yaml has no goticket:eks.clusterName`);
  return name;
}

/** The API server endpoint, or undefined when the cluster does not exist yet. */
export function endpointOf(cluster: string): string | undefined {
  try {
    return execFileSync('aws', ['eks', 'describe-cluster', '--name', cluster, '--query', 'cluster.endpoint', '--output', 'text'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  } catch (error) {
    const output = (error as { stderr?: unknown }).stderr;
    const stderr = typeof output === 'string' ? output : Buffer.isBuffer(output) ? output.toString('utf8') : '';
    if (stderr.includes('ResourceNotFoundException')) return undefined;
    throw new Error(`aws eks describe-cluster --name ${cluster} failed: ${stderr.trim() || (error as Error).message}`, { cause: error });
  }
}

export function reachable(endpoint: string, timeoutMs: number): Promise<boolean> {
  const url = new URL(endpoint);
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || 443), timeout: timeoutMs });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { stack: { type: 'string', default: 'prod' }, 'timeout-ms': { type: 'string', default: '10000' } },
  });
  const cluster = clusterNameOf(values.stack);
  const endpoint = endpointOf(cluster);
  if (endpoint === undefined) {
    console.log(`eks-reachable: cluster ${cluster} does not exist yet: this run creates it (later runs need to reach its API)`);
    return 0;
  }
  if (await reachable(endpoint, Number(values['timeout-ms']))) {
    console.log(`eks-reachable: ${cluster} API server ${endpoint} answers from this runner`);
    return 0;
  }
  console.error(
    `eks-reachable: the ${cluster} API server (${endpoint}) is not reachable from this runner: run the job on a self-hosted runner in the VPC ` +
      `or a static-egress runner (repository variable PULUMI_PROD_RUNS_ON) and list that runner's egress CIDR in goticket:eks.publicAccessCidrs`,
  );
  return 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      console.error(`eks-reachable: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    },
  );
}
