/**
 * The platform contract: every value the two halves of the platform must agree on, written once.
 * Pulumi (infra/) builds the cluster level, cdk8s (charts/) the namespace level, the policy pack
 * (policies/) checks both, and the scripts the workflows call (scripts/) stand in for either in CI;
 * each imports these names instead of repeating the literal. Plain constants and no imports, so
 * anything may depend on this module and it depends on nothing (platform/test checks both).
 */

export type EnvName = 'dev' | 'prod';
export const ENV_NAMES: readonly EnvName[] = ['dev', 'prod'];

// ---------------------------------------------------------------- the service

/** The service's name: label value, resource-name prefix, image and ECR repository name. */
export const APP = 'goticket';
/** The service's namespace: Pulumi creates it (the runtime Secret lives there), cdk8s fills it. */
export const NAMESPACE = 'goticket';

/** Label keys every object carries (app.kubernetes.io recommended labels). */
export const LABELS = {
  name: 'app.kubernetes.io/name',
  component: 'app.kubernetes.io/component',
  partOf: 'app.kubernetes.io/part-of',
  managedBy: 'app.kubernetes.io/managed-by',
} as const;

/** The namespace's labels, the same whether Pulumi or cdk8s writes them: Pod Security "restricted". */
export const NAMESPACE_LABELS = {
  [LABELS.partOf]: APP,
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/audit': 'restricted',
  'pod-security.kubernetes.io/warn': 'restricted',
} as const;

/** The roles the one image runs as (`node build/app/main.js <role>`): Deployments api, worker and payments, Job migrate. */
type Component = 'api' | 'worker' | 'payments' | 'migrate';
/** Components that serve HTTP (the api; the worker's health and metrics; the payments service's webhook, health and metrics). */
export const HTTP_COMPONENTS = ['api', 'worker', 'payments'] as const satisfies readonly Component[];

/** The port api and worker listen on (PORT), named `http` on their containers and Services. */
export const APP_PORT = 8080;
export const APP_PORT_NAME = 'http';

/** The api's gRPC edge (GRPC_PORT), named `grpc` on its container and Service (HTTP/2 cleartext in the cluster). */
export const GRPC_PORT = 9090;
export const GRPC_PORT_NAME = 'grpc';
/** Pods of other namespaces that may call the gRPC port directly (the cluster's own clients): they carry this label. */
/**
 * The gRPC services the shared Gateway routes to the api (GRPCRoute): every service of the published
 * protos (proto/goticket/v1; a test compares), not grpc.health.v1 nor reflection.
 */
export const GRPC_PUBLIC_SERVICES = ['goticket.v1.EventService', 'goticket.v1.BookingService'] as const;
export const GRPC_CLIENT_LABELS = { 'goticket.io/grpc-client': 'true' } as const;

/** Services cdk8s creates that the edge, Prometheus and the smoke tests reach by name. */
export const SERVICES = {
  api: { name: `${APP}-api`, port: 80, grpcPort: GRPC_PORT },
  worker: { name: `${APP}-worker`, port: APP_PORT },
  /** The payments service: the provider's webhook (through the Gateway) and its metrics. */
  payments: { name: `${APP}-payments`, port: APP_PORT },
} as const;

/** Non-secret configuration cdk8s writes for the pods. */
export const CONFIG_MAP = `${APP}-config`;

// ---------------------------------------------------------------- the runtime Secret

/** Created by Pulumi, never by cdk8s (nor committed): backend URLs and credentials. */
export const RUNTIME_SECRET = `${APP}-runtime`;
/**
 * The keys of RUNTIME_SECRET the service reads, in every environment. Pulumi writes exactly these
 * (plus the dev dependencies' passwords), the pods load them with envFrom, and the service refuses
 * to start in production without any of them: platform/test feeds them to its own loadConfig.
 */
export const RUNTIME_KEYS = [
  'DATABASE_URL',
  'REDIS_URL',
  'AMQP_URL',
  'JWT_SECRET',
  'OAUTH_GOOGLE_CLIENT_SECRET',
  'OAUTH_GITHUB_CLIENT_SECRET',
] as const;
export type RuntimeKey = (typeof RUNTIME_KEYS)[number];
/**
 * Social sign-in client secrets (issue 19), from Pulumi config secrets. Each is needed only where
 * the environment enables its provider (the charts set the matching client id, which is public);
 * elsewhere the key is present and empty, and the provider is off.
 */
