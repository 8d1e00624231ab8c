import * as fs from 'node:fs';
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { parse } from 'yaml';
import { ConfigError, loadStackConfig, parseStackConfig, type RawConfig } from '../config';
import { filledInProdConfig, REPO_ROOT, stackConfig } from './harness';

/** Stack config (key → value) as the raw object parseStackConfig takes. */
function raw(config: Record<string, unknown>): RawConfig {
  const out: RawConfig = {};
  for (const [key, value] of Object.entries(config)) {
    const parsed = typeof value === 'string' && /^[[{]/.test(value) ? (JSON.parse(value) as unknown) : value;
    if (key === 'aws:region') out.awsRegion = parsed;
    else out[key.replace(/^goticket:/, '')] = parsed;
  }
  return out;
}

/** The committed Pulumi.<stack>.yaml. */
const committedFile = (stack: 'dev' | 'prod') =>
  raw((parse(fs.readFileSync(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`), 'utf8')) as { config: Record<string, unknown> }).config);
/** The config the tests start from: committed dev, prod as a team fills it in. */
const committed = (stack: 'dev' | 'prod'): RawConfig => (stack === 'prod' ? raw(filledInProdConfig()) : committedFile('dev'));

/** Deep copy with the value at `dotted` replaced (undefined deletes it). */
function withValue(raw: RawConfig, dotted: string, value: unknown): RawConfig {
  const copy = structuredClone(raw) as Record<string, unknown>;
  const keys = dotted.split('.');
  let target = copy;
  for (const k of keys.slice(0, -1)) target = target[k] as Record<string, unknown>;
  const last = keys[keys.length - 1]!;
  if (value === undefined) delete target[last];
  else target[last] = value;
  return copy;
}

function failure(raw: RawConfig): string {
  try {
    parseStackConfig(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the config to be rejected');
}

describe('committed stack configs', () => {
  it('Pulumi.dev.yaml is a valid dev config (Kind, gitops, localtest.me hosts)', () => {
    const cfg = parseStackConfig(committed('dev'));
    expect(cfg.environment).toBe('dev');
    expect(cfg.host).toBe('goticket.localtest.me');
    if (cfg.environment !== 'dev') throw new Error('unreachable');
    expect(cfg.kind).toEqual({ clusterName: 'goticket', configFile: 'infra/kind-config.yaml' });
  });

  it('Pulumi.prod.yaml as committed stops the program at once, one line for each placeholder to replace', () => {
    expect(failure(committedFile('prod')).split('\n')).toEqual([
      'missing config goticket:oauthGoogleClientSecret',
      'missing config goticket:oauthGithubClientSecret',
      'invalid config goticket:host: tickets.goticket.example.com is under example.com, reserved for documentation (RFC 2606/6761): set a DNS name you own',
      'invalid config goticket:grafanaHost: grafana.goticket.example.com is under example.com, reserved for documentation (RFC 2606/6761): set a DNS name you own',
      'invalid config goticket:argocdHost: argocd.goticket.example.com is under example.com, reserved for documentation (RFC 2606/6761): set a DNS name you own',
      "invalid config goticket:acmeEmail: platform@goticket.example.com is under example.com, reserved for documentation (RFC 2606/6761): Let's Encrypt refuses it; set an address someone reads",
      'missing config goticket:stripeApiKey',
      'missing config goticket:stripeWebhookSecret',
      "invalid config goticket:eks.publicAccessCidrs.0: 203.0.113.0/24 overlaps 203.0.113.0/24, reserved for documentation (RFC 5737): set your runners' and operators' egress CIDRs",
      "invalid config goticket:eks.deployRoleArn: arn:aws:iam::123456789012:role/goticket-deploy is in AWS's documentation account 123456789012: set your account's role ARN",
      "invalid config goticket:eks.previewRoleArn: arn:aws:iam::123456789012:role/goticket-preview is in AWS's documentation account 123456789012: set your account's role ARN",
    ]);
  });

  it('Pulumi.prod.yaml filled in is a valid prod config with the production safety settings on', () => {
    const cfg = parseStackConfig(committed('prod'));
    if (cfg.environment !== 'prod') throw new Error('expected prod');
    expect(cfg.network.vpcCidr).toBe('10.0.0.0/16');
    expect(cfg.database).toMatchObject({ multiAz: true, deletionProtection: true });
    expect(cfg.database.backupRetentionDays).toBeGreaterThanOrEqual(7);
    expect(cfg.cache).toMatchObject({ multiAz: true });
    expect(cfg.broker.deploymentMode).toBe('CLUSTER_MULTI_AZ');
    expect(cfg.eks.publicAccessCidrs).not.toContain('0.0.0.0/0');
  });

  it('holds no plain-text secrets (credentials are generated)', () => {
    for (const stack of ['dev', 'prod']) {
      const { config } = parse(fs.readFileSync(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`), 'utf8')) as { config: object };
      // No credential-looking settings and no encrypted (`secure:`) values either.
      expect(JSON.stringify(config)).not.toMatch(/password|secret|token|credential|"secure"/i);
    }
  });

  it('applies defaults (deployMode gitops, revision main, engine versions)', () => {
    const raw = withValue(withValue(committed('prod'), 'deployMode', undefined), 'gitRevision', undefined);
    const cfg = parseStackConfig(withValue(raw, 'database.engineVersion', undefined));
    if (cfg.environment !== 'prod') throw new Error('expected prod');
    expect(cfg.deployMode).toBe('gitops');
    expect(cfg.gitRevision).toBe('main');
    expect(cfg.database.engineVersion).toBe('16');
    expect(cfg.broker.engineVersion).toBe('4.2');
  });

  it('deployMode direct does not need a repository URL', () => {
    const raw = withValue(withValue(committed('dev'), 'deployMode', 'direct'), 'gitRepoUrl', undefined);
    expect(parseStackConfig(raw).deployMode).toBe('direct');
  });
});

