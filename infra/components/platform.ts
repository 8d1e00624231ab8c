import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import * as tls from '@pulumi/tls';
import { ARGOCD, CERT_MANAGER, CLUSTER_ISSUER_OF, CLUSTER_ISSUERS, EDGE, MONITORING, PLATFORM_POD_SECURITY } from '../../platform/contract';
import type { Environment, MonitoringConfig } from '../config';
import { addonRoute, edgeObjects, type KubeObject } from './edge';
import { chartRelease } from './helm';
import { generatedSecret } from './passwords';

export interface PlatformArgs {
  environment: Environment;
  provider: k8s.Provider;
  storageClassName: string;
  /** The api's public host: the Gateway's api listener. */
  appHost: string;
  grafanaHost: string;
  argocdHost: string;
  monitoring: MonitoringConfig;
  /** Required in prod: the Let's Encrypt account e-mail. */
  acmeEmail?: string;
  /** Resources the add-ons need first (node groups, CSI driver, storage class). */
  clusterReady: pulumi.Input<pulumi.Resource>[];
}

export const NAMESPACES = {
  edge: EDGE.namespace,
  certManager: CERT_MANAGER.namespace,
  monitoring: MONITORING.namespace,
  argocd: ARGOCD.namespace,
  sealedSecrets: 'kube-system',
  metricsServer: 'kube-system',
} as const;

export const SEALING_KEY = {
  name: 'sealed-secrets-key',
  label: 'sealedsecrets.bitnami.com/sealed-secrets-key',
} as const;

/** Pod Security admission per add-on namespace (the contract's levels): as strict as each add-on allows. */
function podSecurityLabels(environment: Environment): Record<string, Record<string, string>> {
  return Object.fromEntries(
    Object.entries(PLATFORM_POD_SECURITY).map(([namespace, level]) => [
      namespace,
      {
        'pod-security.kubernetes.io/enforce': typeof level === 'string' ? level : level[environment],
        'pod-security.kubernetes.io/audit': 'restricted',
        'pod-security.kubernetes.io/warn': 'restricted',
      },
    ]),
  );
}

/**
 * Cluster add-ons, each a pinned Helm release with values from infra/values/: the Gateway API
 * CRDs and Envoy Gateway (+ the shared Gateway, infra/components/edge.ts), cert-manager
 * (+ ClusterIssuers, with its Gateway API support on), sealed-secrets (with a sealing key Pulumi generates and
 * installs before the controller), kube-prometheus-stack, Argo CD, metrics-server (the
 * resource metrics API behind the api's HPA) and prometheus-adapter (its requests-per-second metric).
 *
 * Order: the Gateway API CRDs and kube-prometheus-stack first (CRDs everything else uses: routes,
 * ServiceMonitors); cert-manager after both (it watches Gateways only if their CRDs exist when it
 * starts); Envoy Gateway after the CRDs, the Gateway after Envoy Gateway and cert-manager; every
 * route (Grafana, Argo CD, the ACME solvers) and Argo CD itself after the Gateway; ClusterIssuers
 * after cert-manager (CRDs + webhook); the sealing key before sealed-secrets.
 */
export class Platform extends pulumi.ComponentResource {
  /** PEM certificate to seal secrets with offline (`kubeseal --cert`). */
  readonly sealingCertificate: pulumi.Output<string>;
  readonly clusterIssuer: string;
  readonly grafanaUrl: string;
  readonly argocdUrl: string;
  /** Secret. */
  readonly grafanaAdminPassword: pulumi.Output<string>;
  /** Public address of the shared Gateway (its NLB host name in prod, localhost on Kind). */
  readonly ingressAddress: pulumi.Output<string>;
  /** Releases the application manifests need (CRDs, webhooks, the gateway controller). */
  readonly releases: k8s.helm.v3.Release[];
  readonly argocd: k8s.helm.v3.Release;
  /** The shared Gateway every HTTPRoute attaches to. */
  readonly gateway: k8s.apiextensions.CustomResource;
  /** Everything the application's manifests may reference (CRDs, webhooks, issuers). */
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super('goticket:platform:Platform', name, {}, opts);
    const env = args.environment;
    const k = { parent: this, provider: args.provider };
    this.clusterIssuer = CLUSTER_ISSUER_OF[env];
    this.grafanaUrl = `https://${args.grafanaHost}`;
    this.argocdUrl = `https://${args.argocdHost}`;
    const labels = podSecurityLabels(env);
    const ns = Object.fromEntries(
      Object.entries(labels).map(([nsName, l]) => [
        nsName,
        new k8s.core.v1.Namespace(
          `${name}-ns-${nsName}`,
          { metadata: { name: nsName, labels: l } },
          { ...k, dependsOn: args.clusterReady },
        ),
      ]),
    ) as Record<string, k8s.core.v1.Namespace>;
    const nsName = (n: string) => ns[n]!.metadata.name;

