/** The prod stack (AWS) under Pulumi mocks, with the committed Pulumi.prod.yaml. */
import * as pulumi from '@pulumi/pulumi';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { APP_PERMISSIONS, BROKER_ADMIN_NAMESPACE, BROKER_VHOST, CURL_IMAGE, appUserScript } from '../components/broker';
import { PREVIEW_GROUP } from '../components/eks-cluster';
import { DB_ADMIN_NAMESPACE, paymentsRoleSql } from '../components/payments-database';
import { CHARTS, VALUES_DIR } from '../components/helm';
import {
  MOCK,
  field,
  isSecretValue,
  k8sObject,
  ofType,
  one,
  plain,
  providerOf,
  release,
  runProgram,
  filledInProdConfig,
  valuesFileNames,
  waitsFor,
  type ProgramRun,
  type Recorded,
  distObjects,
  kubernetesObjects,
  notPermittedByProject,
  REPO_ROOT,
} from './harness';
import { validateInChild } from '../../charts/test/helpers';
import { prod as prodManifests } from '../../charts/environments';
import { API_RPS_METRIC } from '../../charts/goticket';
import { releaseScheme } from '../../scripts/lib/image-chain';
import { API as API_ROUTES, REQUESTS } from '../../charts/observability/rules';
import { CLUSTER_ISSUER_OF, PAYMENTS, PROD_NETWORK, RDS_CA_BUNDLE, VERSIONS } from '../../platform/contract';
import { serviceStartupTests } from './service-startup';

const { subnets: PROD_SUBNETS, vpcCidr: PROD_VPC_CIDR } = PROD_NETWORK;

/** An IPv4 CIDR as the [first, last] address numbers it covers. */
function range(cidr: string): [number, number] {
  const [address, bits] = cidr.split('/');
  const base = address!.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(bits));
  expect(base % size).toBe(0); // a real network address, not a host inside it
  return [base, base + size - 1];
}

let run: ProgramRun;

beforeAll(async () => {
  run = await runProgram('prod', filledInProdConfig());
});

const TAGS = { project: 'goticket', environment: 'prod', 'managed-by': 'pulumi' };
const rds = () => one(run, 'aws:rds/instance:Instance');
const redis = () => one(run, 'aws:elasticache/replicationGroup:ReplicationGroup');
const mq = () => one(run, 'aws:mq/broker:Broker');
const cluster = () => one(run, 'eks:index:Cluster');

describe('prod inventory', () => {
  it('creates every component', () => {
    const components = run.resources
      .filter((r) => r.type.startsWith('goticket:'))
      .map((r) => r.type)
      .sort();
    expect(components).toEqual([
      'goticket:cluster:EksCluster',
      'goticket:data:Broker',
      'goticket:data:Cache',
      'goticket:data:Database',
      'goticket:data:PaymentsDatabaseRole',
      'goticket:gitops:GitOps',
      'goticket:network:Network',
      'goticket:platform:Platform',
      'goticket:registry:Registry',
      'goticket:runtime:Runtime',
    ]);
  });

  it.each([
    ['awsx:ec2:Vpc', 1],
    ['aws:ec2/flowLog:FlowLog', 1],
    ['aws:cloudwatch/logGroup:LogGroup', 1],
    ['eks:index:Cluster', 1],
    ['eks:index:ManagedNodeGroup', 1],
    ['aws:eks/addon:Addon', 3],
    ['aws:kms/key:Key', 3],
    ['aws:rds/instance:Instance', 1],
    ['aws:rds/parameterGroup:ParameterGroup', 1],
    ['aws:rds/subnetGroup:SubnetGroup', 1],
    ['aws:elasticache/replicationGroup:ReplicationGroup', 1],
    ['aws:elasticache/subnetGroup:SubnetGroup', 1],
    ['aws:mq/broker:Broker', 1],
    ['aws:ec2/securityGroup:SecurityGroup', 3],
    ['aws:ecr/repository:Repository', 1],
    ['kubernetes:helm.sh/v3:Release', 8],
    ['kubernetes:gateway.networking.k8s.io/v1:Gateway', 1],
    ['kubernetes:gateway.networking.k8s.io/v1:HTTPRoute', 3],
    ['kubernetes:cert-manager.io/v1:ClusterIssuer', 2],
    ['kubernetes:storage.k8s.io/v1:StorageClass', 1],
    ['kubernetes:argoproj.io/v1alpha1:Application', 1],
    ['command:local:Command', 0],
  ])('%s × %i', (type, count) => {
    expect(ofType(run, type)).toHaveLength(count);
  });
});

describe('tags and providers', () => {
  it('has exactly one AWS provider, in the configured region, tagging project/environment/managed-by', () => {
    const p = one(run, 'pulumi:providers:aws');
    expect(p.name).toBe('aws');
    expect(p.inputs.region).toBe('eu-west-1');
    expect(JSON.parse(p.inputs.defaultTags as string)).toEqual({ tags: TAGS });
  });

  it('creates every AWS resource through that provider (never the default one)', () => {
    const awsResources = run.resources.filter((r) => r.type.startsWith('aws:'));
    expect(awsResources.length).toBeGreaterThan(20);
    for (const r of awsResources) expect([r.name, providerOf(r)]).toEqual([r.name, { pkg: 'aws', name: 'aws' }]);
  });

  it('hands the provider to the remote components (awsx VPC, EKS cluster and node group)', () => {
    for (const type of ['awsx:ec2:Vpc', 'eks:index:Cluster', 'eks:index:ManagedNodeGroup']) {
      expect(one(run, type).providers).toMatchObject({ aws: 'aws' });
    }
  });

  it('sends every Kubernetes object through the EKS provider', () => {
    for (const r of run.resources.filter((x) => x.type.startsWith('kubernetes:'))) {
      expect([r.name, providerOf(r)]).toEqual([r.name, { pkg: 'kubernetes', name: 'goticket-k8s' }]);
    }
  });
});