// [stack, path to change, new value (undefined = remove), key named in the message, expected wording]
type Case = [stack: 'dev' | 'prod', dotted: string, value: unknown, key: string, wording: RegExp];

const missing: Case[] = [
  ['prod', 'environment', undefined, 'goticket:environment', /missing/],
  ['prod', 'host', undefined, 'goticket:host', /missing/],
  ['prod', 'grafanaHost', undefined, 'goticket:grafanaHost', /missing/],
  ['prod', 'argocdHost', undefined, 'goticket:argocdHost', /missing/],
  ['prod', 'gitRepoUrl', undefined, 'goticket:gitRepoUrl', /missing .*gitops/],
  ['prod', 'acmeEmail', undefined, 'goticket:acmeEmail', /missing/],
  ['prod', 'awsRegion', undefined, 'aws:region', /missing/],
  ['prod', 'monitoring', undefined, 'goticket:monitoring', /missing/],
  ['prod', 'monitoring.retention', undefined, 'goticket:monitoring.retention', /missing/],
  ['prod', 'monitoring.storageSize', undefined, 'goticket:monitoring.storageSize', /missing/],
  ['prod', 'network', undefined, 'goticket:network', /missing/],
  ['prod', 'network.natGateways', undefined, 'goticket:network.natGateways', /missing/],
  ['prod', 'eks', undefined, 'goticket:eks', /missing/],
  ['prod', 'eks.clusterName', undefined, 'goticket:eks.clusterName', /missing/],
  ['prod', 'eks.version', undefined, 'goticket:eks.version', /missing/],
  ['prod', 'eks.instanceTypes', undefined, 'goticket:eks.instanceTypes', /missing/],
  ['prod', 'eks.minSize', undefined, 'goticket:eks.minSize', /missing/],
  ['prod', 'eks.publicAccessCidrs', undefined, 'goticket:eks.publicAccessCidrs', /missing/],
  ['prod', 'database', undefined, 'goticket:database', /missing/],
  ['prod', 'database.instanceClass', undefined, 'goticket:database.instanceClass', /missing/],
  ['prod', 'database.allocatedStorageGb', undefined, 'goticket:database.allocatedStorageGb', /missing/],
  ['prod', 'database.backupRetentionDays', undefined, 'goticket:database.backupRetentionDays', /missing/],
  ['prod', 'database.multiAz', undefined, 'goticket:database.multiAz', /missing/],
  ['prod', 'database.deletionProtection', undefined, 'goticket:database.deletionProtection', /missing/],
  ['prod', 'cache', undefined, 'goticket:cache', /missing/],
  ['prod', 'cache.nodeType', undefined, 'goticket:cache.nodeType', /missing/],
  ['prod', 'cache.replicas', undefined, 'goticket:cache.replicas', /missing/],
  ['prod', 'broker', undefined, 'goticket:broker', /missing/],
  ['prod', 'broker.instanceType', undefined, 'goticket:broker.instanceType', /missing/],
  ['prod', 'broker.deploymentMode', undefined, 'goticket:broker.deploymentMode', /missing/],
  ['dev', 'host', undefined, 'goticket:host', /missing/],
  ['dev', 'monitoring', undefined, 'goticket:monitoring', /missing/],
];

