/**
 * The app chart: namespace, service accounts, config, the api, worker and payments Deployments
 * (one image, three roles), the migrate Job (Argo CD hook), Services, HTTPRoutes (on the shared
 * Gateway: the api's, and the payment provider's webhook to the payments service), HPA and PDBs.
 */
import { ApiObject, Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-28';
import { type Construct } from 'constructs';
import { type Environment, imagePullPolicyOf, nodeHeapOptions } from './environments';
import {
  APP,
  APP_PORT,
  APP_PORT_NAME,
  CONFIG_MAP,
  EDGE,
  GRPC_PORT,
  GRPC_PORT_NAME,
  GRPC_PUBLIC_SERVICES,
  NAMESPACE,
  NAMESPACE_LABELS,
  OAUTH_SECRET_KEYS,
  OPTIONAL_RUNTIME_KEYS,
  PAYMENTS,
  RUNTIME_SECRET,
  SERVICES,
} from '../platform/contract';
import {
  CHART_PROPS,
  KubeDeploymentWithPreStop,
  checksum,
  emptyDirVolume,
  hardenedPodSpec,
  meta,
  resources,
  selectorLabels,
  serviceAccount,
  syncWave,
  topologySpread,
} from './lib';

/** The custom metric the api HPA's requests-per-second target reads (served by prometheus-adapter, infra/values/prometheus-adapter.yaml). */
export const API_RPS_METRIC = 'http_requests_per_second';

/** The image's user (Dockerfile): non-root, writes only /tmp. */
export const APP_UID = 10001;
/** Long enough for endpoints and the gateway's Envoy to stop routing to a terminating pod. */
export const PRE_STOP_SECONDS = 5;
/** Slack on top of preStop + SHUTDOWN_TIMEOUT before the kubelet sends SIGKILL. */
const GRACE_SLACK_SECONDS = 5;
const ENTRY = 'build/app/main.js';

export type Role = 'api' | 'worker' | 'payments' | 'migrate';

export const name = (role: Role): string => `${APP}-${role}`;

export interface GoTicketProps {
  env: Environment;
  /** SealedSecrets of this environment: their keys join the api/worker environment. */
  sealedSecrets: readonly string[];
}

/** Every ConfigMap key the service reads (app/src/config.ts), with this environment's values. */
export function configData(env: Environment): Record<string, string> {
  const { SHUTDOWN_TIMEOUT_SECONDS, ...rest } = env.config;
  return {
    NODE_ENV: 'production',
    PORT: String(APP_PORT),
    GRPC_PORT: String(GRPC_PORT),
    ...rest,
    SHUTDOWN_TIMEOUT: `${SHUTDOWN_TIMEOUT_SECONDS}s`,
    CORS_ORIGINS: `https://${env.host}`,
    // Social sign-in: the providers send browsers back to this environment's own host.
    OAUTH_REDIRECT_BASE_URL: `https://${env.host}`,
    ...(env.oauth?.googleClientId ? { OAUTH_GOOGLE_CLIENT_ID: env.oauth.googleClientId } : {}),
    ...(env.oauth?.githubClientId ? { OAUTH_GITHUB_CLIENT_ID: env.oauth.githubClientId } : {}),
  };
}

/**
 * Error tracking's release (on when the runtime Secret holds SENTRY_DSN): which build an error came
 * from. It sits on the container beside the image, not in the ConfigMap, so a promotion changes the
 * image's lines only (the ConfigMap and its checksum stay, and the chart snapshot's image marker covers it).
 */
export function releaseEnv(env: Environment): k8s.EnvVar {
  return { name: 'SENTRY_RELEASE', value: imageRelease(env.image) };
}

/** The release an image reference names: its tag (`repo:tag`, `repo:tag@sha256:…`), else its digest. */
export function imageRelease(image: string): string {
  const [ref, digest] = image.split('@');
  return /:([^:/]+)$/.exec(ref!)?.[1] ?? digest ?? ref!;
}

export function terminationGracePeriodSeconds(env: Environment): number {
  return PRE_STOP_SECONDS + env.config.SHUTDOWN_TIMEOUT_SECONDS + GRACE_SLACK_SECONDS;
}

const httpGet = (path: string): k8s.HttpGetAction => ({ path, port: k8s.IntOrString.fromString(APP_PORT_NAME) });

/** Startup allows 60 s for boot (migrations run in their own Job); liveness never checks backends. */
const PROBES: Pick<k8s.Container, 'startupProbe' | 'livenessProbe' | 'readinessProbe'> = {
  startupProbe: { httpGet: httpGet('/healthz/live'), periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 30 },
  livenessProbe: { httpGet: httpGet('/healthz/live'), periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
  readinessProbe: { httpGet: httpGet('/healthz/ready'), periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
};

type RouteManifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: Record<string, unknown>;
};
type PathMatch = { path: { type: 'PathPrefix' | 'Exact'; value: string } };
const path = (type: 'PathPrefix' | 'Exact', value: string): PathMatch => ({ path: { type, value } });

const API_LISTENER = {
  group: 'gateway.networking.k8s.io',
  kind: 'Gateway',
  name: EDGE.gateway.name,
  namespace: EDGE.gateway.namespace,
  sectionName: EDGE.listeners.api,
};

/** An HTTPRoute on the shared Gateway's api listener, for this environment's host, to one Service. */
function routeOn(
  env: Environment,
  routeName: string,
  component: 'api' | 'payments',
  matches: PathMatch[],
  backend: { name: string; port: number },
): RouteManifest {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: meta(routeName, selectorLabels(APP, component)) as RouteManifest['metadata'],
    spec: {
      parentRefs: [API_LISTENER],
      hostnames: [env.host],
      rules: [{ matches, backendRefs: [{ group: '', kind: 'Service', name: backend.name, port: backend.port }] }],
    },
  };
}

/** The api's HTTPRoute (a plain object: the chart emits it, the tests validate it with @kubernetes-models/gateway-api). */
export function httpRouteManifest(env: Environment): RouteManifest {
  return routeOn(
    env,
    APP,
    'api',
    [path('PathPrefix', '/api'), path('PathPrefix', '/docs'), path('Exact', '/openapi.json'), path('Exact', '/graphql')],
    SERVICES.api,
  );
}

/**
 * The payment provider's webhook, on the same host and listener, to the payments Service. An Exact
 * match outranks the api route's `/api` prefix (Gateway API precedence), so this one path, and no
 * other, reaches the payments pods from outside.
 */
function paymentsRouteManifest(env: Environment): RouteManifest {
  return routeOn(env, SERVICES.payments.name, 'payments', [path('Exact', PAYMENTS.webhookPath)], SERVICES.payments);
}

/**
 * The payments container's own environment: Node's heap, the release, the one key of the
 * shared runtime Secret it needs (PAYMENTS.runtimeKeys, one by one: never the booking side's
 * DATABASE_URL), SENTRY_DSN where Pulumi wrote it, the social sign-in client ids of the ConfigMap
 * blanked (the payments service serves no sign-in, so it gets no client secret, and an id without
 * its secret stops the service), and with the local provider NODE_ENV
 * development, which is what makes the service run its local Stripe-compatible server (no
 * STRIPE_API_KEY outside production) instead of refusing to start.
 */
function paymentsEnv(env: Environment): k8s.EnvVar[] {
  const fromRuntime = (key: string, optional = false): k8s.EnvVar => ({
    name: key,
    valueFrom: { secretKeyRef: { name: RUNTIME_SECRET, key, ...(optional ? { optional: true } : {}) } },
  });
  return [
    { name: 'NODE_OPTIONS', value: nodeHeapOptions(env.payments.resources.memoryLimit) },
    releaseEnv(env),
    ...PAYMENTS.runtimeKeys.map((key) => fromRuntime(key)),
    ...OPTIONAL_RUNTIME_KEYS.map((key) => fromRuntime(key, true)),
    ...Object.values(OAUTH_SECRET_KEYS).map((clientId) => ({ name: clientId, value: '' })),
    ...(env.payments.provider === 'local' ? [{ name: 'NODE_ENV', value: 'development' }] : []),
  ];
}

/**
 * The api's gRPC surface on the same HTTPS listener and host (Envoy speaks HTTP/2 to the Service's
 * h2c port): only the public services of the published protos. grpc.health.v1 and reflection stay
 * inside the cluster (the kubelet probes health; reflection is for the cluster's own tooling).
 */
export function grpcRouteManifest(env: Environment): RouteManifest {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'GRPCRoute',
    metadata: meta(APP, selectorLabels(APP, 'api')) as RouteManifest['metadata'],
    spec: {
      parentRefs: [API_LISTENER],
      hostnames: [env.host],
      rules: [
        {
          matches: GRPC_PUBLIC_SERVICES.map((service) => ({ method: { type: 'Exact', service } })),
          backendRefs: [{ group: '', kind: 'Service', name: SERVICES.api.name, port: SERVICES.api.grpcPort }],
        },
      ],
    },
  };
}