export const OAUTH_SECRET_KEYS = {
  OAUTH_GOOGLE_CLIENT_SECRET: 'OAUTH_GOOGLE_CLIENT_ID',
  OAUTH_GITHUB_CLIENT_SECRET: 'OAUTH_GITHUB_CLIENT_ID',
} as const;
export type OAuthSecretKey = keyof typeof OAUTH_SECRET_KEYS;
/**
 * Keys of RUNTIME_SECRET Pulumi writes only when their stack config is set: SENTRY_DSN (secret
 * stack config `sentryDsn`; the service sends errors to Sentry only when it is set).
 */
export const OPTIONAL_RUNTIME_KEYS = ['SENTRY_DSN'] as const;
export type OptionalRuntimeKey = (typeof OPTIONAL_RUNTIME_KEYS)[number];
/**
 * The one egress rule to the public internet (charts/network-policies.ts), and the only shape the
 * manifest policy (policies/rules/kubernetes/objects.ts) accepts for it: api pods to the identity
 * providers on TCP 443, every non-public range excepted, the reason in an annotation.
 */
export const IDENTITY_PROVIDER_EGRESS = {
  policy: 'api-to-identity-providers',
  port: 443,
  reasonAnnotation: 'goticket.dev/egress-reason',
  reason: 'social sign-in: Google and GitHub publish no stable address ranges; https only, public addresses only',
  /** RFC 1918, loopback, link-local (instance metadata), CGNAT, "this network", multicast and reserved. */
  exceptV4: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '127.0.0.0/8', '169.254.0.0/16', '100.64.0.0/10', '0.0.0.0/8', '224.0.0.0/3'],
  /** Unique-local, link-local, loopback, multicast. */
  exceptV6: ['fc00::/7', 'fe80::/10', '::1/128', 'ff00::/8'],
} as const;

/**
 * The payments service (issue 20): its own Deployment, ServiceAccount and Service (all named
 * SERVICES.payments.name), its own Secret, its own database role (prod) on its own schema.
 */
export const PAYMENTS = {
  component: 'payments',
  /** The public path the edge routes to the payments Service (app/src/payments/webhook.ts WEBHOOK_PATH; charts/test compares). */
  webhookPath: '/api/v1/payments/webhook',
  /**
   * Created by Pulumi (never cdk8s, never committed), read only by the payments pods (envFrom, after
   * the ConfigMap): api and worker never see the provider's key nor the payments role's password.
   * DATABASE_URL here is the payments role's own login (prod), so it wins over nothing: the payments
   * pods do not load RUNTIME_SECRET whole.
   */
  secret: `${APP}-payments-runtime`,
  secretKeys: ['DATABASE_URL', 'STRIPE_API_KEY', 'STRIPE_WEBHOOK_SECRET'],
  /**
   * The keys of RUNTIME_SECRET the payments pods take one by one (secretKeyRef): AMQP_URL only. No
   * JWT_SECRET (it signs and checks no token) and no REDIS_URL (it uses no cache, rate limit or
   * revocation): loadConfig's production requirements are per role (app/src/config.ts).
   */
  runtimeKeys: ['AMQP_URL'] as const satisfies readonly RuntimeKey[],
  /** PostgreSQL (prod): the login role the payments service connects as and the schema it owns; no grant on the booking tables. */
  database: { role: `${APP}_payments`, schema: 'payments' },
} as const;
export type PaymentsSecretKey = (typeof PAYMENTS.secretKeys)[number];

/**
 * The payments service's egress to the provider (Stripe's API): the same shape as the identity
 * providers' (TCP 443, public addresses only, the reason in the annotation), payments pods only.
 */
export const PAYMENT_PROVIDER_EGRESS = {
  policy: 'payments-to-provider',
  port: 443,
  reasonAnnotation: IDENTITY_PROVIDER_EGRESS.reasonAnnotation,
  reason: 'payments: Stripe API (api.stripe.com) over https; its published ranges change without notice; public addresses only',
  exceptV4: IDENTITY_PROVIDER_EGRESS.exceptV4,
  exceptV6: IDENTITY_PROVIDER_EGRESS.exceptV6,
} as const;

/** The runtime keys that point at a backend (the rest is generated for the service itself, or given by the team). */
export type BackendUrlKey = Exclude<RuntimeKey, 'JWT_SECRET' | OAuthSecretKey>;

// ---------------------------------------------------------------- backends

/**
 * dev: PostgreSQL, Redis and RabbitMQ run in NAMESPACE (charts/dependencies.ts), reached by
 * Service name; their passwords are keys of RUNTIME_SECRET that only they read.
 */
