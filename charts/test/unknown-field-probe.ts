/**
 * Proves the unknown-field check reaches every object of the given manifests (CRDs included):
 * for each object node (not arrays, not scalars) it adds a key no schema has, with a string value,
 * validates, and records where the key went unreported. Those must be the schema's free-form maps
 * (labels, annotations, ConfigMap data, …); anything else is a hole in charts/validate.ts.
 *
 *   tsx charts/test/unknown-field-probe.ts <file|dir>...   prints {"mutations": n, "unreported": [...]}
 *
 * A child process for the same reason as validate.ts: the prometheus-operator models are ESM-only.
 */
import * as fs from 'node:fs';
import { readManifests, validateManifest, yamlFiles } from '../validate';

const PROBE = 'zzNoSuchField';

/** Paths of every object node (arrays are walked, not counted). */
function objectPaths(value: unknown, at: string[] = [], out: string[][] = []): string[][] {
  if (Array.isArray(value)) value.forEach((item, i) => objectPaths(item, [...at, String(i)], out));
  else if (value !== null && typeof value === 'object') {
    out.push(at);
    for (const [key, child] of Object.entries(value)) objectPaths(child, [...at, key], out);
  }
  return out;
}

async function main(args: string[]): Promise<void> {
  const files = args.flatMap((arg) => (fs.statSync(arg).isDirectory() ? yamlFiles(arg) : [arg]));
  const unreported = new Set<string>();
  let mutations = 0;
  for (const manifest of files.flatMap(readManifests)) {
    for (const at of objectPaths(manifest)) {
      const copy = structuredClone(manifest);
      let node = copy as Record<string, unknown>;
      for (const key of at) node = node[key] as Record<string, unknown>;
      node[PROBE] = 'x';
      mutations++;
      const problems = await validateManifest(copy, { strict: true });
      if (!problems.some((p) => p.includes(PROBE)))
        unreported.add(`${String(manifest.kind)} ${at.map((k) => (/^\d+$/.test(k) ? '[]' : k)).join('.')}`);
    }
  }
  process.stdout.write(`${JSON.stringify({ mutations, unreported: [...unreported].sort() })}\n`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error);
  process.exit(2);
});