describe('network', () => {
  it('spans 3 AZs in 10.0.0.0/16 with a NAT gateway per AZ and public, node and isolated data subnets', () => {
    const vpc = one(run, 'awsx:ec2:Vpc');
    expect(vpc.inputs).toMatchObject({ cidrBlock: '10.0.0.0/16', numberOfAvailabilityZones: 3, natGateways: { strategy: 'OnePerAz' } });
    const specs = vpc.inputs.subnetSpecs as { type: string; name: string; tags?: Record<string, string> }[];
    expect(specs.map((s) => [s.type, s.name])).toEqual([
      ['Public', 'public'],
      ['Private', 'nodes'],
      ['Isolated', 'data'],
    ]);
    expect(specs[0]!.tags).toMatchObject({ 'kubernetes.io/role/elb': '1', 'kubernetes.io/cluster/goticket-prod': 'shared' });
  });

  it('lays the subnets out explicitly, one block per AZ, inside the VPC and never overlapping', () => {
    const vpc = one(run, 'awsx:ec2:Vpc');
    const specs = vpc.inputs.subnetSpecs as { name: string; cidrBlocks?: string[]; cidrMask?: number }[];
    // awsx takes an explicit layout only when every spec names its blocks, one per AZ, and no cidrMask disagrees
    expect(specs.map((s) => [s.name, s.cidrBlocks, s.cidrMask])).toEqual([
      ['public', PROD_SUBNETS.public, undefined],
      ['nodes', PROD_SUBNETS.nodes, undefined],
      ['data', PROD_SUBNETS.data, undefined],
    ]);
    const [vpcFirst, vpcLast] = range(PROD_VPC_CIDR);
    const blocks = Object.values(PROD_SUBNETS)
      .flat()
      .map((cidr) => range(cidr))
      .sort((a, b) => a[0] - b[0]);
    for (const [first, last] of blocks) expect(first >= vpcFirst && last <= vpcLast).toBe(true);
    for (let i = 1; i < blocks.length; i++) expect(blocks[i]![0]).toBeGreaterThan(blocks[i - 1]![1]);
  });

  it('the NetworkPolicies of dist/prod allow the backend ports to exactly the data subnets', () => {
    expect(prodManifests.backends).toMatchObject({ kind: 'vpc', cidrs: [...PROD_SUBNETS.data] });
    type Policy = { kind: string; metadata: { name: string }; spec: { egress: { to: { ipBlock?: { cidr: string } }[] }[] } };
    const policy = (distObjects('prod') as unknown as Policy[]).find(
      (o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'app-to-backends',
    );
    const peers = policy!.spec.egress.flatMap((rule) => rule.to.map((peer) => peer.ipBlock?.cidr));
    expect(peers).toEqual([...PROD_SUBNETS.data]);
  });

  it('records all VPC traffic in flow logs kept for the configured days', () => {
    const flow = one(run, 'aws:ec2/flowLog:FlowLog');
    expect(flow.inputs).toMatchObject({ vpcId: MOCK.vpcId, trafficType: 'ALL', logDestinationType: 'cloud-watch-logs' });
    expect(one(run, 'aws:cloudwatch/logGroup:LogGroup').inputs.retentionInDays).toBe(90);
    const policy = JSON.parse(field(one(run, 'aws:iam/rolePolicy:RolePolicy'), 'policy') as string);
    expect(JSON.stringify(policy)).not.toContain('"*"');
  });
});

describe('EKS', () => {
  it('runs a Kubernetes minor in standard support with upgradePolicy STANDARD (the provider default EXTENDED bills extended support)', () => {
    expect(VERSIONS.eksStandardSupport).toContain(cluster().inputs.version);
    expect(cluster().inputs.upgradePolicy).toEqual({ supportType: 'STANDARD' });
  });

  it('pins the Kubernetes version, keeps nodes private and uses access entries (API mode)', () => {
    expect(cluster().inputs).toMatchObject({
      name: 'goticket-prod',
      version: '1.35',
      vpcId: MOCK.vpcId,
      privateSubnetIds: MOCK.privateSubnetIds,
      nodeAssociatePublicIpAddress: false,
      authenticationMode: 'API',
      skipDefaultNodeGroup: true,
    });
  });

  it('restricts the public endpoint to the configured CIDRs and never to the internet', () => {
    expect(cluster().inputs.endpointPrivateAccess).toBe(true);
    expect(cluster().inputs.publicAccessCidrs).toEqual(['35.180.10.0/24']);
    expect(cluster().inputs.publicAccessCidrs).not.toContain('0.0.0.0/0');
  });

  it('gives the CI roles of pulumi.yml access entries: deploy is cluster admin, preview reads and may dry-run (break 3)', () => {
    const eksConfig = JSON.parse(filledInProdConfig()['goticket:eks']!) as { deployRoleArn: string; previewRoleArn: string };
    const entries = plain(cluster().inputs.accessEntries) as Record<
      string,
      {
        principalArn: string;
        kubernetesGroups?: string[];
        accessPolicies: Record<string, { policyArn: string; accessScope: { type: string } }>;
      }
    >;
    expect(entries.deploy).toEqual({
      principalArn: eksConfig.deployRoleArn,
      accessPolicies: {
        admin: { policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy', accessScope: { type: 'cluster' } },
      },
    });
    expect(entries.preview).toEqual({
      principalArn: eksConfig.previewRoleArn,
      kubernetesGroups: [PREVIEW_GROUP],
      accessPolicies: {
        view: { policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy', accessScope: { type: 'cluster' } },
      },
    });
  });

  it('lets the preview group dry-run create and patch exactly the kinds the program manages, nothing more', () => {
    const role = one(run, 'kubernetes:rbac.authorization.k8s.io/v1:ClusterRole');
    const rules = field(role, 'rules') as { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    for (const rule of rules) expect(rule.verbs).toEqual(['create', 'patch']);
    const granted = new Set(
      rules.flatMap((rule) => rule.apiGroups.flatMap((group) => rule.resources.map((resource) => `${group}/${resource}`))),
    );
    // every object the program creates through the cluster's provider (not Helm releases, not reads)
    const managed = new Set(
      kubernetesObjects(run).map((o) => {
        const group = String(o.apiVersion).includes('/') ? String(o.apiVersion).split('/')[0] : '';
        const kind = String(o.kind).toLowerCase();
        return `${group}/${kind.endsWith('s') ? `${kind}es` : /[^aeiou]y$/.test(kind) ? `${kind.slice(0, -1)}ies` : `${kind}s`}`;
      }),
    );
    expect([...granted].sort()).toEqual([...managed].sort());
    const binding = one(run, 'kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding');
    expect(field(binding, 'subjects')).toEqual([{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: PREVIEW_GROUP }]);
    expect(field(binding, 'roleRef')).toMatchObject({ kind: 'ClusterRole', name: field(role, 'metadata.name') });
  });

  it('logs every control-plane component and envelope-encrypts Secrets with a rotating KMS key', () => {
    expect(cluster().inputs.enabledClusterLogTypes).toEqual(['api', 'audit', 'authenticator', 'controllerManager', 'scheduler']);
    const key = one(run, 'aws:kms/key:Key', (r) => r.name === 'goticket-secrets');
    expect(key.inputs.enableKeyRotation).toBe(true);
    expect(cluster().inputs.encryptionConfigKeyArn).toBe('arn:aws:mock:::goticket-secrets');
  });

  it('sizes the managed node group from config, in the private subnets', () => {
    const nodes = one(run, 'eks:index:ManagedNodeGroup');
    expect(plain(nodes.inputs)).toMatchObject({
      subnetIds: MOCK.privateSubnetIds,
      instanceTypes: ['m7i.large'],
      amiType: 'AL2023_x86_64_STANDARD',
      diskSize: 50,
      scalingConfig: { minSize: 3, desiredSize: 3, maxSize: 9 },
    });
  });

  it('turns on NetworkPolicy enforcement in the VPC CNI before anything is deployed', () => {
    const cni = one(run, 'aws:eks/addon:Addon', (r) => r.inputs.addonName === 'vpc-cni');
    expect(cni.inputs.clusterName).toBe('goticket-prod');
    expect(JSON.parse(cni.inputs.configurationValues as string)).toEqual({ enableNetworkPolicy: 'true' });
    expect(cni.inputs.resolveConflictsOnCreate).toBe('OVERWRITE');
    // dist/prod's NetworkPolicies arrive through the Application, which waits for the add-on.
    expect(waitsFor(run, 'gitops-application', 'goticket-vpc-cni')).toBe(true);
  });

  it('installs the EBS CSI driver with Pod Identity and an encrypted gp3 default StorageClass', () => {
    const ebs = one(run, 'aws:eks/addon:Addon', (r) => r.inputs.addonName === 'aws-ebs-csi-driver');
    expect(ebs.inputs.clusterName).toBe('goticket-prod');
    expect(field(ebs, 'podIdentityAssociations.0.serviceAccount')).toBe('ebs-csi-controller-sa');
    const sc = one(run, 'kubernetes:storage.k8s.io/v1:StorageClass');
    expect(sc.inputs).toMatchObject({ provisioner: 'ebs.csi.aws.com', parameters: { type: 'gp3', encrypted: 'true' } });
  });
});

describe('database (RDS PostgreSQL 16)', () => {
  it('is encrypted with KMS, private, in the data subnets and deletion-protected', () => {
    expect(rds().inputs).toMatchObject({
      engine: 'postgres',
      engineVersion: '16',
      storageEncrypted: true,
      kmsKeyId: 'arn:aws:mock:::goticket-db-key',
      publiclyAccessible: false,
      deletionProtection: true,
      skipFinalSnapshot: false,
      multiAz: true,
      backupRetentionPeriod: 14,
      performanceInsightsEnabled: true,
      dbSubnetGroupName: 'goticket-db-subnets',
    });
    expect(one(run, 'aws:rds/subnetGroup:SubnetGroup').inputs.subnetIds).toEqual(MOCK.dataSubnetIds);
  });

  it('forces TLS through its parameter group', () => {
    const params = one(run, 'aws:rds/parameterGroup:ParameterGroup');
    expect(params.inputs.family).toBe('postgres16');
    expect(params.inputs.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'rds.force_ssl', value: '1' })]));
    expect(rds().inputs.parameterGroupName).toBe('goticket-db-params');
  });

  it('takes its password from a generated secret', () => {
    expect(isSecretValue(rds().inputs.password)).toBe(true);
    expect(plain(rds().inputs.password)).toBe(MOCK.password('goticket-db-password'));
  });
});