export class GoTicketChart extends Chart {
  constructor(scope: Construct, id: string, props: GoTicketProps) {
    super(scope, id, CHART_PROPS);
    const { env } = props;

    new k8s.KubeNamespace(this, 'namespace', {
      metadata: {
        name: NAMESPACE,
        labels: { ...NAMESPACE_LABELS },
        // Pulumi creates it first with the same labels (the runtime Secret lives here): Argo CD must never
        // delete it, neither when pruning (Prune=false) nor when the Application itself is deleted or
        // replaced (Delete=false: its finalizer would otherwise take the Pulumi-owned Secret with it).
        annotations: { 'argocd.argoproj.io/sync-options': 'Prune=false,Delete=false' },
      },
    });

    const config = configData(env);
    new k8s.KubeConfigMap(this, 'config', { metadata: meta(CONFIG_MAP, { 'app.kubernetes.io/name': APP }), data: config });

    const envFrom: k8s.EnvFromSource[] = [
      { configMapRef: { name: CONFIG_MAP } },
      { secretRef: { name: RUNTIME_SECRET } },
      ...props.sealedSecrets.map((secret) => ({ secretRef: { name: secret } })),
    ];

    for (const role of ['api', 'worker', 'payments'] as const) {
      const labels = selectorLabels(APP, role);
      const workload = env[role].resources;
      serviceAccount(this, name(role), labels);
      new KubeDeploymentWithPreStop(
        this,
        role,
        {
          metadata: meta(name(role), labels),
          spec: {
            // The api's replica count belongs to its HPA: setting it here would fight the HPA on every sync.
            ...(role === 'api' ? {} : { replicas: env[role].replicas }),
            revisionHistoryLimit: 5,
            selector: { matchLabels: labels },
            strategy: {
              type: 'RollingUpdate',
              rollingUpdate: { maxUnavailable: k8s.IntOrString.fromNumber(0), maxSurge: k8s.IntOrString.fromString('25%') },
            },
            template: {
              metadata: {
                labels: { ...labels, 'app.kubernetes.io/part-of': APP },
                annotations: { 'goticket.io/config-checksum': checksum(config) },
              },
              spec: hardenedPodSpec({
                uid: APP_UID,
                serviceAccountName: name(role),
                terminationGracePeriodSeconds: terminationGracePeriodSeconds(env),
                topologySpreadConstraints: topologySpread(labels, env.zoneSpread, env.nodeSpread),
                volumes: [emptyDirVolume('tmp')],
                containers: [
                  {
                    name: role,
                    image: env.image,
                    imagePullPolicy: imagePullPolicyOf(env.image),
                    args: [ENTRY, role],
                    ports: [
                      { name: APP_PORT_NAME, containerPort: APP_PORT, protocol: 'TCP' },
                      ...(role === 'api' ? [{ name: GRPC_PORT_NAME, containerPort: GRPC_PORT, protocol: 'TCP' }] : []),
                    ],
                    // V8 sizes its heap from the node's memory otherwise, not from this container's limit.
                    env:
                      role === 'payments'
                        ? paymentsEnv(env)
                        : [{ name: 'NODE_OPTIONS', value: nodeHeapOptions(workload.memoryLimit) }, releaseEnv(env)],
                    // The payments pods: the ConfigMap, then their own Secret (its DATABASE_URL is the payments role's login).
                    envFrom:
                      role === 'payments' ? [{ configMapRef: { name: CONFIG_MAP } }, { secretRef: { name: PAYMENTS.secret } }] : envFrom,
                    resources: resources(workload),
                    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
                    ...PROBES,
                  },
                ],
              }),
            },
          },
        },
        PRE_STOP_SECONDS,
      );

      // The worker's Service only exists so Prometheus (ServiceMonitor) can find its /metrics; the
      // payments Service carries the provider's webhook (HTTPRoute) and the metrics.
      new k8s.KubeService(this, `${role}-service`, {
        metadata: meta(SERVICES[role].name, labels),
        spec: {
          type: 'ClusterIP',
          selector: labels,
          ports: [
            { name: APP_PORT_NAME, port: SERVICES[role].port, targetPort: k8s.IntOrString.fromString(APP_PORT_NAME), protocol: 'TCP' },
            // HTTP/2 cleartext: the edge and in-cluster clients speak gRPC to it directly.
            ...(role === 'api'
              ? [
                  {
                    name: GRPC_PORT_NAME,
                    port: SERVICES.api.grpcPort,
                    targetPort: k8s.IntOrString.fromString(GRPC_PORT_NAME),
                    protocol: 'TCP',
                    appProtocol: 'kubernetes.io/h2c',
                  },
                ]
              : []),
          ],
        },
      });

      // maxUnavailable (not minAvailable) so a single-replica workload never blocks a node drain.
      new k8s.KubePodDisruptionBudget(this, `${role}-pdb`, {
        metadata: meta(name(role), labels),
        spec: {
          maxUnavailable: k8s.IntOrString.fromNumber(1),
          selector: { matchLabels: labels },
          unhealthyPodEvictionPolicy: 'AlwaysAllow',
        },
      });
    }

    this.autoscaler(env);
    this.routes(env);
    this.migrateJob(env, config);
  }

