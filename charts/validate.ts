/**
 * Schema validation of synthesized objects with kubernetes-models (+ the CRD packages),
 * plus what those validators skip: unknown (typo'd) fields.
 *
 * Unknown fields: the generated validators read every property their schema declares
 * (`data.foo === undefined || check(data.foo)`) and enumerate the keys of maps. Running
 * them on a Proxy records which keys were read; a key the schema never read is unknown.
 * Objects the validator never touched are free-form in the schema (e.g. a CRD field
 * typed only `object`) and are skipped.
 *
 * Async because @kubernetes-models/prometheus-operator is ESM-only: it is loaded with a real
 * `import()`, which jest's module system cannot do, so tests run this file as a child
 * process (`tsx charts/validate.ts`, see the CLI at the bottom).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseAllDocuments } from 'yaml';

const NODE_MODULES = path.resolve(path.dirname(require.resolve('kubernetes-models/package.json')), '..');
/** Hidden from the TypeScript/esbuild CommonJS transform, which would turn it into require(). */
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- the one way to keep import() from becoming require() under the transform
const dynamicImport = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<Record<string, unknown>>;

/** API group → package carrying its schemas. Core groups come from kubernetes-models. */
const CRD_PACKAGES: Record<string, string> = {
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
  'cert-manager.io': '@kubernetes-models/cert-manager',
  'acme.cert-manager.io': '@kubernetes-models/cert-manager',
  'bitnami.com': '@kubernetes-models/sealed-secrets',
  'argoproj.io': '@kubernetes-models/argo-cd',
  'gateway.networking.k8s.io': '@kubernetes-models/gateway-api',
};

type Manifest = { apiVersion?: unknown; kind?: unknown; [key: string]: unknown };

/**
 * Fields the real CRDs accept that the installed model packages lack: the packages lag the
 * charts infra/ installs, or their generator dropped the field. Each gap is ignored only at that
 * path of that `apiVersion kind`; everything else unknown is still reported. charts/test checks
 * that each gap still exists (`--strict` reports them), so an entry goes once a package catches up.
 */
export const SCHEMA_GAPS: Record<string, { path: RegExp; why: string }[]> = {
  'cert-manager.io/v1 ClusterIssuer': [
    {
      path: /^spec\.acme\.solvers\[\d+\]\.http01\.ingress\.ingressClassName$/,
      why: 'cert-manager >= 1.12 (infra pins v1.18); @kubernetes-models/cert-manager 4.4 predates it',
    },
  ],
  'argoproj.io/v1alpha1 AppProject': [
    { path: /^spec\.description$/, why: '@kubernetes-models/argo-cd 2.7 drops every schema property named "description"' },
  ],
};

function isSchemaGap(apiVersion: string, kind: string, fieldPath: string): boolean {
  return (SCHEMA_GAPS[`${apiVersion} ${kind}`] ?? []).some((gap) => gap.path.test(fieldPath));
}
type ModelClass = { prototype: { validate(this: unknown): void } };

const modelCache = new Map<string, Promise<Record<string, ModelClass> | null>>();

function modelsFor(apiVersion: string): Promise<Record<string, ModelClass> | null> {
  if (!modelCache.has(apiVersion)) {
    const group = apiVersion.includes('/') ? apiVersion.split('/')[0]! : '';
    const pkg = CRD_PACKAGES[group] ?? 'kubernetes-models';
    // By file path: some packages export their versions only to `import`.
    const file = path.join(NODE_MODULES, pkg, apiVersion, 'index.js');
    const load = fs.existsSync(file)
      ? dynamicImport(pathToFileURL(file).href).then((ns) => ({ ...(ns.default as object), ...ns }) as Record<string, ModelClass>)
      : Promise.resolve(null);
    modelCache.set(apiVersion, load);
  }
  return modelCache.get(apiVersion)!;
}

type Access = Set<PropertyKey> | 'all';

