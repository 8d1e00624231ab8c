/**
 * The CrossGuard policies, built from the same rules the tests and the manifest CLI use.
 * Only index.ts turns them into a PolicyPack (constructing one starts the policy gRPC server,
 * which would keep jest alive), so this module is safe to import anywhere.
 */
import type { Policies, PolicyConfigSchema, ReportViolation, ResourceValidationPolicy, StackValidationPolicy } from '@pulumi/policy';
import { environmentFor, runAwsRules, settingsWith } from './engine';
import { manifestFromResource, type Manifest } from './lib/manifest';
import type { AwsRule, ManifestRule, ManifestSetRule, PolicySettings, RuleInfo } from './lib/types';
import { awsRules, manifestRules, manifestSetRules } from './rules';

export const PACK_NAME = 'goticket-platform';

/** Every policy accepts the same settings (CrossGuard config is per policy). */
export const configSchema: PolicyConfigSchema = {
  properties: {
    environment: {
      type: 'string',
      enum: ['dev', 'prod'],
      description: 'The stack environment; unset = the stack name in the URN (dev/prod), else the environment tag, else prod.',
    },
    eksPublicAccessCidrs: { type: 'array', items: { type: 'string' }, description: 'CIDRs the EKS public endpoint may be open to.' },
    publicServiceNamespaces: {
      type: 'array',
      items: { type: 'string' },
      description: 'Namespaces allowed Services of type LoadBalancer/NodePort.',
    },
    sharedGateway: {
      type: 'object',
      properties: { name: { type: 'string' }, namespace: { type: 'string' } },
      required: ['name', 'namespace'],
      description: 'The one Gateway every route attaches to.',
    },
    tlsListeners: {
      type: 'array',
      items: { type: 'string' },
      description: "The shared Gateway's HTTPS listeners (sectionNames public routes may name).",
    },
    podSecurityExceptions: {
      type: 'object',
      // A level, or {dev, prod} levels (the schema type has no oneOf: the rule validates the values).
      additionalProperties: { type: ['string', 'object'] },
      description: 'Namespace → weakest Pod Security Standards level it may enforce (or {dev, prod}); replaces the defaults.',
    },
    requiredTags: { type: 'array', items: { type: 'string' }, description: 'Tags every taggable AWS resource carries.' },
  },
};

type ConfigSource = { getConfig<T extends object>(): T };
const settingsOf = (args: ConfigSource): PolicySettings => settingsWith(args.getConfig<Partial<PolicySettings>>());

function meta(rule: RuleInfo) {
  return {
    name: rule.name,
    description: rule.description,
    enforcementLevel: rule.level,
    remediationSteps: rule.remediation,
    configSchema,
  };
}

export function awsPolicy(rule: AwsRule): ResourceValidationPolicy {
  return {
    ...meta(rule),
    validateResource: (args, report) => {
      const results = runAwsRules(args.type, args.props, settingsOf(args), {
        urn: args.urn,
        providerProps: args.provider?.props,
        rules: [rule],
      });
      for (const { message } of results) report(message);
    },
  };
}

export function kubernetesPolicy(rule: ManifestRule): ResourceValidationPolicy {
  return {
    ...meta(rule),
    validateResource: (args, report) => {
      const manifest = manifestFromResource(args.type, args.props, args.name);
      if (!manifest) return;
      const settings = settingsOf(args);
      for (const message of rule.check(manifest, { env: environmentFor(settings, args.urn), settings })) report(message);
    },
  };
}

export function kubernetesStackPolicy(rule: ManifestSetRule): StackValidationPolicy {
  return {
    ...meta(rule),
    validateStack: (args, report: ReportViolation) => {
      const urnOf = new Map<Manifest, string>();
      for (const r of args.resources) {
        const m = manifestFromResource(r.type, r.props, r.name);
        if (m) urnOf.set(m, r.urn);
      }
      const settings = settingsOf(args);
      const env = environmentFor(settings, args.resources[0]?.urn);
      for (const f of rule.check([...urnOf.keys()], { env, settings })) report(f.message, urnOf.get(f.manifest));
    },
  };
}

/** Every policy of the pack. GitOps-only rules (no plain Secrets) are left out: Pulumi creates the runtime Secret by design. */
export function buildPolicies(): Policies {
  return [
    ...awsRules.map(awsPolicy),
    ...manifestRules.filter((r) => !r.gitOpsOnly).map(kubernetesPolicy),
    ...manifestSetRules.map(kubernetesStackPolicy),
  ];
}
