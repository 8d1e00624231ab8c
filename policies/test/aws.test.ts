/**
 * AWS rules: the compliant resources pass every rule; each case breaks exactly one condition of
 * one rule and must get exactly that rule's message, and nothing else.
 */
import { runAwsRules, settingsWith, validateResources, type ResourceInput } from '../engine';
import type { Env } from '../lib/types';
import { awsRules } from '../rules';
import { compliantAwsResources, resource, TAGS } from './fixtures/compliant';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

const byName = (list: ResourceInput[], name: string): Loose => {
  const r = list.find((x) => x.urn?.endsWith(`::${name}`));
  if (!r) throw new Error(`fixture has no resource ${name}`);
  return r.props;
};

function run(list: ResourceInput[], env: Env = 'prod', settings = {}) {
  return validateResources(list, env, settings).map((v) => ({ rule: v.rule, subject: v.subject.split('::').pop(), message: v.message }));
}

interface Case {
  title: string;
  /** The resource to break (by URN name), or a new resource to add. */
  name: string;
  breaks: (props: Loose) => void;
  rule: string;
  message: string;
  add?: ResourceInput;
  settings?: object;
}

const cases: Case[] = [
  // RDS
  {
    title: 'instance not encrypted',
    name: 'db',
    breaks: (p) => (p.storageEncrypted = false),
    rule: 'rds-storage-encrypted',
    message: 'storage is not encrypted (storageEncrypted must be true)',
  },
  {
    title: 'Aurora cluster not encrypted',
    name: 'aurora',
    add: resource('aws:rds/cluster:Cluster', 'aurora', { backupRetentionPeriod: 7, deletionProtection: true, storageEncrypted: true }),
    breaks: (p) => delete p.storageEncrypted,
    rule: 'rds-storage-encrypted',
    message: 'storage is not encrypted (storageEncrypted must be true)',
  },
  {
    title: 'publicly accessible',
    name: 'db',
    breaks: (p) => (p.publiclyAccessible = true),
    rule: 'rds-not-publicly-accessible',
    message: 'database is publicly accessible (publiclyAccessible must be false)',
  },
  {
    title: 'backup retention unset',
    name: 'db',
    breaks: (p) => delete p.backupRetentionPeriod,
    rule: 'rds-backup-retention',
    message: 'backupRetentionPeriod is not set (at least 7 days required)',
  },
  {
    title: 'backup retention 3 days',
    name: 'db',
    breaks: (p) => (p.backupRetentionPeriod = 3),
    rule: 'rds-backup-retention',
    message: 'backupRetentionPeriod is 3 days (at least 7 required)',
  },
  {
    title: 'no deletion protection in prod',
    name: 'db',
    breaks: (p) => (p.deletionProtection = false),
    rule: 'rds-prod-deletion-protection',
    message: 'deletion protection is off in prod (deletionProtection must be true)',
  },
  {
    title: 'single-AZ in prod',
    name: 'db',
    breaks: (p) => delete p.multiAz,
    rule: 'rds-prod-multi-az',
    message: 'instance is single-AZ in prod (multiAz must be true)',
  },
  {
    title: 'instance without a parameter group',
    name: 'db',
    breaks: (p) => delete p.parameterGroupName,
    rule: 'rds-force-tls',
    message: 'instance uses the default parameter group; use one that forces TLS',
  },
  {
    title: 'instance on a default.* parameter group',
    name: 'db',
    breaks: (p) => (p.parameterGroupName = 'default.postgres16'),
    rule: 'rds-force-tls',
    message: 'instance uses the default parameter group; use one that forces TLS',
  },
  {
    title: 'parameter group without rds.force_ssl',
    name: 'pg16',
    breaks: (p) => (p.parameters = []),
    rule: 'rds-force-tls',
    message: 'parameter group does not set rds.force_ssl = 1',
  },
  {
    title: 'parameter group with rds.force_ssl = 0',
    name: 'pg16',
    breaks: (p) => (p.parameters[0].value = '0'),
    rule: 'rds-force-tls',
    message: 'parameter group does not set rds.force_ssl = 1',
  },
  {
    title: 'MySQL parameter group without require_secure_transport',
    name: 'mysql8',
    add: resource('aws:rds/parameterGroup:ParameterGroup', 'mysql8', {
      family: 'mysql8.0',
      parameters: [{ name: 'require_secure_transport', value: 'ON' }],
    }),
    breaks: (p) => (p.parameters = []),
    rule: 'rds-force-tls',
    message: 'parameter group does not set require_secure_transport = 1',
  },
  // ElastiCache
  {
    title: 'no TLS in transit',
    name: 'cache',
    breaks: (p) => (p.transitEncryptionEnabled = false),
    rule: 'elasticache-encryption-in-transit',
    message: 'encryption in transit is off (transitEncryptionEnabled must be true)',
  },
  {
    title: 'TLS only preferred',
    name: 'cache',
    breaks: (p) => (p.transitEncryptionMode = 'preferred'),
    rule: 'elasticache-encryption-in-transit',
    message: 'transitEncryptionMode is preferred (plain connections still accepted; use required)',
  },
  {
    title: 'not encrypted at rest',
    name: 'cache',
    breaks: (p) => delete p.atRestEncryptionEnabled,
    rule: 'elasticache-encryption-at-rest',
    message: 'encryption at rest is off (atRestEncryptionEnabled must be true)',
  },
  {
    title: 'no auth token',
    name: 'cache',
    breaks: (p) => delete p.authToken,
    rule: 'elasticache-auth-required',
    message: 'no authentication (set authToken or userGroupIds)',
  },
  {
    title: 'no automatic failover in prod',
    name: 'cache',
    breaks: (p) => (p.automaticFailoverEnabled = false),
    rule: 'elasticache-prod-failover',
    message: 'automatic failover is off in prod (automaticFailoverEnabled must be true)',
  },
  {
    title: 'single-AZ in prod',
    name: 'cache',
    breaks: (p) => delete p.multiAzEnabled,
    rule: 'elasticache-prod-failover',
    message: 'replication group is single-AZ in prod (multiAzEnabled must be true)',
  },
  // Amazon MQ
  {
    title: 'public broker',
    name: 'broker',
    breaks: (p) => (p.publiclyAccessible = true),
    rule: 'mq-not-publicly-accessible',
    message: 'broker is publicly accessible (publiclyAccessible must be false)',
  },
  {
    title: 'no general logs',
    name: 'broker',
    breaks: (p) => delete p.logs,
    rule: 'mq-logging-enabled',
    message: 'general logs are off (logs.general must be true)',
  },
  {
    title: 'ActiveMQ without audit logs',
    name: 'broker',
    breaks: (p) => (p.engineType = 'ActiveMQ'),
    rule: 'mq-logging-enabled',
    message: 'audit logs are off for an ActiveMQ broker (logs.audit must be true)',
  },
  // EKS (aws.eks.Cluster and the @pulumi/eks component)
  {
    title: 'public endpoint without CIDRs',
    name: 'eks',
    breaks: (p) => delete p.vpcConfig.publicAccessCidrs,
    rule: 'eks-endpoint-restricted',
    message: 'public endpoint with no publicAccessCidrs (defaults to 0.0.0.0/0)',
  },
  {
    title: 'public endpoint open to the world',
    name: 'eks',
    breaks: (p) => p.vpcConfig.publicAccessCidrs.push('0.0.0.0/0'),
    rule: 'eks-endpoint-restricted',
    message: 'public endpoint open to 0.0.0.0/0',
  },
  {
    title: 'component endpoint open to ::/0',
    name: 'cluster',
    breaks: (p) => (p.publicAccessCidrs = ['::/0']),
    rule: 'eks-endpoint-restricted',
    message: 'public endpoint open to ::/0',
  },
  {
    title: 'component endpoint public by default',
    name: 'cluster',
    breaks: (p) => delete p.publicAccessCidrs,
    rule: 'eks-endpoint-restricted',
    message: 'public endpoint with no publicAccessCidrs (defaults to 0.0.0.0/0)',
  },
  {
    title: 'CIDR outside the configured list',
    name: 'cluster',
    settings: { eksPublicAccessCidrs: ['203.0.113.0/24'] },
    breaks: (p) => p.publicAccessCidrs.push('198.51.100.7/32'),
    rule: 'eks-endpoint-restricted',
    message: 'public endpoint open to 198.51.100.7/32, not in the configured eksPublicAccessCidrs',
  },
  {
    title: 'no audit log',
    name: 'eks',
    breaks: (p) => (p.enabledClusterLogTypes = ['api', 'authenticator']),
    rule: 'eks-control-plane-logging',
    message: 'control-plane log types missing: audit',
  },
  {
    title: 'component without logging',
    name: 'cluster',
    breaks: (p) => delete p.enabledClusterLogTypes,
    rule: 'eks-control-plane-logging',
    message: 'control-plane log types missing: api, audit, authenticator',
  },
  {
    title: 'no secrets encryption',
    name: 'eks',
    breaks: (p) => delete p.encryptionConfig,
    rule: 'eks-secrets-encryption',
    message: 'secrets are not envelope-encrypted (no encryption config / encryptionConfigKeyArn)',
  },
  {
    title: 'encryption config without secrets',
    name: 'eks',
    breaks: (p) => (p.encryptionConfig.resources = []),
    rule: 'eks-secrets-encryption',
    message: 'encryption config does not cover the "secrets" resource',
  },
  {
    title: 'encryption config without key',
    name: 'eks',
    breaks: (p) => delete p.encryptionConfig.provider.keyArn,
    rule: 'eks-secrets-encryption',
    message: 'encryption config has no KMS key ARN',
  },
  {
    title: 'component without encryptionConfigKeyArn',
    name: 'cluster',
    breaks: (p) => delete p.encryptionConfigKeyArn,
    rule: 'eks-secrets-encryption',
    message: 'secrets are not envelope-encrypted (no encryption config / encryptionConfigKeyArn)',
  },
  // Security groups
  {
    title: 'SSH from the internet (inline)',
    name: 'lb',
    breaks: (p) => p.ingress.push({ protocol: 'tcp', fromPort: 22, toPort: 22, cidrBlocks: ['0.0.0.0/0'] }),
    rule: 'security-group-no-public-sensitive-ports',
    message: 'ingress tcp port 22 from 0.0.0.0/0 exposes 22 (SSH)',
  },
  {
    title: 'PostgreSQL from the internet (SecurityGroupIngressRule)',
    name: 'db-from-nodes',
    breaks: (p) => {
      delete p.referencedSecurityGroupId;
      p.cidrIpv4 = '0.0.0.0/0';
    },
    rule: 'security-group-no-public-sensitive-ports',
    message: 'ingress tcp port 5432 from 0.0.0.0/0 exposes 5432 (PostgreSQL)',
  },
  {
    title: 'all traffic from ::/0 (SecurityGroupRule)',
    name: 'https',
    breaks: (p) => Object.assign(p, { protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: [], ipv6CidrBlocks: ['::/0'] }),
    rule: 'security-group-no-public-sensitive-ports',
    message: 'ingress all traffic from ::/0 exposes 22 (SSH), 5432 (PostgreSQL), 5671 (AMQPS), 5672 (AMQP), 6379 (Redis)',
  },
  {
    title: 'a public range covering data-store ports',
    name: 'lb',
    breaks: (p) => p.ingress.push({ protocol: 'tcp', fromPort: 5000, toPort: 7000, cidrBlocks: ['0.0.0.0/0'] }),
    rule: 'security-group-no-public-sensitive-ports',
    message: 'ingress tcp ports 5000-7000 from 0.0.0.0/0 exposes 5432 (PostgreSQL), 5671 (AMQPS), 5672 (AMQP), 6379 (Redis)',
  },
  {
    title: 'public 8080',
    name: 'lb',
    breaks: (p) => p.ingress.push({ protocol: 'tcp', fromPort: 8080, toPort: 8080, cidrBlocks: ['0.0.0.0/0'] }),
    rule: 'security-group-public-ingress-web-only',
    message: 'ingress tcp port 8080 from 0.0.0.0/0 (only tcp 80 and 443 may be public)',
  },
  {
    title: 'public 80-443 range',
    name: 'https',
    breaks: (p) => (p.fromPort = 80),
    rule: 'security-group-public-ingress-web-only',
    message: 'ingress tcp ports 80-443 from 0.0.0.0/0 (only tcp 80 and 443 may be public)',
  },
  {
    title: 'public ICMP',
    name: 'db-from-nodes',
    breaks: (p) =>
      Object.assign(p, { ipProtocol: 'icmp', fromPort: -1, toPort: -1, cidrIpv6: '::/0', referencedSecurityGroupId: undefined }),
    rule: 'security-group-public-ingress-web-only',
    message: 'ingress icmp port -1 from ::/0 (only tcp 80 and 443 may be public)',
  },
  {
    title: 'public UDP 443',
    name: 'lb',
    breaks: (p) => (p.ingress[0].protocol = 'udp'),
    rule: 'security-group-public-ingress-web-only',
    message: 'ingress udp port 443 from 0.0.0.0/0, ::/0 (only tcp 80 and 443 may be public)',
  },
  // KMS and ECR
  {
    title: 'symmetric key without rotation',
    name: 'eks-secrets',
    breaks: (p) => delete p.enableKeyRotation,
    rule: 'kms-key-rotation',
    message: 'key rotation is off (enableKeyRotation must be true)',
  },
  {
    title: 'mutable tags',
    name: 'goticket',
    breaks: (p) => (p.imageTagMutability = 'MUTABLE'),
    rule: 'ecr-immutable-tags',
    message: 'image tags are mutable (imageTagMutability must be IMMUTABLE)',
  },
  {
    title: 'tag mutability left to the default',
    name: 'goticket',
    breaks: (p) => delete p.imageTagMutability,
    rule: 'ecr-immutable-tags',
    message: 'image tags are mutable (imageTagMutability must be IMMUTABLE)',
  },
  {
    title: 'no scan on push',
    name: 'goticket',
    breaks: (p) => (p.imageScanningConfiguration = {}),
    rule: 'ecr-scan-on-push',
    message: 'scan on push is off (imageScanningConfiguration.scanOnPush must be true)',
  },
  // Tags
  {
    title: 'a missing tag',
    name: 'db',
    breaks: (p) => (p.tags = { project: 'goticket', environment: 'prod' }),
    rule: 'aws-required-tags',
    message: 'missing tags: managed-by',
  },
  {
    title: 'no tags at all',
    name: 'goticket',
    breaks: (p) => delete p.tags,
    rule: 'aws-required-tags',
    message: 'missing tags: project, environment, managed-by',
  },
  {
    title: 'environment tag of another stack',
    name: 'broker',
    breaks: (p) => (p.tags = { ...TAGS, environment: 'dev' }),
    rule: 'aws-required-tags',
    message: 'environment tag "dev" does not match the stack environment "prod"',
  },
];

