/**
 * Prepares a copy of dist/<env> for the Kind end-to-end job (.github/workflows/e2e-kind.yml):
 * points every goticket container at the image loaded into Kind, leaves out objects whose
 * API the cluster does not serve (e.g. ServiceMonitor without prometheus-operator), and
 * splits the result into ordered files so `kubectl apply` finds namespaces first.
 *
 *   npx tsx scripts/kind-manifests.ts --in dist/dev --out "$RUNNER_TEMP/manifests" \
 *     --image goticket:e2e-<sha> [--api-resources <file of `kubectl api-resources --no-headers`>]
 *
 * Writes <out>/00-namespaces.yaml and <out>/10-resources.yaml, explains on stderr what it
 * changed, and prints `key=value` lines for $GITHUB_OUTPUT on stdout: namespace, host.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';

type Obj = Record<string, unknown>;

export interface PrepareResult {
  namespaces: Obj[];
  resources: Obj[];
  replacedImages: number;
  skipped: string[];
  hosts: string[];
}

const isObj = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);
const at = (value: unknown, ...path: string[]): unknown => path.reduce<unknown>((node, key) => (isObj(node) ? node[key] : undefined), value);

/** `kubectl api-resources --no-headers` → the set of "apiVersion/Kind" the cluster serves. */
export function servedKinds(apiResources: string): Set<string> {
  const served = new Set<string>();
  for (const line of apiResources.split('\n')) {
    const columns = line.trim().split(/\s+/);
    if (columns.length < 4) continue;
    const [apiVersion, , kind] = columns.slice(-3);
    served.add(`${apiVersion}/${kind}`);
  }
  return served;
}

/** True for the service's own image (any registry, tag or digest), not for postgres/redis/rabbitmq. */
export function isServiceImage(image: string): boolean {
  const repository = image.replace(/@sha256:[0-9a-f]{64}$/, '').replace(/:[^:/]+$/, '');
  return repository.split('/').at(-1) === 'goticket';
}

function podSpecOf(doc: Obj): Obj | undefined {
  const kind = doc.kind;
  const spec = kind === 'Pod' ? doc.spec : kind === 'CronJob' ? at(doc, 'spec', 'jobTemplate', 'spec', 'template', 'spec') : at(doc, 'spec', 'template', 'spec');
  return isObj(spec) ? spec : undefined;
}

export function prepare(documents: Obj[], image: string, served?: Set<string>): PrepareResult {
  const result: PrepareResult = { namespaces: [], resources: [], replacedImages: 0, skipped: [], hosts: [] };
  for (const doc of documents) {
    const id = `${String(doc.kind)}/${String(at(doc, 'metadata', 'name'))}`;
    if (served && !served.has(`${String(doc.apiVersion)}/${String(doc.kind)}`)) {
      result.skipped.push(`${id} (${String(doc.apiVersion)} not served)`);
      continue;
    }
    const spec = podSpecOf(doc);
    for (const list of ['initContainers', 'containers'] as const) {
      const containers = spec?.[list];
      if (!Array.isArray(containers)) continue;
      for (const container of containers.filter(isObj)) {
        if (typeof container.image === 'string' && isServiceImage(container.image)) {
          container.image = image;
          container.imagePullPolicy = 'IfNotPresent';
          result.replacedImages++;
        }
      }
    }
    if (doc.kind === 'Ingress') {
      const rules = at(doc, 'spec', 'rules');
      if (Array.isArray(rules)) for (const rule of rules) if (typeof at(rule, 'host') === 'string') result.hosts.push(at(rule, 'host') as string);
    }
    (doc.kind === 'Namespace' ? result.namespaces : result.resources).push(doc);
  }
  return result;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return yamlFiles(path);
      return /\.ya?ml$/.test(name) ? [path] : [];
    });
}

export function readManifests(dir: string): Obj[] {
  return yamlFiles(dir).flatMap((file) =>
    parseAllDocuments(readFileSync(file, 'utf8')).flatMap((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      const value: unknown = doc.toJS();
      return isObj(value) && typeof value.kind === 'string' ? [value] : [];
    }),
  );
}

function argument(args: string[], name: string): string | undefined {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
}

export function main(args: string[]): number {
  const input = argument(args, '--in');
  const out = argument(args, '--out');
  const image = argument(args, '--image');
  const apiResources = argument(args, '--api-resources');
  if (!input || !out || !image) {
    console.error('usage: kind-manifests --in dist/dev --out <dir> --image <ref> [--api-resources <file>]');
    return 2;
  }
  const result = prepare(readManifests(input), image, apiResources ? servedKinds(readFileSync(apiResources, 'utf8')) : undefined);
  if (result.replacedImages === 0) {
    console.error(`kind-manifests: no goticket container found in ${input}: nothing to test`);
    return 1;
  }
  mkdirSync(out, { recursive: true });
  const write = (file: string, docs: Obj[]) => writeFileSync(join(out, file), docs.map((doc) => stringify(doc)).join('---\n'));
  write('00-namespaces.yaml', result.namespaces);
  write('10-resources.yaml', result.resources);
  console.error(`kind-manifests: ${result.resources.length + result.namespaces.length} objects, ${result.replacedImages} containers now run ${image}`);
  for (const skipped of result.skipped) console.error(`kind-manifests: left out ${skipped}`);
  const namespace = at(result.namespaces[0], 'metadata', 'name');
  console.log(`namespace=${typeof namespace === 'string' ? namespace : 'goticket'}`);
  console.log(`host=${result.hosts[0] ?? ''}`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
