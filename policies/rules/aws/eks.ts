/**
 * Amazon EKS, for the plain `aws.eks.Cluster` and for the `@pulumi/eks` component
 * (`eks:index:Cluster`, whose inputs are all a policy sees of it).
 */
import type { AwsRule, Props } from '../../lib/types';
import { bool, present, record, str, strings } from '../../lib/values';
import { ofType, unless } from './helpers';

const AWS_CLUSTER = 'aws:eks/cluster:Cluster';
const EKS_COMPONENT = 'eks:index:Cluster';
const appliesTo = ofType(AWS_CLUSTER, EKS_COMPONENT);

/** The settings these rules read, from either input shape. */
interface EksSettings {
  publicAccess: boolean;
  publicAccessCidrs: string[] | undefined;
  logTypes: string[];
  /** undefined = no encryption config at all. */
  encryptedResources: string[] | undefined;
  keyArn: boolean;
}

function eksSettings(type: string, p: Props): EksSettings {
  if (type === EKS_COMPONENT) {
    return {
      publicAccess: bool(p.endpointPublicAccess) !== false,
      publicAccessCidrs: Array.isArray(p.publicAccessCidrs) ? strings(p.publicAccessCidrs) : undefined,
      logTypes: strings(p.enabledClusterLogTypes),
      encryptedResources: present(p.encryptionConfigKeyArn) ? ['secrets'] : undefined,
      keyArn: present(p.encryptionConfigKeyArn),
    };
  }
  const vpc = record(p.vpcConfig);
  const enc = p.encryptionConfig === undefined ? undefined : record(p.encryptionConfig);
  return {
    publicAccess: bool(vpc.endpointPublicAccess) !== false,
    publicAccessCidrs: Array.isArray(vpc.publicAccessCidrs) ? strings(vpc.publicAccessCidrs) : undefined,
    logTypes: strings(p.enabledClusterLogTypes),
    encryptedResources: enc && strings(enc.resources),
    keyArn: present(str(record(enc?.provider).keyArn)),
  };
}

const WORLD = ['0.0.0.0/0', '::/0'];

export const eksEndpointRestricted: AwsRule = {
  kind: 'aws',
  name: 'eks-endpoint-restricted',
  level: 'mandatory',
  description: 'The EKS API endpoint is private, or public only to the configured CIDRs (never 0.0.0.0/0).',
  remediation:
    "Set publicAccessCidrs to the operators' CIDRs (stack config), or endpointPublicAccess: false with endpointPrivateAccess: true.",
  rationale: 'An internet-wide Kubernetes API invites credential stuffing and exposes every API server CVE.',
  benchmark: 'CIS EKS 5.4.1 / 5.4.2; AWS FSBP EKS.1',
  appliesTo,
  check: (p, ctx) => {
    const s = eksSettings(ctx.type, p);
    if (!s.publicAccess) return [];
    const cidrs = s.publicAccessCidrs;
    if (cidrs === undefined || cidrs.length === 0) return ['public endpoint with no publicAccessCidrs (defaults to 0.0.0.0/0)'];
    const open = cidrs.filter((c) => WORLD.includes(c));
    if (open.length > 0) return [`public endpoint open to ${open.join(', ')}`];
    const allowed = ctx.settings.eksPublicAccessCidrs;
    const extra = allowed.length > 0 ? cidrs.filter((c) => !allowed.includes(c)) : [];
    return unless(extra.length === 0, `public endpoint open to ${extra.join(', ')}, not in the configured eksPublicAccessCidrs`);
  },
};

export const REQUIRED_LOG_TYPES = ['api', 'audit', 'authenticator'];

export const eksControlPlaneLogging: AwsRule = {
  kind: 'aws',
  name: 'eks-control-plane-logging',
  level: 'mandatory',
  description: `EKS control-plane logging covers ${REQUIRED_LOG_TYPES.join(', ')}.`,
  remediation: `Set enabledClusterLogTypes to include ${REQUIRED_LOG_TYPES.join(', ')} (controllerManager and scheduler are optional).`,
  rationale: 'The audit log is the only record of who did what through the Kubernetes API.',
  benchmark: 'CIS EKS 2.1.1; AWS FSBP EKS.8',
  appliesTo,
  check: (p, ctx) => {
    const missing = REQUIRED_LOG_TYPES.filter((t) => !eksSettings(ctx.type, p).logTypes.includes(t));
    return unless(missing.length === 0, `control-plane log types missing: ${missing.join(', ')}`);
  },
};

export const eksSecretsEncryption: AwsRule = {
  kind: 'aws',
  name: 'eks-secrets-encryption',
  level: 'mandatory',
  description: 'EKS envelope-encrypts Kubernetes Secrets with a KMS key.',
  remediation:
    'Set encryptionConfigKeyArn (@pulumi/eks) or encryptionConfig { resources: ["secrets"], provider.keyArn } to a KMS key with rotation.',
  rationale: 'Secrets in etcd are otherwise only base64; envelope encryption ties reading them to a KMS permission.',
  benchmark: 'CIS EKS 5.3.1; AWS FSBP EKS.3',
  appliesTo,
  check: (p, ctx) => {
    const s = eksSettings(ctx.type, p);
    if (s.encryptedResources === undefined) return ['secrets are not envelope-encrypted (no encryption config / encryptionConfigKeyArn)'];
    if (!s.encryptedResources.includes('secrets')) return ['encryption config does not cover the "secrets" resource'];
    return unless(s.keyArn, 'encryption config has no KMS key ARN');
  },
};

export const eksRules: AwsRule[] = [eksEndpointRestricted, eksControlPlaneLogging, eksSecretsEncryption];