  private autoscaler(env: Environment): void {
    const { api } = env;
    const metrics: k8s.MetricSpecV2[] = [
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: api.cpuUtilization } } },
    ];
    if (api.requestsPerSecond !== undefined) {
      metrics.push({
        type: 'Pods',
        pods: {
          metric: { name: API_RPS_METRIC },
          target: { type: 'AverageValue', averageValue: k8s.Quantity.fromString(String(api.requestsPerSecond)) },
        },
      });
    }
    new k8s.KubeHorizontalPodAutoscalerV2(this, 'api-hpa', {
      metadata: meta(name('api'), selectorLabels(APP, 'api')),
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: name('api') },
        minReplicas: api.minReplicas,
        maxReplicas: api.maxReplicas,
        metrics,
        // Scale up fast, scale down slowly: a flapping replica count drops keep-alive connections.
        behavior: {
          scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 30 }] },
          scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] },
        },
      },
    });
  }

  /**
   * The api's public surface as an HTTPRoute on the shared Gateway's api listener (HTTPS; the
   * listener's certificate comes from cert-manager, the HTTP->HTTPS redirect from the platform).
   * Only these paths: /healthz and /metrics stay inside the cluster.
   */
  private routes(env: Environment): void {
    for (const [id, route] of [
      ['route', httpRouteManifest(env)],
      ['grpc-route', grpcRouteManifest(env)],
      ['payments-route', paymentsRouteManifest(env)],
    ] as const) {
      new ApiObject(this, id, { apiVersion: route.apiVersion, kind: route.kind, metadata: route.metadata, spec: route.spec });
    }
  }

  /**
   * Runs before the new pods start. As a hook it cannot rely on objects of the normal sync:
   * its ServiceAccount is a hook of the same phase one wave earlier, and its settings are
   * inline (the ConfigMap may not exist yet on the first sync).
   */
  private migrateJob(env: Environment, config: Record<string, string>): void {
    const labels = selectorLabels(APP, 'migrate');
    const hook = (wave: number) => ({
      'argocd.argoproj.io/hook': env.migrationHook,
      'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation',
      ...syncWave(wave),
    });
    serviceAccount(this, name('migrate'), labels, hook(-2));
    new k8s.KubeJob(this, 'migrate', {
      metadata: meta(name('migrate'), labels, hook(-1)),
      spec: {
        backoffLimit: 3,
        activeDeadlineSeconds: 600,
        template: {
          metadata: { labels: { ...labels, 'app.kubernetes.io/part-of': APP } },
          spec: hardenedPodSpec({
            uid: APP_UID,
            serviceAccountName: name('migrate'),
            restartPolicy: 'Never',
            volumes: [emptyDirVolume('tmp')],
            containers: [
              {
                name: 'migrate',
                image: env.image,
                imagePullPolicy: imagePullPolicyOf(env.image),
                args: [ENTRY, 'migrate'],
                env: [
                  ...Object.entries(config).map(([key, value]) => ({ name: key, value })),
                  { name: 'NODE_OPTIONS', value: nodeHeapOptions(env.migrate.resources.memoryLimit) },
                  releaseEnv(env),
                ],
                envFrom: [{ secretRef: { name: RUNTIME_SECRET } }],
                resources: resources(env.migrate.resources),
                volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
              },
            ],
          }),
        },
      },
    });
  }
}