export const IN_CLUSTER_BACKENDS = {
  postgres: { service: 'postgres', port: 5432, user: APP, database: APP, passwordKey: 'POSTGRES_PASSWORD' },
  redis: { service: 'redis', port: 6379, passwordKey: 'REDIS_PASSWORD' },
  rabbitmq: { service: 'rabbitmq', port: 5672, user: APP, passwordKey: 'RABBITMQ_PASSWORD' },
} as const;
/** RUNTIME_SECRET keys only the in-cluster backends read (dev). */
export const DEPENDENCY_KEYS = [
  IN_CLUSTER_BACKENDS.postgres.passwordKey,
  IN_CLUSTER_BACKENDS.redis.passwordKey,
  IN_CLUSTER_BACKENDS.rabbitmq.passwordKey,
] as const;
export type DependencyKey = (typeof DEPENDENCY_KEYS)[number];

/**
 * The CA bundle the service verifies RDS PostgreSQL against (verify-full: the chain AND the host
 * name). Committed at `repoPath` (every unexpired Amazon RDS root and regional CA), copied into the
 * image at `imagePath` by the Dockerfile, pinned by `sha256` (platform/test checks the file against
 * it; infra/README.md "Refreshing the RDS CA bundle" is how it changes).
 */
export const RDS_CA_BUNDLE = {
  repoPath: 'app/certs/rds-ca-bundle.pem',
  imagePath: '/app/app/certs/rds-ca-bundle.pem',
  sha256: '26edf290f2d57ebbd5273fb9463b763497a47c14a4712d73ce47da8dc4ad57dc',
  /** The CA RDS instances present (database.ts caCertIdentifier); its region's root is in the bundle. */
  rdsCaIdentifier: 'rds-ca-rsa2048-g1',
} as const;

/** prod: the ports of RDS PostgreSQL, ElastiCache Redis (TLS) and Amazon MQ (AMQPS): security groups and NetworkPolicies. */
export const MANAGED_BACKEND_PORTS = { postgres: 5432, redis: 6379, amqp: 5671 } as const;

/**
 * The prod VPC and its subnets, one block per availability zone, fixed rather than left to awsx's
 * allocator: the NetworkPolicies of dist/prod allow egress to exactly the data subnets.
 */
export const PROD_NETWORK = {
  vpcCidr: '10.0.0.0/16',
  subnets: {
    /** Load balancers and NAT gateways. */
    public: ['10.0.0.0/22', '10.0.4.0/22', '10.0.8.0/22'],
    /** EKS nodes and, through the VPC CNI, their pods. */
    nodes: ['10.0.32.0/19', '10.0.64.0/19', '10.0.96.0/19'],
    /** RDS, ElastiCache and Amazon MQ (no route to the internet). */
    data: ['10.0.128.0/24', '10.0.129.0/24', '10.0.130.0/24'],
  },
} as const;

// ---------------------------------------------------------------- versions in support

/**
 * Versions every place that runs a component must agree on, each a line its upstream still
 * supports. platform/test/versions.test.ts reads the Dockerfile, the workflows, docker-compose.yml,
 * charts/dependencies.ts and the stack files and compares them with these.
 */
export const VERSIONS = {
  /** Node.js LTS lines the image and CI run (Node 20 reached end of life on 2026-04-30). `engines` says the same. */
  nodeLts: [22, 24],
  /** The line the image is built on. */
  nodeImage: 24,
  /** PostgreSQL: one major in CI, docker-compose, Kind and RDS (engineVersion). */
  postgresMajor: '16',
  postgresImage: 'postgres:16.10',
  /** RabbitMQ 4.x (3.13 is out of community support): CI, docker-compose and Kind; Amazon MQ runs the same minor. */
  rabbitmqMinor: '4.2',
  rabbitmqImage: 'rabbitmq:4.2.0',
  /**
   * EKS Kubernetes minors in standard support (as of 2026-12; extended support is billed at a
   * higher rate). infra/config.ts refuses any other; infra/README.md "Upgrading EKS" moves it.
   */
  eksStandardSupport: ['1.35', '1.36'],
  /**
   * Amazon MQ for RabbitMQ: the instance families AWS offers per engine line (4.x runs on M7g
   * only; mq.t3.micro takes 3.13 single-instance brokers only). infra/config.ts checks the pairing.
   */
  amazonMqInstanceFamilies: { '3.13': ['t3', 'm5', 'm7g'], '4.2': ['m7g'] },
} as const;

// ---------------------------------------------------------------- the edge

/**
 * The edge: the Gateway API (gateway.networking.k8s.io, standard channel) implemented by Envoy
 * Gateway. Pulumi installs the controller and owns ONE shared Gateway per cluster; each app owns
 * its HTTPRoutes, which attach to that Gateway by name and listener (the Gateway API's
 * role-oriented split). Envoy Gateway runs the Gateway's data plane (Envoy) in its own namespace,
 * with the labels below: the api's NetworkPolicy admits exactly those pods.
 */
