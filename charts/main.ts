/**
 * Synth entry (`npm run synth`): one cdk8s App per environment into dist/<env>/ (one file
 * per resource), then a Helm chart of each environment into dist/helm/<env>/ through the
 * cdk8s CLI (`--format helm`). Deterministic: a re-run is byte-identical (scripts/drift.sh).
 *
 *   tsx charts/main.ts [--outdir <dir>]     default dist/
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { App, type Chart, YamlOutputType } from 'cdk8s';
import { type Construct } from 'constructs';
import { NAMESPACE } from '../platform/contract';
import { DependenciesChart } from './dependencies';
import { ENVIRONMENTS, type Environment, validateEnvironment } from './environments';
import { GoTicketChart } from './goticket';
import { finishHelmChart } from './helm';
import { NetworkPoliciesChart } from './network-policies';
import { ObservabilityChart } from './observability/chart';
import { SealedSecretsChart } from './secrets/chart';
import { type SealedSecret, loadSealedSecrets } from './secrets/sealing';

const ROOT = path.resolve(__dirname, '..');
const SECRETS_DIR = path.join(__dirname, 'secrets');

export interface ChartContext {
  env: Environment;
  sealedSecrets: readonly SealedSecret[];
}

/** The charts of every environment, in order. Adding one is one line; return undefined to skip. */
export const CHARTS: ReadonlyArray<(app: Construct, ctx: ChartContext) => Chart | undefined> = [
  (app, { env, sealedSecrets }) => new GoTicketChart(app, 'goticket', { env, sealedSecrets: sealedSecrets.map((s) => s.metadata.name) }),
  (app, { env }) => new NetworkPoliciesChart(app, 'network-policies', { env }),
  (app, { env }) => (env.backends.kind === 'in-cluster' ? new DependenciesChart(app, 'dependencies', { env }) : undefined),
  (app, { sealedSecrets }) => new SealedSecretsChart(app, 'sealed-secrets', { secrets: sealedSecrets }),
  (app, { env }) => new ObservabilityChart(app, 'observability', { env }),
];

export function contextFor(env: Environment, secretsDir = SECRETS_DIR): ChartContext {
  return { env: validateEnvironment(env), sealedSecrets: loadSealedSecrets(path.join(secretsDir, env.name), NAMESPACE) };
}

export function buildApp(ctx: ChartContext, outdir?: string): App {
  const app = new App({ outdir, yamlOutputType: YamlOutputType.FILE_PER_RESOURCE });
  for (const chart of CHARTS) chart(app, ctx);
  return app;
}

/** All objects of one environment as plain JSON, in synth order (tests use this). */
export function synthObjects(ctx: ChartContext): Record<string, unknown>[] {
  return buildApp(ctx).charts.flatMap((chart) => chart.toJson() as Record<string, unknown>[]);
}

function synthPlain(ctx: ChartContext, outdir: string): void {
  fs.rmSync(outdir, { recursive: true, force: true });
  const objects = synthObjects(ctx);
  buildApp(ctx, outdir).synth();
  // FILE_PER_RESOURCE names files Kind.name: two objects sharing both would overwrite each other.
  const files = fs.readdirSync(outdir).length;
  if (files !== objects.length) throw new Error(`${ctx.env.name}: ${objects.length} objects but ${files} files (duplicate kind/name?)`);
}

const run = promisify(execFile);

/**
 * The cdk8s CLI builds the Helm chart (scaffolding + templates/) around an "app" command.
 * That command copies the plain synth of the same App instead of synthesizing it a second
 * time: same objects, and two fewer Node processes loading cdk8s (drift stays fast).
 * Paths are relative to ROOT and unquoted: the CLI strips quotes before its shell sees them.
 */
async function synthHelm(env: Environment, plainDir: string, outdir: string, chartVersion: string): Promise<void> {
  const appCommand = `mkdir -p $CDK8S_OUTDIR && cp ${path.relative(ROOT, plainDir)}/*.k8s.yaml $CDK8S_OUTDIR/`;
  const args = [
    'synth',
    '--app',
    appCommand,
    '--output',
    path.relative(ROOT, outdir),
    '--format',
    'helm',
    '--chart-version',
    chartVersion,
    '--no-check-upgrade',
    '--no-validate',
  ];
  try {
    await run(path.join(ROOT, 'node_modules', '.bin', 'cdk8s'), args, { cwd: ROOT });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`cdk8s synth --format helm failed for ${env.name}:\n${stdout ?? ''}${stderr ?? ''}`, { cause: error });
  }
  finishHelmChart(outdir, env, chartVersion);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { outdir: { type: 'string', default: path.join(ROOT, 'dist') } } });
  const outdir = path.resolve(values.outdir);
  const chartVersion = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  for (const env of ENVIRONMENTS) synthPlain(contextFor(env), path.join(outdir, env.name));
  fs.rmSync(path.join(outdir, 'helm'), { recursive: true, force: true });
  await Promise.all(
    ENVIRONMENTS.map((env) => synthHelm(env, path.join(outdir, env.name), path.join(outdir, 'helm', env.name), chartVersion)),
  );
  console.log(`synthesized ${ENVIRONMENTS.map((e) => e.name).join(', ')} into ${path.relative(process.cwd(), outdir) || '.'}/`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
