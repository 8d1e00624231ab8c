/**
 * Composes the components for the stack's environment. dev: a Kind cluster and no AWS at all.
 * prod: VPC, EKS, RDS, ElastiCache, Amazon MQ and ECR through one AWS provider whose
 * defaultTags put project/environment/managed-by on every taggable resource.
 */
import * as path from 'node:path';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { APP, ARGOCD, IN_CLUSTER_BACKENDS, NAMESPACE, PAYMENTS, PROD_NETWORK, RUNTIME_SECRET } from '../platform/contract';
import { defaultTags, type DevConfig, type ProdConfig, type StackConfig } from './config';
import { Broker } from './components/broker';
import { Cache } from './components/cache';
import type { ClusterHandle } from './components/cluster';
import { Database } from './components/database';
import { EksCluster } from './components/eks-cluster';
import { GitOps } from './components/gitops';
import { KindCluster } from './components/kind-cluster';
import { Network } from './components/network';
import { PaymentsDatabaseRole } from './components/payments-database';
import { Platform } from './components/platform';
import { Registry } from './components/registry';
import { Runtime, type RuntimeArgs } from './components/runtime';

export interface StackOutputs {
  environment: string;
  /** Secret. */
  kubeconfig: pulumi.Output<string>;
  clusterName: pulumi.Output<string>;
  ingressHostname: string;
  appUrl: string;
  grafanaUrl: string;
  argocdUrl: string;
  /** Where outside traffic arrives (the shared Gateway): its NLB host name (point DNS at it) or localhost. */
  ingressAddress: pulumi.Output<string>;
  databaseEndpoint: pulumi.Input<string>;
  cacheEndpoint: pulumi.Input<string>;
  brokerEndpoint: pulumi.Input<string>;
  registryUrl?: pulumi.Output<string>;
  sealingCertificate: pulumi.Output<string>;
  /** Secret. */
  grafanaAdminPassword: pulumi.Output<string>;
  runtimeSecret: string;
  paymentsSecret: string;
  gitopsSource: string;
}

interface Backing {
  cluster: ClusterHandle;
  backends: RuntimeArgs['backends'];
  endpoints: Pick<StackOutputs, 'databaseEndpoint' | 'cacheEndpoint' | 'brokerEndpoint' | 'registryUrl'>;
}

function devBacking(cfg: DevConfig, repoRoot: string): Backing {
  const cluster = new KindCluster('dev', {
    clusterName: cfg.kind.clusterName,
    configFile: path.resolve(repoRoot, cfg.kind.configFile),
  });
  const svc = (s: { service: string; port: number }) => `${s.service}.${NAMESPACE}.svc:${s.port}`;
  return {
    cluster,
    backends: { kind: 'in-cluster' },
    endpoints: {
      databaseEndpoint: svc(IN_CLUSTER_BACKENDS.postgres),
      cacheEndpoint: svc(IN_CLUSTER_BACKENDS.redis),
      brokerEndpoint: svc(IN_CLUSTER_BACKENDS.rabbitmq),
    },
  };
}