    // ---- kube-prometheus-stack
    const grafanaPassword = generatedSecret(`${name}-grafana-admin`, 32, this);
    const grafanaAdmin = new k8s.core.v1.Secret(
      `${name}-grafana-admin`,
      {
        metadata: { name: 'grafana-admin', namespace: nsName(NAMESPACES.monitoring) },
        type: 'Opaque',
        stringData: { 'admin-user': 'admin', 'admin-password': grafanaPassword },
      },
      k,
    );
    const monitoring = chartRelease(
      `${name}-kube-prometheus-stack`,
      {
        key: 'kube-prometheus-stack',
        releaseName: MONITORING.releaseName,
        namespace: nsName(NAMESPACES.monitoring),
        environment: env,
        values: {
          prometheus: {
            prometheusSpec: {
              retention: args.monitoring.retention,
              storageSpec: {
                volumeClaimTemplate: {
                  spec: {
                    storageClassName: args.storageClassName,
                    accessModes: ['ReadWriteOnce'],
                    resources: { requests: { storage: args.monitoring.storageSize } },
                  },
                },
              },
            },
          },
          grafana: {
            persistence: { enabled: true, storageClassName: args.storageClassName, size: args.monitoring.grafanaStorageSize },
            // Served through the shared Gateway (an HTTPRoute below), not an Ingress.
            ingress: { enabled: false },
            'grafana.ini': { server: { root_url: this.grafanaUrl } },
          },
        },
      },
      // Prometheus and Grafana claim volumes: the storage class and CSI driver must exist.
      { ...k, dependsOn: [grafanaAdmin, ...args.clusterReady] },
    );
    const afterCrds = { ...k, dependsOn: [monitoring] };

    // ---- Gateway API CRDs (standard channel) and Envoy Gateway's CRDs: before anything using them
    const gatewayCrds = chartRelease(
      `${name}-gateway-crds`,
      { key: 'gateway-crds', releaseName: EDGE.crdsReleaseName, namespace: nsName(NAMESPACES.edge), environment: env },
      { ...k, dependsOn: args.clusterReady },
    );