/** Runs `validate` on a recording proxy of `data`; returns the paths of keys it never read. */
function unreadKeys(data: object, validate: (proxy: object) => void): string[] {
  const access = new WeakMap<object, Access>();
  const proxies = new WeakMap<object, object>();
  const mark = (target: object, key: PropertyKey) => {
    const seen = access.get(target);
    if (seen === 'all') return;
    if (seen) seen.add(key);
    else access.set(target, new Set([key]));
  };
  const wrap = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    let proxy = proxies.get(value);
    if (!proxy) {
      proxy = new Proxy(value, {
        get: (target, key, receiver) => {
          mark(target, key);
          return wrap(Reflect.get(target, key, receiver));
        },
        has: (target, key) => {
          mark(target, key);
          return Reflect.has(target, key);
        },
        getOwnPropertyDescriptor: (target, key) => {
          mark(target, key);
          return Reflect.getOwnPropertyDescriptor(target, key);
        },
        ownKeys: (target) => {
          access.set(target, 'all'); // a map (additionalProperties): every key is checked
          return Reflect.ownKeys(target);
        },
      });
      proxies.set(value, proxy);
    }
    return proxy;
  };

  validate(wrap(data) as object);

  const unknown: string[] = [];
  const walk = (value: unknown, at: string) => {
    if (value === null || typeof value !== 'object') return;
    if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, `${at}[${i}]`));
      return;
    }
    const seen = access.get(value);
    if (!seen) return; // free-form in the schema
    for (const [key, child] of Object.entries(value)) {
      if (seen !== 'all' && !seen.has(key)) unknown.push(`${at}.${key}`);
      else walk(child, `${at}.${key}`);
    }
  };
  walk(data, '');
  return unknown.map((p) => p.slice(1));
}

/**
 * Every problem with one manifest: no schema, schema violations, unknown fields. Empty = valid.
 * `strict` also reports the known SCHEMA_GAPS.
 */
export async function validateManifest(manifest: Manifest, { strict = false } = {}): Promise<string[]> {
  const { apiVersion, kind } = manifest;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return ['apiVersion and kind must be strings'];
  const Model = (await modelsFor(apiVersion))?.[kind];
  if (!Model || typeof Model.prototype?.validate !== 'function') return [`no schema known for ${apiVersion} ${kind}`];

  // An instance of the model class: older model bases find their schema through the prototype.
  const instance = Object.assign(Object.create(Model.prototype) as object, manifest);
  const problems: string[] = [];
  const unknown = unreadKeys(instance, (proxy) => {
    try {
      (proxy as ModelClass['prototype']).validate();
    } catch (error) {
      problems.push(String((error as Error).message ?? error));
    }
  });
  return [...problems, ...unknown.filter((p) => strict || !isSchemaGap(apiVersion, kind, p)).map((p) => `unknown field ${p}`)];
}

export function manifestId(manifest: Manifest): string {
  const metadata = (manifest.metadata ?? {}) as { name?: string };
  return `${String(manifest.kind)}/${metadata.name ?? '?'}`;
}

/** Every `*.yaml` below `dir`, recursively, in a stable order. */
export function yamlFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.yaml'))
    .sort()
    .map((file) => path.join(dir, file));
}

export function readManifests(file: string): Manifest[] {
  return parseAllDocuments(fs.readFileSync(file, 'utf8'))
    .map((doc) => doc.toJS() as Manifest)
    .filter(Boolean);
}

export interface Report {
  file?: string;
  id: string;
  problems: string[];
}

/**
 * CLI: `tsx charts/validate.ts [--strict] <file|dir>...` validates YAML manifests;
 * `tsx charts/validate.ts [--strict] -` reads a JSON array of manifests on stdin. Prints a JSON
 * array of reports; exit 1 if any problem. `--strict` also reports the SCHEMA_GAPS.
 */
async function main(argv: string[]): Promise<number> {
  const strict = argv[0] === '--strict';
  const args = strict ? argv.slice(1) : argv;
  const inputs: { file?: string; manifest: Manifest }[] =
    args[0] === '-'
      ? (JSON.parse(fs.readFileSync(0, 'utf8')) as Manifest[]).map((manifest) => ({ manifest }))
      : args
          .flatMap((arg) => (fs.statSync(arg).isDirectory() ? yamlFiles(arg) : [arg]))
          .flatMap((file) => readManifests(file).map((manifest) => ({ file, manifest })));
  const reports: Report[] = [];
  for (const { file, manifest } of inputs)
    reports.push({ ...(file ? { file } : {}), id: manifestId(manifest), problems: await validateManifest(manifest, { strict }) });
  process.stdout.write(`${JSON.stringify(reports, null, 1)}\n`);
  return reports.some((r) => r.problems.length) ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(2);
    },
  );
}