function prodBacking(cfg: ProdConfig): Backing {
  const awsProvider = new aws.Provider('aws', {
    region: cfg.awsRegion,
    defaultTags: { tags: defaultTags(cfg.environment) },
  });
  const opts = { providers: { aws: awsProvider } };

  const network = new Network(
    'goticket',
    {
      cidrBlock: cfg.network.vpcCidr,
      availabilityZones: cfg.network.availabilityZones,
      subnets: PROD_NETWORK.subnets,
      natGateways: cfg.network.natGateways,
      flowLogRetentionDays: cfg.network.flowLogRetentionDays,
      clusterName: cfg.eks.clusterName,
      awsProvider,
    },
    opts,
  );
  const cluster = new EksCluster(
    'goticket',
    {
      settings: cfg.eks,
      vpcId: network.vpcId,
      privateSubnetIds: network.privateSubnetIds,
      publicSubnetIds: network.publicSubnetIds,
      awsProvider,
    },
    opts,
  );
  const data = { vpcId: network.vpcId, subnetIds: network.dataSubnetIds, nodeSecurityGroupId: cluster.nodeSecurityGroupId };
  const database = new Database('goticket-db', { ...data, ...cfg.database }, opts);
  const cache = new Cache('goticket-cache', { ...data, ...cfg.cache }, opts);
  const broker = new Broker(
    'goticket-mq',
    { ...data, ...cfg.broker, kubernetes: { provider: cluster.provider, dependsOn: cluster.ready } },
    opts,
  );
  const registry = new Registry('goticket', { repositoryName: APP, untaggedExpiryDays: 14 }, opts);
  // The payments service's own login: schema payments only, no grant on the booking tables.
  const paymentsRole = new PaymentsDatabaseRole(
    'goticket-db-payments',
    {
      database: {
        host: database.address,
        port: database.port,
        name: database.databaseName,
        user: database.username,
        password: database.password,
      },
      kubernetes: { provider: cluster.provider, dependsOn: [...cluster.ready, database] },
    },
    opts,
  );

  return {
    cluster,
    backends: {
      kind: 'managed',
      database: {
        host: database.address,
        port: database.port,
        user: database.username,
        password: database.password,
        name: database.databaseName,
      },
      paymentsDatabase: { user: paymentsRole.user, password: paymentsRole.password, ready: paymentsRole.ready },
      cache: { host: cache.primaryEndpoint, port: cache.port, authToken: cache.authToken },
      broker: {
        host: broker.host,
        port: broker.port,
        user: broker.username,
        password: broker.password,
        vhost: broker.vhost,
        ready: broker.appUserReady,
      },
    },
    endpoints: {
      databaseEndpoint: pulumi.interpolate`${database.address}:${database.port}`,
      cacheEndpoint: pulumi.interpolate`${cache.primaryEndpoint}:${cache.port}`,
      brokerEndpoint: pulumi.interpolate`${broker.host}:${broker.port}`,
      registryUrl: registry.repositoryUrl,
    },
  };
}

export function createStack(cfg: StackConfig, repoRoot: string): StackOutputs {
  const { cluster, backends, endpoints } = cfg.environment === 'dev' ? devBacking(cfg, repoRoot) : prodBacking(cfg);

  const platform = new Platform('platform', {
    environment: cfg.environment,
    provider: cluster.provider,
    storageClassName: cluster.storageClassName,
    appHost: cfg.host,
    grafanaHost: cfg.grafanaHost,
    argocdHost: cfg.argocdHost,
    monitoring: cfg.monitoring,
    acmeEmail: cfg.environment === 'prod' ? cfg.acmeEmail : undefined,
    clusterReady: cluster.ready,
  });
  const runtime = new Runtime('runtime', {
    provider: cluster.provider,
    backends,
    sentryDsn: cfg.sentryDsn,
    oauth: { googleClientSecret: cfg.oauthGoogleClientSecret, githubClientSecret: cfg.oauthGithubClientSecret },
    stripe: cfg.environment === 'prod' ? { apiKey: cfg.stripeApiKey, webhookSecret: cfg.stripeWebhookSecret } : undefined,
    dependsOn: cluster.ready,
  });
  const gitops = new GitOps('gitops', {
    environment: cfg.environment,
    provider: cluster.provider,
    mode: cfg.deployMode,
    repoUrl: cfg.gitRepoUrl,
    repoCredential: cfg.gitRepoCredential ? { username: cfg.gitRepoUsername, secret: cfg.gitRepoCredential } : undefined,
    revision: cfg.gitRevision,
    repoRoot,
    argocdNamespace: ARGOCD.namespace,
    dependsOn: [...platform.ready, runtime],
  });

  return {
    environment: cfg.environment,
    kubeconfig: cluster.kubeconfig,
    clusterName: cluster.clusterName,
    ingressHostname: cfg.host,
    appUrl: `https://${cfg.host}`,
    grafanaUrl: platform.grafanaUrl,
    argocdUrl: platform.argocdUrl,
    ingressAddress: platform.ingressAddress,
    ...endpoints,
    sealingCertificate: platform.sealingCertificate,
    grafanaAdminPassword: platform.grafanaAdminPassword,
    runtimeSecret: `${NAMESPACE}/${RUNTIME_SECRET}`,
    paymentsSecret: `${NAMESPACE}/${PAYMENTS.secret}`,
    gitopsSource:
      cfg.deployMode === 'gitops'
        ? `${cfg.gitRepoUrl}@${cfg.gitRevision}:${gitops.sourcePath}`
        : `${repoRoot}/${gitops.sourcePath} (direct)`,
  };
}
