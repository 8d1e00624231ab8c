/** Shared by the chart tests: synth in memory, selectors, invariants, the validator child process. */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { type Environment } from '../environments';
import { type ChartContext, synthObjects } from '../main';

export const ROOT = path.resolve(__dirname, '..', '..');
export const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Obj = Record<string, any>;

export const synth = (env: Environment, sealedSecrets: ChartContext['sealedSecrets'] = []): Obj[] => synthObjects({ env, sealedSecrets });

export const id = (o: Obj): string => `${o.kind}/${o.metadata?.name}`;
export const ofKind = (objects: Obj[], kind: string): Obj[] => objects.filter((o) => o.kind === kind);
export const byId = (objects: Obj[], key: string): Obj => {
  const found = objects.find((o) => id(o) === key);
  if (!found) throw new Error(`no ${key} in ${objects.map(id).join(', ')}`);
  return found;
};

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'Job', 'DaemonSet', 'CronJob'];
export const workloads = (objects: Obj[]): Obj[] => objects.filter((o) => WORKLOAD_KINDS.includes(o.kind));
export const podSpecOf = (workload: Obj): Obj => workload.spec.template.spec;

/** Kubernetes label-selector semantics (matchLabels + In/NotIn/Exists/DoesNotExist). */
export function matches(selector: Obj | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpressions = ((selector.matchExpressions ?? []) as Obj[]).every((e) => {
    const value = labels[e.key];
    switch (e.operator) {
      case 'In':
        return value !== undefined && e.values.includes(value);
      case 'NotIn':
        return value === undefined || !e.values.includes(value);
      case 'Exists':
        return value !== undefined;
      case 'DoesNotExist':
        return value === undefined;
      default:
        throw new Error(`operator ${e.operator}`);
    }
  });
  return byLabels && byExpressions;
}

/** Leaf path → JSON value, for diffing objects. */
export function flatten(value: unknown, at = '', out: Record<string, string> = {}): Record<string, string> {
  if (value !== null && typeof value === 'object' && Object.keys(value).length) {
    for (const [k, v] of Object.entries(value)) flatten(v, Array.isArray(value) ? `${at}[${k}]` : `${at}.${k}`, out);
  } else out[at] = JSON.stringify(value);
  return out;
}

/** Every path where two object sets differ, as `Kind/name:path` (or `Kind/name` when only one side has it). */
export function differences(a: Obj[], b: Obj[]): string[] {
  const index = (objs: Obj[]) => new Map(objs.map((o) => [id(o), flatten(o)]));
  const [left, right] = [index(a), index(b)];
  const out: string[] = [];
  for (const key of new Set([...left.keys(), ...right.keys()])) {
    const [l, r] = [left.get(key), right.get(key)];
    if (!l || !r) {
      out.push(key);
      continue;
    }
    for (const p of new Set([...Object.keys(l), ...Object.keys(r)])) if (l[p] !== r[p]) out.push(`${key}:${p.slice(1)}`);
  }
  return out.sort();
}

export interface Report {
  file?: string;
  id: string;
  problems: string[];
}

/** Runs charts/validate.ts in its own process (jest cannot load the ESM-only CRD package). */
export function validateInChild(args: string[], input?: unknown): Report[] {
  const result = spawnSync(TSX, ['charts/validate.ts', ...args], {
    cwd: ROOT,
    input: input === undefined ? undefined : JSON.stringify(input),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0 && result.status !== 1) throw new Error(`validator crashed (${result.status}): ${result.stderr}`);
  return JSON.parse(result.stdout) as Report[];
}