describe('cache (ElastiCache Redis)', () => {
  it('requires TLS, encrypts at rest, authenticates with a generated token and fails over across AZs', () => {
    expect(redis().inputs).toMatchObject({
      engine: 'redis',
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      atRestEncryptionEnabled: true,
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      numCacheClusters: 3,
    });
    expect(isSecretValue(redis().inputs.authToken)).toBe(true);
    expect(plain(redis().inputs.authToken)).toBe(MOCK.password('goticket-cache-auth-token'));
    expect(one(run, 'aws:elasticache/subnetGroup:SubnetGroup').inputs.subnetIds).toEqual(MOCK.dataSubnetIds);
  });
});

describe('broker (Amazon MQ for RabbitMQ)', () => {
  it('is a private multi-AZ cluster in the data subnets, with logs and a generated password', () => {
    expect(mq().inputs).toMatchObject({
      engineType: 'RabbitMQ',
      deploymentMode: 'CLUSTER_MULTI_AZ',
      publiclyAccessible: false,
      subnetIds: MOCK.dataSubnetIds,
      logs: { general: true },
    });
  });

  it('holds only the admin in `users`, created once and ignored after (a change there replaces the broker)', () => {
    expect(isSecretValue(mq().inputs.users)).toBe(true);
    expect(plain(mq().inputs.users)).toEqual([
      { username: 'goticket-admin', password: MOCK.password('goticket-mq-admin-password'), consoleAccess: false },
    ]);
    expect(mq().ignoreChanges).toEqual(['users']);
    // nothing else Pulumi creates ignores changes (an ignore rule is a decision, not a habit)
    expect(run.resources.filter((r) => r.ignoreChanges?.length).map((r) => r.name)).toEqual(['goticket-mq']);
  });

  it('gives the service its own least-privilege user: vhost goticket, configure/write/read only goticket.*, made by a Job in the VPC', () => {
    const job = k8sObject(run, 'batch/v1:Job', 'broker-app-user');
    expect(field(job, 'metadata.namespace')).toBe(BROKER_ADMIN_NAMESPACE);
    expect(job.dependsOn).toEqual(expect.arrayContaining(['goticket-mq', 'goticket-mq-admin-credentials']));
    expect(job.deleteBeforeReplace).toBe(true);
    const pod = field(job, 'spec.template.spec') as {
      containers: { image: string; command: string[]; envFrom: unknown[]; securityContext: unknown }[];
    };
    const [container] = pod.containers;
    expect(container!.image).toBe(CURL_IMAGE);
    expect(container!.command).toEqual(['sh', '-c', appUserScript()]);
    const script = appUserScript();
    expect(script).toContain(`put "vhosts/${BROKER_VHOST}" '{}'`);
    expect(script).toContain('put "users/$APP_USER"');
    expect(script).toContain(
      `put "permissions/${BROKER_VHOST}/$APP_USER" '{"configure":"^goticket\\\\.","write":"^goticket\\\\.","read":"^goticket\\\\."}'`,
    );
    expect(script).toMatch(/--fail-with-body .*--proto =https/);
    expect(script).not.toMatch(/--insecure|\s-k\s/);
    // the regex the permissions carry, as RabbitMQ reads it: every name the service declares, nothing else
    const re = new RegExp(APP_PERMISSIONS.configure);
    for (const name of ['goticket.events', 'goticket.dlx', 'goticket.notifications', 'goticket.notifications.dlq'])
      expect(re.test(name)).toBe(true);
    for (const name of ['amq.rabbitmq.trace', 'other.events', 'goticketx']) expect(re.test(name)).toBe(false);
    // the Job reads the admin and the app credentials from a Secret, never from its spec
    const credentials = k8sObject(run, 'core/v1:Secret', 'broker-credentials');
    expect(isSecretValue(credentials.inputs.stringData)).toBe(true);
    expect(plain(credentials.inputs.stringData)).toEqual({
      ADMIN_USER: 'goticket-admin',
      ADMIN_PASSWORD: MOCK.password('goticket-mq-admin-password'),
      APP_USER: 'goticket',
      APP_PASSWORD: MOCK.password('goticket-mq-password'),
      MQ_HOST: 'b-0mock.mq.eu-west-1.amazonaws.com',
    });
    expect(JSON.stringify(plain(job.inputs))).not.toContain(MOCK.password('goticket-mq-admin-password'));
    // a new app password is a new Job (its template carries the password's hash, not the password)
    const version = field(job, 'spec.template.metadata.annotations') as Record<string, string>;
    expect(version['goticket.io/app-password-version']).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('security groups', () => {
  const ingressRules = (): Recorded[] => ofType(run, 'aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule');

  it.each([
    ['goticket-db-sg', 5432],
    ['goticket-cache-sg', 6379],
    ['goticket-mq-sg', 5671, 443],
  ])('%s admits only the EKS node security group, on %i', (sg, ...ports) => {
    const rules = ingressRules().filter((r) => r.inputs.securityGroupId === `${sg}-id`);
    expect(rules).toHaveLength(ports.length);
    rules.forEach((rule, i) => {
      expect(rule.inputs).toMatchObject({
        referencedSecurityGroupId: MOCK.nodeSecurityGroupId,
        fromPort: ports[i],
        toPort: ports[i],
        ipProtocol: 'tcp',
      });
      expect(rule.inputs.cidrIpv4).toBeUndefined();
    });
  });

  it('attaches those groups to RDS, ElastiCache and Amazon MQ', () => {
    expect(rds().inputs.vpcSecurityGroupIds).toEqual(['goticket-db-sg-id']);
    expect(redis().inputs.securityGroupIds).toEqual(['goticket-cache-sg-id']);
    expect(mq().inputs.securityGroups).toEqual(['goticket-mq-sg-id']);
  });

  it('opens nothing to 0.0.0.0/0 except the load balancer’s 80/443', () => {
    const open: unknown[] = [];
    const world = (cidr: unknown) => cidr === '0.0.0.0/0' || cidr === '::/0';
    for (const r of run.resources) {
      const rules: Record<string, unknown>[] = [];
      if (r.type === 'aws:ec2/securityGroup:SecurityGroup') rules.push(...((r.inputs.ingress ?? []) as Record<string, unknown>[]));
      if (r.type === 'aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule') rules.push(r.inputs);
      if (r.type === 'aws:ec2/securityGroupRule:SecurityGroupRule' && r.inputs.type === 'ingress') rules.push(r.inputs);
      for (const rule of rules) {
        const cidrs = [
          rule.cidrIpv4,
          rule.cidrIpv6,
          ...((rule.cidrBlocks ?? []) as unknown[]),
          ...((rule.ipv6CidrBlocks ?? []) as unknown[]),
        ];
        const lbPort = (rule.fromPort === 80 && rule.toPort === 80) || (rule.fromPort === 443 && rule.toPort === 443);
        if (cidrs.some(world) && !lbPort) open.push([r.name, rule]);
      }
    }
    expect(open).toEqual([]);
  });
});

describe('registry (ECR)', () => {
  it('has immutable tags and scans on push', () => {
    expect(one(run, 'aws:ecr/repository:Repository').inputs).toMatchObject({
      name: 'goticket',
      imageTagMutability: 'IMMUTABLE',
      imageScanningConfiguration: { scanOnPush: true },
    });
  });

  it('is the repository release.yml pushes to (the image chain, scripts/lib/image-chain.ts)', () => {
    const release = releaseScheme(fs.readFileSync(path.join(__dirname, '..', '..', '.github', 'workflows', 'release.yml'), 'utf8'));
    expect(one(run, 'aws:ecr/repository:Repository').inputs.name).toBe(release.ecrRepository);
  });
});

serviceStartupTests('prod', () => run);

describe('runtime Secret (prod)', () => {
  it('is built from the generated credentials and the real endpoints, with TLS URLs, and stays secret', () => {
    const secret = k8sObject(run, 'core/v1:Secret', 'goticket-runtime');
    expect(field(secret, 'metadata.namespace')).toBe('goticket');
    expect(isSecretValue(secret.inputs.stringData)).toBe(true);
    const dbPassword = plain(rds().inputs.password) as string;
    const token = plain(redis().inputs.authToken) as string;
    const mqPassword = MOCK.password('goticket-mq-password'); // the service's user, not the admin
    expect(plain(secret.inputs.stringData)).toEqual({
      DATABASE_URL: `postgres://goticket:${dbPassword}@${MOCK.rdsAddress}:5432/goticket?sslmode=verify-full&sslrootcert=${encodeURIComponent(RDS_CA_BUNDLE.imagePath)}&uselibpqcompat=true`,
      REDIS_URL: `rediss://:${token}@${MOCK.redisPrimary}:6379`,
      AMQP_URL: `amqps://goticket:${mqPassword}@b-0mock.mq.eu-west-1.amazonaws.com:5671/goticket`,
      JWT_SECRET: MOCK.password('runtime-jwt-secret'),
      // the team's own config secrets (harness: filledInProdConfig), never generated
      OAUTH_GOOGLE_CLIENT_SECRET: 'GOCSPX-test-google-client-secret',
      OAUTH_GITHUB_CLIENT_SECRET: 'test-github-client-secret-0123456789abcdef',
    });
    expect(JSON.stringify(plain(secret.inputs.stringData))).not.toContain(MOCK.password('goticket-mq-admin-password'));
    expect(secret.dependsOn).toContain('goticket-mq-app-user');
  });
});

describe('payments (prod): its own database role and its own Secret', () => {
  const job = () => k8sObject(run, 'batch/v1:Job', 'payments-role');

  it('a Job inside the cluster makes the role with psql from the pinned PostgreSQL image, over verified TLS, in a locked-down namespace', () => {
    expect(field(job(), 'metadata.namespace')).toBe(DB_ADMIN_NAMESPACE);
    const pod = field(job(), 'spec.template.spec') as {
      automountServiceAccountToken: boolean;
      securityContext: Record<string, unknown>;
      containers: { image: string; command: string[]; env: { name: string; value: string }[]; securityContext: Record<string, unknown> }[];
    };
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    const [container] = pod.containers;
    expect(container!.image).toBe(VERSIONS.postgresImage);
    expect(container!.command[0]).toBe('psql');
    expect(container!.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(Object.fromEntries(container!.env.map((e) => [e.name, e.value]))).toMatchObject({ PGSSLMODE: 'verify-full' });
    // the CA bundle it verifies RDS with is the committed one
    const script = k8sObject(run, 'core/v1:ConfigMap', 'payments-role');
    expect((script.inputs.data as Record<string, string>)['rds-ca-bundle.pem']).toBe(
      fs.readFileSync(path.join(REPO_ROOT, RDS_CA_BUNDLE.repoPath), 'utf8'),
    );
    expect((script.inputs.data as Record<string, string>)['payments-role.sql']).toBe(paymentsRoleSql());
    // default deny, then DNS and the data subnets' 5432 only
    const egress = k8sObject(run, 'networking.k8s.io/v1:NetworkPolicy', 'postgres-and-dns');
    expect(JSON.stringify(field(egress, 'spec.egress'))).not.toMatch(/0\.0\.0\.0\/0/);
    const denies = ofType(run, 'kubernetes:networking.k8s.io/v1:NetworkPolicy').filter(
      (np) => field(np, 'metadata.name') === 'default-deny-all' && np.name.startsWith('goticket-db-payments'),
    );
    expect(denies.map((np) => field(np, 'spec.policyTypes'))).toEqual([['Ingress', 'Egress']]);
    expect(job().deleteBeforeReplace).toBe(true);
  });

  it('the role’s SQL grants nothing on schema public (the booking tables, their schema_migrations included) nor CREATE on the database', () => {
    const sql = paymentsRoleSql();
    const grants = sql.split('\n').filter((line) => /\bGRANT /.test(line) && !/^(REVOKE|ALTER DEFAULT)|REVOKE /.test(line));
    expect(grants.filter((line) => /\bpublic\b/.test(line))).toEqual([]);
    expect(grants.filter((line) => /ON DATABASE/.test(line))).toEqual([]);
    expect(
      grants.filter((line) => /ON (ALL )?TABLES? /.test(line)).every((line) => line.includes(`SCHEMA ${PAYMENTS.database.schema}`)),
    ).toBe(true);
    expect(sql).toContain(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${PAYMENTS.database.role};`);
    expect(sql).toContain(`REVOKE CREATE ON DATABASE %I FROM ${PAYMENTS.database.role}`);
    // the owner's and the role's passwords reach the Job through a Secret, never its spec
    const credentials = k8sObject(run, 'core/v1:Secret', 'database-owner');
    expect(isSecretValue(credentials.inputs.stringData)).toBe(true);
    expect(plain(credentials.inputs.stringData)).toMatchObject({
      PGUSER: 'goticket',
      PGPASSWORD: plain(rds().inputs.password),
      PAYMENTS_PASSWORD: MOCK.password('goticket-db-payments-password'),
      PGHOST: MOCK.rdsAddress,
    });
    expect(JSON.stringify(plain(job().inputs))).not.toContain(MOCK.password('goticket-db-payments-password'));
  });

  it('the payments Secret holds the role’s login and the Stripe keys from the stack’s config secrets, every value secret, and waits for the role', () => {
    const secret = k8sObject(run, 'core/v1:Secret', PAYMENTS.secret);
    expect(field(secret, 'metadata.namespace')).toBe('goticket');
    const data = secret.inputs.stringData as Record<string, unknown>;
    expect(isSecretValue(data)).toBe(true);
    expect(plain(data)).toEqual({
      DATABASE_URL: `postgres://${PAYMENTS.database.role}:${MOCK.password('goticket-db-payments-password')}@${MOCK.rdsAddress}:5432/goticket?sslmode=verify-full&sslrootcert=${encodeURIComponent(RDS_CA_BUNDLE.imagePath)}&uselibpqcompat=true`,
      STRIPE_API_KEY: 'sk_live_goticketTestKey0123456789',
      STRIPE_WEBHOOK_SECRET: 'whsec_goticketTestSecret0123456789',
    });
    expect(secret.dependsOn).toContain('goticket-db-payments-job');
    // the runtime Secret the booking side loads holds none of them
    expect(Object.keys(plain(k8sObject(run, 'core/v1:Secret', 'goticket-runtime').inputs.stringData) as object)).not.toContain(
      'STRIPE_API_KEY',
    );
    expect(run.outputs.paymentsSecret).toBe(`goticket/${PAYMENTS.secret}`);
  });
});

describe('platform on EKS', () => {
  it('pins every chart and layers the prod values files', async () => {
    for (const r of ofType(run, 'kubernetes:helm.sh/v3:Release')) {
      expect(Object.values(CHARTS).map((c) => `${c.chart}@${c.version}`)).toContain(
        `${String(r.inputs.chart)}@${String(r.inputs.version)}`,
      );
    }
    expect(await valuesFileNames(release(run, 'gateway-crds'))).toEqual(['gateway-crds.yaml']);
  });

  it('serves the resource metrics the api HPA of dist/prod scales on (metrics-server, verified kubelet TLS)', async () => {
    const hpa = distObjects('prod').find((o) => o.kind === 'HorizontalPodAutoscaler') as { spec: { metrics: { type: string }[] } };
    expect(hpa.spec.metrics.map((m) => m.type)).toContain('Resource');
    const ms = release(run, 'metrics-server');
    expect(ms.inputs.namespace).toBe('kube-system');
    expect(await valuesFileNames(ms)).toEqual(['metrics-server.yaml']);
  });

  it('serves the requests-per-second metric the api HPA of dist/prod targets (prometheus-adapter over the platform Prometheus)', async () => {
    type Hpa = {
      kind: string;
      spec: { metrics: { type: string; pods?: { metric: { name: string }; target: { averageValue: string } } }[] };
    };
    const hpa = (distObjects('prod') as unknown as Hpa[]).find((o) => o.kind === 'HorizontalPodAutoscaler')!;
    const pods = hpa.spec.metrics.find((m) => m.type === 'Pods')!.pods!;
    expect(pods).toEqual({
      metric: { name: API_RPS_METRIC },
      target: { type: 'AverageValue', averageValue: String(prodManifests.api.requestsPerSecond) },
    });

    const adapter = release(run, 'prometheus-adapter');
    expect(adapter.inputs.namespace).toBe('monitoring');
    expect(adapter.dependsOn).toContain('platform-kube-prometheus-stack');
    expect(await valuesFileNames(adapter)).toEqual(['prometheus-adapter.yaml']);
    // the Service kube-prometheus-stack creates for its Prometheus: <release>-prometheus
    expect(field(adapter, 'values.prometheus')).toEqual({
      url: `http://${String(release(run, 'kube-prometheus-stack').inputs.name)}-prometheus.monitoring.svc`,
      port: 9090,
    });

    type Rule = { seriesQuery: string; resources: unknown; name: { matches: string; as: string }; metricsQuery: string };
    const values = parse(fs.readFileSync(path.join(VALUES_DIR, 'prometheus-adapter.yaml'), 'utf8')) as {
      rules: { default: boolean; custom: Rule[] };
    };
    expect(values.rules.default).toBe(false);
    expect(values.rules.custom).toHaveLength(1);
    const rule = values.rules.custom[0]!;
    // served under the name the HPA asks for, per pod, from the counter the recording rules use, API routes only
    expect(rule.name.as).toBe(API_RPS_METRIC);
    expect(rule.seriesQuery.startsWith(`${REQUESTS}{`)).toBe(true);
    expect(rule.resources).toEqual({ overrides: { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } } });
    expect(rule.metricsQuery).toContain(`{<<.LabelMatchers>>,${API_ROUTES}}`);
    expect(rule.metricsQuery).toMatch(/^sum\(rate\(<<\.Series>>.*\[2m\]\)\) by \(<<\.GroupBy>>\)$/);
  });

  it('issues certificates from Let’s Encrypt (http01 through the shared Gateway) with the configured e-mail', () => {
    const le = k8sObject(run, 'cert-manager.io/v1:ClusterIssuer', CLUSTER_ISSUER_OF.prod); // the one the prod Gateway names
    expect(field(le, 'spec.acme')).toMatchObject({
      server: 'https://acme-v02.api.letsencrypt.org/directory',
      email: 'platform@goticket.cloud',
    });
    expect(JSON.stringify(field(le, 'spec.acme.solvers'))).toContain('gatewayHTTPRoute');
    expect(le.dependsOn).toContain('platform-cert-manager');
    expect(field(k8sObject(run, 'gateway.networking.k8s.io/v1:Gateway', 'goticket-edge'), 'metadata.annotations')).toEqual({
      'cert-manager.io/cluster-issuer': 'letsencrypt-prod',
    });
  });

  it('sizes Prometheus and Grafana storage from config on the gp3 class', () => {
    const kps = release(run, 'kube-prometheus-stack');
    expect(field(kps, 'values.prometheus.prometheusSpec.retention')).toBe('30d');
    expect(field(kps, 'values.prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.resources.requests.storage')).toBe('100Gi');
    expect(field(kps, 'values.grafana.persistence')).toEqual({ enabled: true, storageClassName: 'gp3', size: '10Gi' });
  });

  it('keeps the Grafana admin password in a Secret the chart reads (never in values)', () => {
    const admin = k8sObject(run, 'core/v1:Secret', 'grafana-admin');
    expect(field(admin, 'metadata.namespace')).toBe('monitoring');
    expect(isSecretValue(admin.inputs.stringData)).toBe(true);
    expect(JSON.stringify(plain(release(run, 'kube-prometheus-stack').inputs.values))).not.toContain(
      MOCK.password('platform-grafana-admin'),
    );
  });

  it('generates a 4096-bit RSA sealing key and installs it as the active key before the controller', () => {
    expect(one(run, 'tls:index/privateKey:PrivateKey').inputs).toMatchObject({ algorithm: 'RSA', rsaBits: 4096 });
    const key = k8sObject(run, 'core/v1:Secret', 'sealed-secrets-key');
    expect(key.inputs.type).toBe('kubernetes.io/tls');
    expect(field(key, 'metadata.namespace')).toBe('kube-system');
    expect(field(key, 'metadata.labels')).toEqual({ 'sealedsecrets.bitnami.com/sealed-secrets-key': 'active' });
    expect(isSecretValue(key.inputs.stringData)).toBe(true);
    expect(plain(key.inputs.stringData)).toEqual({ 'tls.crt': MOCK.certPem, 'tls.key': MOCK.keyPem });
    const controller = release(run, 'sealed-secrets');
    expect(controller.inputs.namespace).toBe('kube-system');
    expect(controller.dependsOn).toContain('platform-sealing-key');
  });

  it('installs add-ons after the nodes, CSI driver and storage class exist', () => {
    expect(waitsFor(run, 'platform-kube-prometheus-stack', 'goticket-gp3')).toBe(true);
    expect(waitsFor(run, 'platform-sealing-key', 'goticket-nodes')).toBe(true);
    // Every add-on with a ServiceMonitor waits for the Prometheus operator's CRDs.
    for (const name of ['cert-manager', 'sealed-secrets', 'argo-cd']) {
      expect(waitsFor(run, `platform-${name}`, 'platform-kube-prometheus-stack')).toBe(true);
    }
  });
});

describe('GitOps (prod)', () => {
  it('syncs dist/prod of the configured repository after the add-ons and the runtime Secret', () => {
    const app = k8sObject(run, 'argoproj.io/v1alpha1:Application', 'goticket');
    expect(field(app, 'spec.source.path')).toBe('dist/prod');
    expect(field(app, 'spec.source.repoURL')).toBe('https://github.com/goticket-platform/goticket.git');
    expect(field(app, 'spec.syncPolicy.syncOptions')).toContain('ServerSideApply=true');
    expect(waitsFor(run, 'gitops-application', 'platform-argo-cd')).toBe(true);
    expect(waitsFor(run, 'gitops-application', 'platform-issuer-letsencrypt-prod')).toBe(true);
    expect(waitsFor(run, 'gitops-application', 'runtime')).toBe(true);
  });

  it('permits every object of dist/prod in its AppProject', () => {
    const project = plain(k8sObject(run, 'argoproj.io/v1alpha1:AppProject', 'goticket').inputs) as Record<string, unknown>;
    expect(notPermittedByProject(project, distObjects('prod'))).toEqual([]);
  });
});

describe('Kubernetes objects Pulumi creates (prod)', () => {
  it('validate against the Kubernetes and CRD schemas (cert-manager, Argo CD, Gateway API) with no unknown field', () => {
    // Envoy Gateway publishes no schema package for its own EnvoyProxy (infra/test/edge-cases.ts checks it field by field).
    const objects = kubernetesObjects(run).filter((o) => o.apiVersion !== 'gateway.envoyproxy.io/v1alpha1');
    expect(objects.map((o) => o.kind)).toEqual(
      expect.arrayContaining(['Namespace', 'Secret', 'StorageClass', 'ClusterIssuer', 'AppProject', 'Application', 'Gateway', 'HTTPRoute']),
    );
    const reports = validateInChild(['-'], objects);
    expect(reports).toHaveLength(objects.length);
    expect(reports.filter((r) => r.problems.length)).toEqual([]);
  });
});

describe('prod stack outputs', () => {
  it('reports the cluster, hosts, URLs and the managed endpoints', () => {
    expect(run.outputs).toMatchObject({
      environment: 'prod',
      clusterName: 'goticket-prod',
      ingressHostname: 'tickets.goticket.cloud',
      appUrl: 'https://tickets.goticket.cloud',
      grafanaUrl: 'https://grafana.goticket.cloud',
      argocdUrl: 'https://argocd.goticket.cloud',
      ingressAddress: MOCK.lbHostname,
      databaseEndpoint: `${MOCK.rdsAddress}:5432`,
      cacheEndpoint: `${MOCK.redisPrimary}:6379`,
      brokerEndpoint: 'b-0mock.mq.eu-west-1.amazonaws.com:5671',
      registryUrl: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/goticket',
      sealingCertificate: MOCK.certPem,
    });
  });

  it('keeps the kubeconfig and the Grafana password secret', async () => {
    expect(await pulumi.isSecret(run.exports.kubeconfig as pulumi.Output<string>)).toBe(true);
    expect(await pulumi.isSecret(run.exports.grafanaAdminPassword as pulumi.Output<string>)).toBe(true);
  });
});

describe('component structure (prod)', () => {
  it('parents every resource to a component, and the components to the stack', () => {
    const components = [
      'goticket:network:Network',
      'goticket:cluster:EksCluster',
      'goticket:data:Database',
      'goticket:data:Cache',
      'goticket:data:Broker',
      'goticket:data:PaymentsDatabaseRole',
      'goticket:registry:Registry',
      'goticket:platform:Platform',
      'goticket:runtime:Runtime',
      'goticket:gitops:GitOps',
    ];
    expect(
      run.resources
        .filter((r) => r.type.startsWith('goticket:'))
        .map((r) => [r.type, r.parentType ?? 'stack'])
        .sort(),
    ).toEqual(components.map((c) => [c, 'stack']).sort());
    // Outside the components only the AWS provider, which carries the default tags into all of them.
    const outside = run.resources.filter((r) => !r.type.startsWith('goticket:') && !r.parentType?.startsWith('goticket:'));
    expect(outside.map((r) => `${r.type} ${r.parentType ?? 'stack'}`)).toEqual(['pulumi:providers:aws stack']);
  });
});
