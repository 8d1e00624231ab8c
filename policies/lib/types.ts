/**
 * The vocabulary every rule shares. Rules are plain data + pure functions: no Pulumi runtime,
 * no PolicyPack (constructing one starts a gRPC server), so tests, the manifest CLI and the
 * CrossGuard pack all import the same functions.
 */
import { EDGE, ENV_NAMES, type EnvName, PLATFORM_POD_SECURITY, type PssLevel } from '../../platform/contract';
import type { Manifest } from './manifest';

export type Level = 'mandatory' | 'advisory';
export type Env = EnvName;
export const ENVIRONMENTS: readonly Env[] = ENV_NAMES;

export type { PssLevel };
export type PssException = PssLevel | Partial<Record<Env, PssLevel>>;

/** Settings an operator may change (CrossGuard policy config, or the CLI's defaults). */
export interface PolicySettings {
  /** The stack's environment. When unset, a resource's `environment` tag decides, else `prod`. */
  environment?: Env;
  /** CIDRs the EKS public endpoint may be opened to. Empty = any CIDR except the whole internet. */
  eksPublicAccessCidrs: string[];
  /** Namespaces where Services of type LoadBalancer/NodePort are allowed (the gateway's data plane). */
  publicServiceNamespaces: string[];
  /** The cluster's one shared Gateway: every route attaches to it. */
  sharedGateway: { name: string; namespace: string };
  /** Its HTTPS listeners (sectionNames a public route may name). */
  tlsListeners: string[];
  /**
   * Namespaces allowed a Pod Security Standards level weaker than `restricted`: the weakest level
   * allowed, for every environment or per environment.
   */
  podSecurityExceptions: Record<string, PssException>;
  /** Tags every taggable AWS resource carries. */
  requiredTags: string[];
}

export const DEFAULT_SETTINGS: PolicySettings = {
  eksPublicAccessCidrs: [],
  publicServiceNamespaces: [EDGE.namespace],
  sharedGateway: { ...EDGE.gateway },
  tlsListeners: Object.values(EDGE.listeners).filter((listener) => listener !== EDGE.listeners.http),
  // The platform add-ons Pulumi installs from upstream charts, at the levels Pulumi labels them with.
  podSecurityExceptions: Object.fromEntries(Object.entries(PLATFORM_POD_SECURITY).filter(([, level]) => level !== 'restricted')),
  requiredTags: ['project', 'environment', 'managed-by'],
};

export interface RuleInfo {
  /** Stable identifier: the CrossGuard policy name and what the CLI prints. Never rename. */
  name: string;
  level: Level;
  description: string;
  remediation: string;
  rationale: string;
  /** Where the rule comes from, e.g. "AWS FSBP RDS.3", "PSS restricted", "CIS EKS 5.4.1". */
  benchmark: string;
}

export interface RuleContext {
  env: Env;
  settings: PolicySettings;
}

export interface AwsContext extends RuleContext {
  type: string;
  /** The resource's tags merged over its provider's defaultTags. */
  tags: Record<string, string>;
}

/** A rule over one AWS (or @pulumi/eks) resource's input properties. */
export interface AwsRule extends RuleInfo {
  kind: 'aws';
  appliesTo(type: string, props: Props): boolean;
  check(props: Props, ctx: AwsContext): string[];
}

/** A rule over one Kubernetes object. */
export interface ManifestRule extends RuleInfo {
  kind: 'manifest';
  /** Only for manifests synced by GitOps (dist/), not for objects Pulumi manages. */
  gitOpsOnly?: boolean;
  check(manifest: Manifest, ctx: RuleContext): string[];
}

/** A rule over a set of Kubernetes objects deployed together (cross-object checks). */
export interface ManifestSetRule extends RuleInfo {
  kind: 'manifest-set';
  check(manifests: readonly Manifest[], ctx: RuleContext): Finding[];
}

export type Rule = AwsRule | ManifestRule | ManifestSetRule;

export interface Finding {
  manifest: Manifest;
  message: string;
}

export type Props = Record<string, unknown>;

export interface Violation {
  rule: string;
  level: Level;
  message: string;
  /** `Kind/namespace/name` for Kubernetes objects, the URN (or type::name) for other resources. */
  subject: string;
  /** Where it came from: a file path for manifests, a URN for Pulumi resources. */
  source?: string;
}
