/**
 * The CrossGuard side: the policies built from the rules (called with fake args, no policy
 * server), the environment resolution, validateResources over Pulumi Kubernetes resources, and
 * the README staying in sync with the rule list.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from '@pulumi/policy';
import { environmentFor, settingsWith, stackOfUrn, validateResources, type ResourceInput } from '../engine';
import { manifestFromResource } from '../lib/manifest';
import { buildPolicies } from '../pack';
import { allRules, manifestRules } from '../rules';
import { compliantAwsResources, compliantSet, deployment, TAGS } from './fixtures/compliant';

const urn = (type: string, name: string, stack = 'prod') => `urn:pulumi:${stack}::goticket::${type}::${name}`;

function resourceArgs(
  type: string,
  name: string,
  props: Record<string, unknown>,
  opts: { stack?: string; config?: object; providerProps?: object } = {},
) {
  return {
    type,
    name,
    props,
    urn: urn(type, name, opts.stack),
    provider: opts.providerProps
      ? { type: 'pulumi:providers:aws', name: 'aws', urn: urn('pulumi:providers:aws', 'aws'), props: opts.providerProps }
      : undefined,
    getConfig: () => opts.config ?? {},
  } as unknown as ResourceValidationArgs;
}

const policies = buildPolicies();
const policy = (name: string) => {
  const p = policies.find((x) => x.name === name);
  if (!p) throw new Error(`no policy ${name}`);
  return p;
};

async function validate(name: string, args: ResourceValidationArgs): Promise<string[]> {
  const messages: string[] = [];
  const v = (policy(name) as ResourceValidationPolicy).validateResource;
  for (const fn of Array.isArray(v) ? v : v ? [v] : []) await fn(args, (m) => messages.push(m));
  return messages;
}

describe('the CrossGuard policies', () => {
  test('one policy per rule with its stable name, level and remediation; the GitOps-only rule stays out of the pack', () => {
    expect(policies.map((p) => p.name)).toEqual(allRules.filter((r) => !(r.kind === 'manifest' && r.gitOpsOnly)).map((r) => r.name));
    expect(new Set(policies.map((p) => p.name)).size).toBe(policies.length);
    for (const p of policies) {
      const rule = allRules.find((r) => r.name === p.name)!;
      expect(p.enforcementLevel).toBe(rule.level);
      expect(p.remediationSteps).toBe(rule.remediation);
      expect(p.configSchema?.properties.environment).toBeDefined();
    }
  });

  test('an AWS policy reports on its type only, reads the policy config and the provider default tags', async () => {
    const db = { ...compliantAwsResources()[0]!.props, deletionProtection: false, tags: undefined };
    const withTags = { providerProps: { defaultTags: { tags: TAGS } } };
    expect(await validate('rds-prod-deletion-protection', resourceArgs('aws:rds/instance:Instance', 'db', db, withTags))).toEqual([
      'deletion protection is off in prod (deletionProtection must be true)',
    ]);
    // The dev stack (from the URN) and an explicit config both turn the prod-only rule off.
    expect(
      await validate('rds-prod-deletion-protection', resourceArgs('aws:rds/instance:Instance', 'db', db, { ...withTags, stack: 'dev' })),
    ).toEqual([]);
    expect(
      await validate(
        'rds-prod-deletion-protection',
        resourceArgs('aws:rds/instance:Instance', 'db', db, { ...withTags, stack: 'x', config: { environment: 'dev' } }),
      ),
    ).toEqual([]);
    expect(await validate('rds-prod-deletion-protection', resourceArgs('aws:kms/key:Key', 'k', {}))).toEqual([]);
    expect(await validate('aws-required-tags', resourceArgs('aws:rds/instance:Instance', 'db', db, withTags))).toEqual([]);
    expect(await validate('aws-required-tags', resourceArgs('aws:rds/instance:Instance', 'db', db))).toEqual([
      'missing tags: project, environment, managed-by',
    ]);
  });

  test('a Kubernetes policy checks Pulumi-managed objects mapped from their resource type', async () => {
    const d = deployment('api', { replicas: 2 });
    const bad = structuredClone(d) as { spec: { template: { spec: { hostNetwork?: boolean } } } };
    bad.spec.template.spec.hostNetwork = true;
    const props = { metadata: d.metadata, spec: bad.spec };
    expect(await validate('k8s-no-host-namespaces', resourceArgs('kubernetes:apps/v1:Deployment', 'api', props))).toEqual([
      'pod sets hostNetwork: true',
    ]);
    expect(
      await validate(
        'k8s-no-host-namespaces',
        resourceArgs('kubernetes:apps/v1:Deployment', 'api', { metadata: d.metadata, spec: d.spec }),
      ),
    ).toEqual([]);
    expect(await validate('k8s-namespace-pod-security', resourceArgs('kubernetes:core/v1:Namespace', 'goticket', {}))).toEqual([
      'Namespace has no pod-security.kubernetes.io/enforce label',
    ]);
    expect(
      await validate('k8s-namespace-pod-security', resourceArgs('kubernetes:helm.sh/v3:Release', 'argocd', { chart: 'argo-cd' })),
    ).toEqual([]);
  });

  test("a stack policy runs the cross-object rules over the stack's Kubernetes resources and names the URN", async () => {
    const set = compliantSet().filter((m) => m.kind !== 'PodDisruptionBudget' || m.metadata.name !== 'worker');
    const resources = set.map((m) => {
      const type = `kubernetes:${m.apiVersion.includes('/') ? m.apiVersion : `core/${m.apiVersion}`}:${m.kind}`;
      return { type, name: String(m.metadata.name), urn: urn(type, String(m.metadata.name)), props: m };
    });
    const reports: [string, string | undefined][] = [];
    const args = { resources, getConfig: () => ({}) } as unknown as StackValidationArgs;
    for (const name of ['k8s-namespace-default-deny', 'k8s-prod-replicas', 'k8s-prod-pod-disruption-budget']) {
      await (policy(name) as StackValidationPolicy).validateStack(args, (m, u) => reports.push([m, u]));
    }
    expect(reports).toEqual([["no PodDisruptionBudget selects this Deployment's pods", urn('kubernetes:apps/v1:Deployment', 'worker')]]);
  });
});

describe('environment resolution', () => {
  test('policy config, then the stack name in the URN, then the environment tag, then prod', () => {
    const s = settingsWith({});
    expect(environmentFor(settingsWith({ environment: 'dev' }), urn('t', 'n', 'prod'), { environment: 'prod' })).toBe('dev');
    expect(environmentFor(s, urn('t', 'n', 'dev'), { environment: 'prod' })).toBe('dev');
    expect(environmentFor(s, urn('t', 'n', 'staging'), { environment: 'dev' })).toBe('dev');
    expect(environmentFor(s, urn('t', 'n', 'staging'), {})).toBe('prod');
    expect(environmentFor(s)).toBe('prod');
    expect(stackOfUrn('urn:pulumi:prod::goticket::aws:kms/key:Key::k')).toBe('prod');
  });
});

describe('validateResources', () => {
  test('maps kubernetes:* resources to manifests (core group, auto-names, CRDs) and skips components', () => {
    expect(manifestFromResource('kubernetes:core/v1:Service', {}, 'api')).toEqual({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'api' },
    });
    expect(manifestFromResource('kubernetes:argoproj.io/v1alpha1:Application', { metadata: { name: 'goticket' } })?.apiVersion).toBe(
      'argoproj.io/v1alpha1',
    );
    expect(manifestFromResource('kubernetes:yaml/v2:ConfigGroup', {})).toBeUndefined();
    expect(manifestFromResource('kubernetes:helm.sh/v4:Chart', {})).toBeUndefined();
    expect(manifestFromResource('kubernetes:apps/v1:DeploymentPatch', {})).toBeUndefined();
    expect(manifestFromResource('aws:kms/key:Key', {})).toBeUndefined();
  });

  test("runs resource and stack rules over a mocked stack's resources", () => {
    const ns: ResourceInput = {
      type: 'kubernetes:core/v1:Namespace',
      urn: urn('kubernetes:core/v1:Namespace', 'goticket'),
      props: { metadata: { name: 'goticket' } },
    };
    const secret: ResourceInput = {
      type: 'kubernetes:core/v1:Secret',
      urn: urn('kubernetes:core/v1:Secret', 'runtime'),
      props: { metadata: { name: 'goticket-runtime', namespace: 'goticket' }, stringData: { JWT_SECRET: 'x' } },
    };
    const api: ResourceInput = {
      type: 'kubernetes:apps/v1:Deployment',
      urn: urn('kubernetes:apps/v1:Deployment', 'api'),
      props: { ...deployment('api', { replicas: 1 }) },
    };
    const out = validateResources([...compliantAwsResources(), ns, secret, api], 'prod').map((v) => `${v.rule} @ ${v.subject}`);
    expect(out).toEqual([
      'k8s-namespace-pod-security @ Namespace/-/goticket',
      'k8s-namespace-default-deny @ Namespace/-/goticket',
      'k8s-prod-replicas @ Deployment/goticket/api',
      'k8s-prod-pod-disruption-budget @ Deployment/goticket/api',
    ]);
    expect(validateResources([ns], 'dev')[0]).toMatchObject({
      level: 'mandatory',
      source: urn('kubernetes:core/v1:Namespace', 'goticket'),
    });
  });
});

describe('rule metadata and README', () => {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');

  test.each(allRules.map((r) => [r.name, r] as const))('%s is documented and described', (name, rule) => {
    expect(name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)+$/);
    for (const field of [rule.description, rule.remediation, rule.rationale, rule.benchmark]) expect(field.length).toBeGreaterThan(10);
    // The whole row: level, description, remediation, rationale and benchmark as the rule has them.
    expect(readme).toContain(
      `| \`${name}\` | ${rule.level} | ${rule.description} | ${rule.remediation} | ${rule.rationale} | ${rule.benchmark} |\n`,
    );
  });

  test("the manifest rules cover the issue's Kubernetes list", () => {
    expect(manifestRules.length).toBeGreaterThanOrEqual(13);
  });
});
