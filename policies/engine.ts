/**
 * Runs the rules. Three entry points share the same rule functions:
 * - `checkManifests`: Kubernetes objects from YAML (the manifest CLI, dist/);
 * - `validateResources`: Pulumi resources as `{type, props, urn}` (e.g. what a mocked stack
 *   registered), every AWS, Kubernetes and cross-object rule;
 * - the CrossGuard pack (pack.ts), per resource and per stack.
 */
import { manifestFromResource, refOf, type Manifest } from './lib/manifest';
import {
  DEFAULT_SETTINGS,
  ENVIRONMENTS,
  type AwsRule,
  type Env,
  type PolicySettings,
  type Props,
  type RuleContext,
  type Violation,
} from './lib/types';
import { isRecord, record, stringRecord, unwrapSecrets } from './lib/values';
import { awsRules, manifestRules, manifestSetRules } from './rules';

export type { Violation, Env, PolicySettings } from './lib/types';

export function settingsWith(overrides: Partial<PolicySettings> | undefined): PolicySettings {
  const out: PolicySettings = { ...DEFAULT_SETTINGS };
  for (const [k, v] of Object.entries(overrides ?? {})) if (v !== undefined) (out as unknown as Props)[k] = v;
  return out;
}

const asEnv = (v: string | undefined): Env | undefined => ((ENVIRONMENTS as readonly string[]).includes(v ?? '') ? (v as Env) : undefined);

/** The stack name inside a URN: `urn:pulumi:<stack>::<project>::<type>::<name>`. */
export function stackOfUrn(urn: string | undefined): string | undefined {
  return /^urn:pulumi:([^:]+)::/.exec(urn ?? '')?.[1];
}

/**
 * The environment prod-only rules use, first match wins:
 * 1. the policy config `environment` (set by whoever runs the pack: authoritative);
 * 2. the stack name in the resource's URN when it is `dev` or `prod` (this project's stacks);
 * 3. the resource's `environment` tag (own or provider default tags);
 * 4. `prod`: unknown means strict.
 */
export function environmentFor(settings: PolicySettings, urn?: string, tags: Record<string, string> = {}): Env {
  return settings.environment ?? asEnv(stackOfUrn(urn)) ?? asEnv(tags.environment) ?? 'prod';
}

/** Provider inputs that are objects arrive JSON-encoded (the engine passes provider config as strings). */
function decoded(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return undefined;
  }
}

/** A resource's tags over its provider's `defaultTags.tags`. */
export function effectiveTags(props: Props, providerProps?: Props): Record<string, string> {
  return { ...stringRecord(record(decoded(providerProps?.defaultTags)).tags), ...stringRecord(props.tags) };
}

/** Messages of every AWS rule that applies to one resource. */
export function runAwsRules(
  type: string,
  props: Props,
  settings: PolicySettings,
  opts: { urn?: string; providerProps?: Props; rules?: readonly AwsRule[] } = {},
): { rule: AwsRule; message: string }[] {
  const tags = effectiveTags(props, opts.providerProps);
  const env = environmentFor(settings, opts.urn, tags);
  return (opts.rules ?? awsRules)
    .filter((rule) => rule.appliesTo(type, props))
    .flatMap((rule) => rule.check(props, { env, settings, type, tags }).map((message) => ({ rule, message })));
}

export interface ManifestViolation extends Violation {
  manifest: Manifest;
}

/**
 * Every Kubernetes rule over a set of objects deployed together. `gitOps` adds the rules that
 * only make sense for committed manifests (no plain Secrets).
 */
export function checkManifests(manifests: readonly Manifest[], ctx: RuleContext, opts: { gitOps: boolean }): ManifestViolation[] {
  const out: ManifestViolation[] = [];
  const push = (manifest: Manifest, rule: { name: string; level: Violation['level'] }, message: string) =>
    out.push({ rule: rule.name, level: rule.level, message, subject: refOf(manifest), manifest });
  for (const m of manifests) {
    for (const rule of manifestRules) {
      if (rule.gitOpsOnly && !opts.gitOps) continue;
      for (const message of rule.check(m, ctx)) push(m, rule, message);
    }
  }
  for (const rule of manifestSetRules) for (const f of rule.check(manifests, ctx)) push(f.manifest, rule, f.message);
  return out;
}

export interface ResourceInput {
  type: string;
  props: Record<string, unknown>;
  urn?: string;
  name?: string;
  /** The provider: its reference (`<urn>::<id>`, as mocks receive it) or its props. */
  provider?: string | { props: Record<string, unknown> };
}

function providerPropsOf(r: ResourceInput, all: readonly ResourceInput[]): Props | undefined {
  if (r.provider === undefined) return undefined;
  if (typeof r.provider !== 'string') return r.provider.props;
  const ref = r.provider;
  // A reference is `<provider urn>::<id>`; the URN ends in `::pulumi:providers:<pkg>::<name>`.
  // (The type segment may carry the parent chain: `pulumi:pulumi:Stack$pulumi:providers:aws`.)
  const [, type, name] = /(?:::|\$)(pulumi:providers:[^:$]+)::([^:]+)::[^:]*$/.exec(ref) ?? [];
  const p = all.find(
    (x) =>
      x.type.startsWith('pulumi:providers:') &&
      (x.urn !== undefined ? ref === x.urn || ref.startsWith(`${x.urn}::`) : x.type === type && x.name === name),
  );
  return p && isRecord(p.props) ? (unwrapSecrets(p.props) as Props) : undefined;
}

const nameOfUrn = (urn: string | undefined): string | undefined => (urn ? urn.split('::').pop() : undefined);

/**
 * Runs every rule (AWS per resource, Kubernetes per object, cross-object over the stack's
 * Kubernetes objects) over a stack's resources and returns the violations. `env` is the
 * stack's environment; it wins over URNs and tags, as the policy config does in the pack.
 */
export function validateResources(resources: readonly ResourceInput[], env: Env, settings?: Partial<PolicySettings>): Violation[] {
  const s = settingsWith({ ...settings, environment: env });
  const out: Violation[] = [];
  const manifests: Manifest[] = [];
  const sourceOf = new Map<Manifest, string | undefined>();
  for (const r of resources) {
    const props = unwrapSecrets(r.props) as Props;
    const subject = r.urn ?? `${r.type}::${r.name ?? '?'}`;
    for (const { rule, message } of runAwsRules(r.type, props, s, { urn: r.urn, providerProps: providerPropsOf(r, resources) })) {
      out.push({ rule: rule.name, level: rule.level, message, subject, source: r.urn });
    }
    const m = manifestFromResource(r.type, props, r.name ?? nameOfUrn(r.urn));
    if (m) {
      manifests.push(m);
      sourceOf.set(m, r.urn);
    }
  }
  for (const v of checkManifests(manifests, { env, settings: s }, { gitOps: false })) {
    const { manifest, ...rest } = v;
    out.push({ ...rest, source: sourceOf.get(manifest) });
  }
  return out;
}