const malformed: Case[] = [
  ['prod', 'environment', 'staging', 'goticket:environment', /"dev" or "prod"/],
  ['prod', 'deployMode', 'helm', 'goticket:deployMode', /invalid/],
  ['prod', 'gitRepoUrl', 'ftp://example.com/repo', 'goticket:gitRepoUrl', /git URL/],
  ['prod', 'gitRevision', 'main branch', 'goticket:gitRevision', /branch, tag or commit/],
  ['prod', 'host', 'Tickets Example', 'goticket:host', /DNS name/],
  ['prod', 'grafanaHost', 'grafana', 'goticket:grafanaHost', /DNS name/],
  ['prod', 'argocdHost', 'https://argocd.example.com', 'goticket:argocdHost', /DNS name/],
  ['prod', 'acmeEmail', 'not-an-email', 'goticket:acmeEmail', /e-mail/],
  ['prod', 'awsRegion', 'mars-1', 'aws:region', /AWS region/],
  ['prod', 'monitoring.retention', '30 days', 'goticket:monitoring.retention', /duration/],
  ['prod', 'monitoring.storageSize', '100GB', 'goticket:monitoring.storageSize', /storage size/],
  ['prod', 'monitoring.extra', true, 'goticket:monitoring.extra', /unknown/],
  ['prod', 'network.vpcCidr', '10.1.0.0/16', 'goticket:network.vpcCidr', /10\.0\.0\.0\/16/],
  ['prod', 'network.availabilityZones', 2, 'goticket:network.availabilityZones', /three/],
  ['prod', 'network.natGateways', 'many', 'goticket:network.natGateways', /invalid/],
  ['prod', 'network.flowLogRetentionDays', 7, 'goticket:network.flowLogRetentionDays', /invalid/],
  ['prod', 'eks.clusterName', '-bad', 'goticket:eks.clusterName', /cluster name/],
  ['prod', 'eks.version', 'latest', 'goticket:eks.version', /pinned/],
  ['prod', 'eks.version', '1.33.2', 'goticket:eks.version', /pinned/],
  ['prod', 'eks.version', '1.33', 'goticket:eks.version', /standard support \(1\.35, 1\.36\).*extended support, billed extra/],
  ['prod', 'eks.instanceTypes', [], 'goticket:eks.instanceTypes', /invalid/],
  ['prod', 'eks.instanceTypes', ['m7i large'], 'goticket:eks.instanceTypes.0', /instance type/],
  ['prod', 'eks.minSize', 0, 'goticket:eks.minSize', /invalid/],
  ['prod', 'eks.desiredSize', 20, 'goticket:eks.desiredSize', /minSize <= desiredSize <= maxSize/],
  ['prod', 'eks.maxSize', 'nine', 'goticket:eks.maxSize', /number/],
  ['prod', 'eks.publicAccessCidrs', ['0.0.0.0/0'], 'goticket:eks.publicAccessCidrs.0', /whole internet/],
  ['prod', 'eks.publicAccessCidrs', ['10.0.0/8'], 'goticket:eks.publicAccessCidrs.0', /CIDR/],
  ['prod', 'eks.publicAccessCidrs', [], 'goticket:eks.publicAccessCidrs', /invalid/],
  ['prod', 'eks.adminRoleArns', ['admin'], 'goticket:eks.adminRoleArns.0', /IAM role ARN/],
  ['prod', 'eks.adminRoleArns', ['arn:aws:iam::000000000000:role/x'], 'goticket:eks.adminRoleArns.0', /documentation account/],
  ['prod', 'eks.deployRoleArn', 'goticket-deploy', 'goticket:eks.deployRoleArn', /IAM role ARN/],
  [
    'prod',
    'eks.previewRoleArn',
    'arn:aws:iam::123456789012:role/preview',
    'goticket:eks.previewRoleArn',
    /documentation account 123456789012/,
  ],
  ['prod', 'eks.publicAccessCidrs', ['198.51.100.0/24'], 'goticket:eks.publicAccessCidrs.0', /RFC 5737/],
  ['prod', 'eks.publicAccessCidrs', ['192.0.0.0/16'], 'goticket:eks.publicAccessCidrs.0', /overlaps 192\.0\.2\.0\/24/],
  ['prod', 'eks.publicAccessCidrs', ['10.0.0.1/16'], 'goticket:eks.publicAccessCidrs.0', /network address/],
  ['prod', 'host', 'tickets.example.org', 'goticket:host', /example\.org, reserved/],
  ['prod', 'host', 'goticket.example', 'goticket:host', /under example, reserved/],
  ['prod', 'grafanaHost', 'grafana.goticket.test', 'goticket:grafanaHost', /under test, reserved/],
  ['prod', 'argocdHost', 'argocd.goticket.invalid', 'goticket:argocdHost', /under invalid, reserved/],
  ['prod', 'host', 'goticket.localtest.me', 'goticket:host', /resolves to this machine/],
  ['prod', 'acmeEmail', 'ops@example.net', 'goticket:acmeEmail', /Let's Encrypt refuses it/],
  [
    'prod',
    'gitRepoCredential',
    '-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----',
    'goticket:gitRepoCredential',
    /https gitRepoUrl needs a token/,
  ],
  ['prod', 'gitRepoUsername', 'a b', 'goticket:gitRepoUsername', /user name/],
  ['prod', 'database.instanceClass', 'm7g.large', 'goticket:database.instanceClass', /RDS instance class/],
  [
    'prod',
    'database.engineVersion',
    '15.4',
    'goticket:database.engineVersion',
    /PostgreSQL 16 .*the major CI, docker-compose and Kind run/,
  ],
  ['prod', 'database.allocatedStorageGb', 5, 'goticket:database.allocatedStorageGb', /invalid/],
  ['prod', 'database.maxAllocatedStorageGb', 20, 'goticket:database.maxAllocatedStorageGb', /maxAllocatedStorageGb >= allocatedStorageGb/],
  ['prod', 'database.backupRetentionDays', 3, 'goticket:database.backupRetentionDays', />=7/],
  ['prod', 'database.multiAz', 'yes', 'goticket:database.multiAz', /boolean/],
  ['prod', 'database.deletionProtection', 1, 'goticket:database.deletionProtection', /boolean/],
  ['prod', 'cache.nodeType', 'm7g.large', 'goticket:cache.nodeType', /node type/],
  ['prod', 'cache.engineVersion', '6.2', 'goticket:cache.engineVersion', /Redis 7/],
  ['prod', 'cache.replicas', 0, 'goticket:cache.replicas', /multi-AZ needs at least one replica/],
  ['prod', 'cache.transitEncryption', false, 'goticket:cache.transitEncryption', /unknown/],
  ['prod', 'broker.instanceType', 'm5.large', 'goticket:broker.instanceType', /broker instance type/],
  ['prod', 'broker.engineVersion', '3.8', 'goticket:broker.engineVersion', /RabbitMQ line Amazon MQ offers \(3\.13 or 4\.2\)/],
  [
    'prod',
    'broker.instanceType',
    'mq.m5.large',
    'goticket:broker.instanceType',
    /RabbitMQ 4\.2 on Amazon MQ runs only on mq\.m7g\.\*, not mq\.m5\.large/,
  ],
  ['prod', 'broker.deploymentMode', 'ACTIVE_STANDBY_MULTI_AZ', 'goticket:broker.deploymentMode', /invalid/],
  ['dev', 'kind.clusterName', 'Go_Ticket', 'goticket:kind.clusterName', /cluster name/],
  ['dev', 'database', { instanceClass: 'db.t4g.micro' }, 'goticket:database', /unknown/],
  ['dev', 'monitoring.retention', 15, 'goticket:monitoring.retention', /string/],
];

describe('each missing key fails with one line naming it', () => {
  it.each(missing)('%s %s', (stack, dotted, value, key, wording) => {
    const message = failure(withValue(committed(stack), dotted, value));
    expect(message.split('\n')).toHaveLength(1);
    expect(message).toContain(key);
    expect(message).toMatch(wording);
  });
});

describe('each malformed key fails with one line naming it', () => {
  it.each(malformed)('%s %s = %j', (stack, dotted, value, key, wording) => {
    const message = failure(withValue(committed(stack), dotted, value));
    expect(message.split('\n')).toHaveLength(1);
    expect(message).toMatch(new RegExp(`(invalid|unknown|missing) config ${key.replace(/\./g, '\\.')}(:|$| )`));
    expect(message).toMatch(wording);
  });
});

describe('the Argo CD repository credential (a private gitRepoUrl)', () => {
  const KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----\n';
  const withRepo = (url: string, credential?: string) =>
    withValue(withValue(committed('prod'), 'gitRepoUrl', url), 'gitRepoCredential', credential);

  it('is optional (a public repository) and takes a token for https, a deploy key for ssh', () => {
    expect(parseStackConfig(committed('prod')).gitRepoCredential).toBeUndefined();
    expect(parseStackConfig(withRepo('https://github.com/acme/goticket.git', 'github_pat_11ABC')).gitRepoCredential).toBe(
      'github_pat_11ABC',
    );
    expect(parseStackConfig(withRepo('git@github.com:acme/goticket.git', KEY)).gitRepoCredential).toBe(KEY);
    expect(parseStackConfig(withRepo('ssh://git@github.com/acme/goticket.git', KEY)).gitRepoUsername).toBe('git');
  });

  it.each([
    ['git@github.com:acme/goticket.git', 'github_pat_11ABC', /ssh gitRepoUrl needs an SSH private key/],
    ['https://github.com/acme/goticket.git', KEY, /https gitRepoUrl needs a token/],
    ['https://github.com/acme/goticket.git', 'two words', /https gitRepoUrl needs a token/],
  ])('refuses %s with the wrong kind of credential, in one line that never shows it', (url, credential, wording) => {
    const message = failure(withRepo(url, credential));
    expect(message).toMatch(new RegExp(`^invalid config goticket:gitRepoCredential: an ${wording.source}`));
    expect(message).not.toContain(credential.trim().split('\n')[1] ?? credential);
  });
});

describe('reading the Pulumi stack config', () => {
  it('loads structured keys from the stack (the same values as the file)', () => {
    pulumi.runtime.setAllConfig(filledInProdConfig());
    const cfg = loadStackConfig();
    expect(cfg).toEqual(parseStackConfig(committed('prod')));
  });

  it('rejects a key the program does not know (a typo would otherwise be ignored)', () => {
    pulumi.runtime.setAllConfig({ ...stackConfig('dev'), 'goticket:hots': 'x.example.com' });
    expect(() => loadStackConfig()).toThrow(/^unknown config goticket:hots$/);
  });

  it('rejects a structured key that is not a map', () => {
    pulumi.runtime.setAllConfig({ ...stackConfig('dev'), 'goticket:monitoring': 'retention=3d' });
    expect(() => loadStackConfig()).toThrow(/^invalid config goticket:monitoring: expected a YAML map$/);
  });

  it('ignores aws:region in dev (no AWS there) but requires it in prod', () => {
    pulumi.runtime.setAllConfig({ ...stackConfig('dev'), 'aws:region': 'eu-west-1' });
    expect(loadStackConfig().environment).toBe('dev');
    const { 'aws:region': _region, ...prod } = filledInProdConfig();
    pulumi.runtime.setAllConfig(prod);
    expect(() => loadStackConfig()).toThrow(/^missing config aws:region$/);
  });
});
