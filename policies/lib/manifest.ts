/**
 * A Kubernetes object as the rules see it, whether it came from a YAML file in dist/ or from a
 * Pulumi `kubernetes:*` resource, plus helpers to reach pod specs and containers.
 */
import { isRecord, record, records, str, stringRecord } from './values';
import type { Props } from './types';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: Props;
  spec?: unknown;
  [field: string]: unknown;
}

export function isManifest(v: unknown): v is Manifest {
  return isRecord(v) && typeof v.apiVersion === 'string' && typeof v.kind === 'string';
}

export function nameOf(m: Manifest): string {
  return str(m.metadata.name) ?? '-';
}

export function namespaceOf(m: Manifest): string | undefined {
  return str(m.metadata.namespace);
}

export function labelsOf(m: Manifest): Record<string, string> {
  return stringRecord(m.metadata.labels);
}

/** `Kind/namespace/name`; `-` stands for no namespace (cluster-scoped, or left to the deployer). */
export function refOf(m: Manifest): string {
  return `${m.kind}/${namespaceOf(m) ?? '-'}/${nameOf(m)}`;
}

/** Kinds whose pods run until stopped: they need probes. */
export const LONG_RUNNING_KINDS = new Set(['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController']);
export const WORKLOAD_KINDS = new Set([...LONG_RUNNING_KINDS, 'Job', 'CronJob']);

/** The pod spec of a workload, or undefined for objects that run no pods. */
export function podSpecOf(m: Manifest): Props | undefined {
  if (!WORKLOAD_KINDS.has(m.kind)) return undefined;
  const spec = record(m.spec);
  if (m.kind === 'Pod') return spec;
  if (m.kind === 'CronJob') return record(record(record(record(spec.jobTemplate).spec).template).spec);
  return record(record(spec.template).spec);
}

/** Labels of the pods a workload creates. */
export function podLabelsOf(m: Manifest): Record<string, string> {
  if (m.kind === 'Pod') return labelsOf(m);
  const template = m.kind === 'CronJob' ? record(record(record(m.spec).jobTemplate).spec).template : record(m.spec).template;
  return stringRecord(record(record(template).metadata).labels);
}

export interface ContainerRef {
  /** `container "api"`, `init container "wait"`, `ephemeral container "debug"`: used in messages. */
  label: string;
  init: boolean;
  ephemeral: boolean;
  spec: Props;
}

export function containersOf(pod: Props): ContainerRef[] {
  const take = (field: string, prefix: string, init: boolean, ephemeral: boolean): ContainerRef[] =>
    records(pod[field]).map((spec) => ({ label: `${prefix}container "${str(spec.name) ?? '?'}"`, init, ephemeral, spec }));
  return [
    ...take('initContainers', 'init ', true, false),
    ...take('containers', '', false, false),
    ...take('ephemeralContainers', 'ephemeral ', false, true),
  ];
}

/** Pulumi Kubernetes types that are not one object (components, lists, patches): no manifest rule applies. */
const NOT_AN_OBJECT = /^kubernetes:(helm\.sh|yaml|kustomize)\b|List$|Patch$/;

/**
 * Maps a Pulumi Kubernetes resource (`kubernetes:apps/v1:Deployment` + its inputs) to the manifest
 * shape. Returns undefined for other types. `name` fills in metadata.name when Pulumi auto-names.
 */
export function manifestFromResource(type: string, props: Props, name?: string): Manifest | undefined {
  const m = /^kubernetes:([^:]+):([^:]+)$/.exec(type);
  if (!m || NOT_AN_OBJECT.test(type)) return undefined;
  const groupVersion = m[1] ?? '';
  const kind = m[2] ?? '';
  const [group, version] = groupVersion.includes('/') ? groupVersion.split('/', 2) : ['', groupVersion];
  const apiVersion = group === 'core' || group === '' ? (version ?? '') : `${group}/${version ?? ''}`;
  const metadata = { ...record(props.metadata) };
  if (metadata.name === undefined && name !== undefined) metadata.name = name;
  return { ...props, apiVersion: str(props.apiVersion) ?? apiVersion, kind: str(props.kind) ?? kind, metadata };
}