const EDGE_NAMESPACE = 'envoy-gateway-system';
const GATEWAY_NAME = 'goticket-edge';
export const EDGE = {
  /** Envoy Gateway's controller, and the Envoy pods of every Gateway it runs. */
  namespace: EDGE_NAMESPACE,
  releaseName: 'envoy-gateway',
  /** The Helm release of the Gateway API CRDs (standard channel) and Envoy Gateway's own CRDs. */
  crdsReleaseName: 'gateway-crds',
  gatewayClass: 'envoy-gateway',
  /** The EnvoyProxy object the GatewayClass points at: the data plane's Service, replicas, pod placement. */
  envoyProxy: 'goticket-edge-proxy',
  /** The shared Gateway every route attaches to (parentRefs name/namespace). */
  gateway: { name: GATEWAY_NAME, namespace: EDGE_NAMESPACE },
  /**
   * The Gateway's listeners (sectionName of a parentRef). `http` (80) serves only the HTTP->HTTPS
   * redirect and cert-manager's ACME HTTP-01 challenges; each public host has its own HTTPS (443)
   * listener, whose certificate cert-manager issues from the Gateway's annotation.
   */
  listeners: { http: 'http', api: 'https-api', grafana: 'https-grafana', argocd: 'https-argocd' },
  /** Labels Envoy Gateway puts on the Envoy (data-plane) pods of this Gateway. */
  podLabels: {
    'gateway.envoyproxy.io/owning-gateway-name': GATEWAY_NAME,
    'gateway.envoyproxy.io/owning-gateway-namespace': EDGE_NAMESPACE,
  },
  /** The data plane's Service (EnvoyProxy envoyService.name): an NLB in prod, NodePorts behind Kind's host ports in dev. */
  service: 'goticket-edge-envoy',
  /** Kind: the NodePorts the Envoy Service uses, which infra/kind-config.yaml maps to the host's 80/443. */
  kindNodePorts: { http: 30080, https: 30443 },
  /**
   * Proxies between a client and the service that append to X-Forwarded-For: Envoy only (the NLB
   * passes TCP through and keeps the client's address). The service's TRUST_PROXY.
   */
  trustedProxyHops: 1,
} as const;

// ---------------------------------------------------------------- monitoring

/** kube-prometheus-stack: where it runs and how its Prometheus selects what to scrape. */
export const MONITORING = {
  namespace: 'monitoring',
  releaseName: 'kube-prometheus-stack',
  /**
   * serviceMonitorSelector/ruleSelector default to the Helm release: ServiceMonitors and
   * PrometheusRules without this label are silently ignored.
   */
  releaseLabel: { release: 'kube-prometheus-stack' },
  prometheusPodLabels: { [LABELS.name]: 'prometheus' },
  /** The annotation naming a dashboard ConfigMap's Grafana folder (the dashboards sidecar's folderAnnotation). */
  grafanaFolderAnnotation: 'grafana_folder',
} as const;

// ---------------------------------------------------------------- certificates

export const CERT_MANAGER = { namespace: 'cert-manager' } as const;
/** cert-manager ClusterIssuers Pulumi creates and routes name. */
export const CLUSTER_ISSUERS = { selfSigned: 'selfsigned', letsEncrypt: 'letsencrypt-prod' } as const;
/** The issuer of each environment: Let's Encrypt needs a public DNS name, Kind has none. */
export const CLUSTER_ISSUER_OF: Readonly<Record<EnvName, string>> = { dev: CLUSTER_ISSUERS.selfSigned, prod: CLUSTER_ISSUERS.letsEncrypt };

// ---------------------------------------------------------------- GitOps

export const ARGOCD = { namespace: 'argocd', project: APP, application: APP } as const;
/** What Argo CD syncs (and `deployMode: direct` applies) per environment, relative to the repository root. */
export const MANIFESTS_DIR: Readonly<Record<EnvName, string>> = { dev: 'dist/dev', prod: 'dist/prod' };

// ---------------------------------------------------------------- Pod Security of the platform

export type PssLevel = 'privileged' | 'baseline' | 'restricted';
/**
 * The Pod Security level each add-on namespace enforces (Pulumi labels them) and the exceptions
 * the policy pack allows: as strict as each upstream chart allows.
 */
export const PLATFORM_POD_SECURITY: Readonly<Record<string, PssLevel | Readonly<Record<EnvName, PssLevel>>>> = {
  // Envoy Gateway's controller and Envoy pods run as non-root with no host ports: baseline everywhere
  // (its chart does not set every field "restricted" asks for).
  [EDGE.namespace]: 'baseline',
  [CERT_MANAGER.namespace]: 'restricted',
  // node-exporter needs the host network, PID namespace and filesystem.
  [MONITORING.namespace]: 'privileged',
  [ARGOCD.namespace]: 'baseline',
};