    // ---- cert-manager (Gateway API support on) and its ClusterIssuers
    const certManager = chartRelease(
      `${name}-cert-manager`,
      {
        key: 'cert-manager',
        releaseName: 'cert-manager',
        namespace: nsName(NAMESPACES.certManager),
        environment: env,
        values: {
          config: { apiVersion: 'controller.config.cert-manager.io/v1alpha1', kind: 'ControllerConfiguration', enableGatewayAPI: true },
        },
      },
      // cert-manager only watches Gateways when their CRDs exist as it starts.
      { ...k, dependsOn: [monitoring, gatewayCrds] },
    );
    const issuer = (issuerName: string, spec: Record<string, unknown>) =>
      new k8s.apiextensions.CustomResource(
        `${name}-issuer-${issuerName}`,
        { apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer', metadata: { name: issuerName }, spec },
        { ...k, dependsOn: [certManager] },
      );
    const issuers = [issuer(CLUSTER_ISSUERS.selfSigned, { selfSigned: {} })];
    if (env === 'prod') {
      if (!args.acmeEmail) throw new Error('Platform: acmeEmail is required in prod');
      issuers.push(
        issuer(CLUSTER_ISSUERS.letsEncrypt, {
          acme: {
            server: 'https://acme-v02.api.letsencrypt.org/directory',
            email: args.acmeEmail,
            privateKeySecretRef: { name: 'letsencrypt-prod-account-key' },
            // HTTP-01 through the shared Gateway's port-80 listener (cert-manager creates the solver's HTTPRoute).
            solvers: [
              {
                http01: {
                  gatewayHTTPRoute: {
                    parentRefs: [
                      { kind: 'Gateway', name: EDGE.gateway.name, namespace: EDGE.gateway.namespace, sectionName: EDGE.listeners.http },
                    ],
                  },
                },
              },
            ],
          },
        }),
      );
    }

    // ---- Envoy Gateway and the shared Gateway
    const envoyGateway = chartRelease(
      `${name}-envoy-gateway`,
      { key: 'envoy-gateway', releaseName: EDGE.releaseName, namespace: nsName(NAMESPACES.edge), environment: env, skipCrds: true },
      { ...k, dependsOn: [gatewayCrds] },
    );
    const custom = (logical: string, obj: KubeObject, dependsOn: pulumi.Resource[]) =>
      new k8s.apiextensions.CustomResource(`${name}-${logical}`, obj, { ...k, dependsOn });
    const edge = edgeObjects(env, { app: args.appHost, grafana: args.grafanaHost, argocd: args.argocdHost }, this.clusterIssuer);
    const byKind = (kind: string) => edge.find((o) => o.kind === kind)!;
    const envoyProxy = custom('envoy-proxy', byKind('EnvoyProxy'), [envoyGateway]);
    const gatewayClass = custom('gateway-class', byKind('GatewayClass'), [envoyGateway, envoyProxy]);
    this.gateway = custom('gateway', byKind('Gateway'), [gatewayClass, certManager, ...issuers]);
    const redirect = custom('https-redirect', byKind('HTTPRoute'), [this.gateway]);
    if (env === 'prod') {
      const svc = k8s.core.v1.Service.get(`${name}-edge-lb`, `${NAMESPACES.edge}/${EDGE.service}`, { ...k, dependsOn: [this.gateway] });
      this.ingressAddress = svc.status.loadBalancer.ingress.apply((i) => i?.[0]?.hostname ?? i?.[0]?.ip ?? '');
    } else {
      this.ingressAddress = pulumi.output('localhost');
    }
    const grafanaRoute = custom(
      'grafana-route',
      addonRoute({
        name: 'grafana',
        namespace: MONITORING.namespace,
        listener: EDGE.listeners.grafana,
        host: args.grafanaHost,
        service: `${MONITORING.releaseName}-grafana`,
        port: 80,
      }),
      [this.gateway, envoyGateway, monitoring],
    );

    // ---- sealed-secrets: the key first, then the controller that adopts it
    const sealingKey = new tls.PrivateKey(`${name}-sealing-key`, { algorithm: 'RSA', rsaBits: 4096 }, { parent: this });
    const sealingCert = new tls.SelfSignedCert(
      `${name}-sealing-cert`,
      {
        privateKeyPem: sealingKey.privateKeyPem,
        subject: { commonName: 'sealed-secret', organization: 'sealed-secret' },
        validityPeriodHours: 24 * 365 * 10,
        allowedUses: ['key_encipherment', 'digital_signature'],
      },
      { parent: this },
    );
    const sealingSecret = new k8s.core.v1.Secret(
      `${name}-sealing-key`,
      {
        metadata: { name: SEALING_KEY.name, namespace: NAMESPACES.sealedSecrets, labels: { [SEALING_KEY.label]: 'active' } },
        type: 'kubernetes.io/tls',
        stringData: { 'tls.crt': sealingCert.certPem, 'tls.key': sealingKey.privateKeyPem },
      },
      { ...k, dependsOn: args.clusterReady },
    );
    const sealedSecrets = chartRelease(
      `${name}-sealed-secrets`,
      { key: 'sealed-secrets', releaseName: 'sealed-secrets', namespace: NAMESPACES.sealedSecrets, environment: env },
      { ...k, dependsOn: [sealingSecret, monitoring] },
    );

    // ---- Argo CD
    this.argocd = chartRelease(
      `${name}-argo-cd`,
      {
        key: 'argo-cd',
        releaseName: 'argocd',
        namespace: nsName(NAMESPACES.argocd),
        environment: env,
        values: {
          global: { domain: args.argocdHost },
          // Served through the shared Gateway (an HTTPRoute below), not an Ingress.
          server: { ingress: { enabled: false } },
        },
      },
      // Argo CD syncs the app's HTTPRoute: the Gateway (and its controller) must exist first.
      { ...k, dependsOn: [monitoring, envoyGateway, this.gateway] },
    );
    const argocdRoute = custom(
      'argocd-route',
      addonRoute({
        name: 'argocd-server',
        namespace: ARGOCD.namespace,
        listener: EDGE.listeners.argocd,
        host: args.argocdHost,
        service: 'argocd-server',
        port: 80,
      }),
      [this.gateway, envoyGateway, this.argocd],
    );

    // ---- metrics-server: the resource metrics API the api's HorizontalPodAutoscaler reads (CPU).
    // Neither EKS nor Kind ships it; without it the HPA reports <unknown> and never scales.
    const metricsServer = chartRelease(
      `${name}-metrics-server`,
      { key: 'metrics-server', releaseName: 'metrics-server', namespace: NAMESPACES.metricsServer, environment: env },
      { ...k, dependsOn: args.clusterReady },
    );

    // ---- prometheus-adapter: the custom metrics API (custom.metrics.k8s.io) behind the api HPA's
    // requests-per-second target, computed by Prometheus from the api's own request counter.
    const prometheusAdapter = chartRelease(
      `${name}-prometheus-adapter`,
      {
        key: 'prometheus-adapter',
        releaseName: 'prometheus-adapter',
        namespace: nsName(NAMESPACES.monitoring),
        environment: env,
        // kube-prometheus-stack names its Prometheus Service <release>-prometheus.
        values: {
          prometheus: { url: pulumi.interpolate`http://${monitoring.name}-prometheus.${nsName(NAMESPACES.monitoring)}.svc`, port: 9090 },
        },
      },
      afterCrds,
    );

    this.sealingCertificate = sealingCert.certPem;
    this.grafanaAdminPassword = grafanaPassword;
    this.releases = [gatewayCrds, monitoring, certManager, envoyGateway, sealedSecrets, this.argocd, metricsServer, prometheusAdapter];
    // Not releases, but the application's HTTPRoute needs the Gateway (and its certificates the issuers).
    this.ready = [...this.releases, ...issuers, envoyProxy, gatewayClass, this.gateway, redirect, grafanaRoute, argocdRoute];
    this.registerOutputs({
      sealingCertificate: this.sealingCertificate,
      grafanaUrl: this.grafanaUrl,
      argocdUrl: this.argocdUrl,
      ingressAddress: this.ingressAddress,
    });
  }
}