describe('AWS rules', () => {
  test('the compliant resources pass every rule in prod and dev', () => {
    expect(run(compliantAwsResources(), 'prod')).toEqual([]);
    const dev = compliantAwsResources().map((r) => ({ ...r, props: { ...r.props, tags: { ...TAGS, environment: 'dev' } } }));
    expect(run(dev, 'dev')).toEqual([]);
  });

  test.each(cases)('$rule: $title', ({ name, breaks, rule, message, add, settings }) => {
    const list = compliantAwsResources().concat(add ? [structuredClone(add)] : []);
    expect(run(list, 'prod', settings)).toEqual([]);
    breaks(byName(list, name));
    expect(run(list, 'prod', settings)).toEqual([{ rule, subject: name, message }]);
  });

  test('every AWS rule has at least one violating case', () => {
    const covered = new Set(cases.map((c) => c.rule));
    for (const r of awsRules) expect(covered).toContain(r.name);
  });

  test('prod-only rules stay quiet in dev', () => {
    const list = compliantAwsResources().map((r) => ({ ...r, props: { ...r.props, tags: { ...TAGS, environment: 'dev' } } }));
    Object.assign(byName(list, 'db'), { deletionProtection: false, multiAz: false });
    Object.assign(byName(list, 'cache'), { automaticFailoverEnabled: false, multiAzEnabled: false });
    expect(run(list, 'dev')).toEqual([]);
    expect(
      run(list, 'prod')
        .map((v) => v.rule)
        .filter((r) => r !== 'aws-required-tags'),
    ).toEqual(['rds-prod-deletion-protection', 'rds-prod-multi-az', 'elasticache-prod-failover', 'elasticache-prod-failover']);
  });

  test('allowed variants: private EKS endpoint, RBAC user groups instead of a token, asymmetric keys, egress to the world', () => {
    const list = compliantAwsResources();
    byName(list, 'eks').vpcConfig = { endpointPublicAccess: false, endpointPrivateAccess: true };
    byName(list, 'cluster').endpointPublicAccess = false;
    delete byName(list, 'cluster').publicAccessCidrs;
    Object.assign(byName(list, 'cache'), { authToken: undefined, userGroupIds: ['goticket-users'] });
    byName(list, 'lb').egress = [{ protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'] }];
    list.push({
      type: 'aws:ec2/securityGroupRule:SecurityGroupRule',
      urn: 'urn:pulumi:prod::goticket::aws:ec2/securityGroupRule:SecurityGroupRule::out',
      props: { type: 'egress', protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'] },
    });
    expect(run(list)).toEqual([]);
  });

  test('tags may come from the provider defaultTags, and secrets are unwrapped', () => {
    const providerUrn = 'urn:pulumi:prod::goticket::pulumi:providers:aws::aws';
    const provider: ResourceInput = {
      type: 'pulumi:providers:aws',
      urn: providerUrn,
      props: { region: 'eu-west-1', defaultTags: { tags: TAGS } },
    };
    const secret = (value: unknown) => ({ '4dabf18193072939515e22adb298388d': '1b47061264138c4ac30d75fd1eb44270', value });
    const cache = resource('aws:elasticache/replicationGroup:ReplicationGroup', 'cache', {
      ...byName(compliantAwsResources(), 'cache'),
      authToken: secret('x'.repeat(32)),
      transitEncryptionEnabled: secret(true),
      tags: undefined,
    });
    expect(run([provider, { ...cache, provider: `${providerUrn}::04da6b54-80e4-46f7-96ec-b56ff0331ba9` }])).toEqual([]);
    expect(run([provider, { ...cache, provider: { props: { defaultTags: { tags: TAGS } } } }])).toEqual([]);
    expect(run([provider, cache]).map((v) => v.message)).toEqual(['missing tags: project, environment, managed-by']);
    // As the mocks record it: no URN of its own, provider config JSON-encoded, a parent chain in the reference.
    const mocked: ResourceInput = { type: 'pulumi:providers:aws', name: 'aws', props: { defaultTags: JSON.stringify({ tags: TAGS }) } };
    const ref = 'urn:pulumi:prod::goticket::pulumi:pulumi:Stack$pulumi:providers:aws::aws::aws-id';
    expect(run([mocked, { ...cache, provider: ref }])).toEqual([]);
  });

  test('without a configured environment, the tag must be dev or prod', () => {
    const r = resource('aws:kms/key:Key', 'k', { enableKeyRotation: true, tags: { ...TAGS, environment: 'staging' } });
    const out = runAwsRules(r.type, r.props, settingsWith({}), { urn: 'urn:pulumi:staging::goticket::aws:kms/key:Key::k' });
    expect(out.map((x) => `${x.rule.name}: ${x.message}`)).toEqual([
      'aws-required-tags: environment tag "staging" is not one of dev, prod',
    ]);
  });
});
