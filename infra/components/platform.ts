import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import * as tls from '@pulumi/tls';
import { ARGOCD, CERT_MANAGER, CLUSTER_ISSUER_OF, CLUSTER_ISSUERS, EDGE, MONITORING, PLATFORM_POD_SECURITY } from '../../platform/contract';
import type { Environment, MonitoringConfig } from '../config';
import { chartRelease } from './helm';
import { generatedSecret } from './passwords';

export interface PlatformArgs {
  environment: Environment;
  provider: k8s.Provider;
  storageClassName: string;
  grafanaHost: string;
  argocdHost: string;
  monitoring: MonitoringConfig;
  /** Required in prod: the Let's Encrypt account e-mail. */
  acmeEmail?: string;
  /** Resources the add-ons need first (node groups, CSI driver, storage class). */
  clusterReady: pulumi.Input<pulumi.Resource>[];
}

export const NAMESPACES = {
  ingress: EDGE.namespace,
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
 * Cluster add-ons, each a pinned Helm release with values from infra/values/: ingress-nginx,
 * cert-manager (+ ClusterIssuers), sealed-secrets (with a sealing key Pulumi generates and
 * installs before the controller), kube-prometheus-stack, Argo CD, metrics-server (the
 * resource metrics API behind the api's HPA) and prometheus-adapter (its requests-per-second metric).
 *
 * Order: kube-prometheus-stack first (its CRDs back every add-on's ServiceMonitor), then the
 * rest; ClusterIssuers after cert-manager (CRDs + webhook); the sealing key before sealed-secrets.
 */
export class Platform extends pulumi.ComponentResource {
  /** PEM certificate to seal secrets with offline (`kubeseal --cert`). */
  readonly sealingCertificate: pulumi.Output<string>;
  readonly clusterIssuer: string;
  readonly grafanaUrl: string;
  readonly argocdUrl: string;
  /** Secret. */
  readonly grafanaAdminPassword: pulumi.Output<string>;
  /** Public address of the ingress controller (NLB host name in prod, localhost on Kind). */
  readonly ingressAddress: pulumi.Output<string>;
  /** Releases the application manifests need (CRDs, webhooks, ingress). */
  readonly releases: k8s.helm.v3.Release[];
  readonly argocd: k8s.helm.v3.Release;
  /** Everything the application's manifests may reference (CRDs, webhooks, issuers). */
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super('goticket:platform:Platform', name, {}, opts);
    const env = args.environment;
    const k = { parent: this, provider: args.provider };
    this.clusterIssuer = CLUSTER_ISSUER_OF[env];
    this.grafanaUrl = `https://${args.grafanaHost}`;
    this.argocdUrl = `https://${args.argocdHost}`;
    const ingressTls = (host: string, secretName: string) => ({
      ingressClassName: EDGE.ingressClass,
      annotations: { 'cert-manager.io/cluster-issuer': this.clusterIssuer },
      hosts: [host],
      tls: [{ secretName, hosts: [host] }],
    });

    const labels = podSecurityLabels(env);
    const ns = Object.fromEntries(
      Object.entries(labels).map(([nsName, l]) => [
        nsName,
        new k8s.core.v1.Namespace(`${name}-ns-${nsName}`, { metadata: { name: nsName, labels: l } }, { ...k, dependsOn: args.clusterReady }),
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
            ingress: { enabled: true, ...ingressTls(args.grafanaHost, 'grafana-tls') },
            'grafana.ini': { server: { root_url: this.grafanaUrl } },
          },
        },
      },
      // Prometheus and Grafana claim volumes: the storage class and CSI driver must exist.
      { ...k, dependsOn: [grafanaAdmin, ...args.clusterReady] },
    );
    const afterCrds = { ...k, dependsOn: [monitoring] };

    // ---- cert-manager and its ClusterIssuers
    const certManager = chartRelease(
      `${name}-cert-manager`,
      { key: 'cert-manager', releaseName: 'cert-manager', namespace: nsName(NAMESPACES.certManager), environment: env },
      afterCrds,
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
            solvers: [{ http01: { ingress: { ingressClassName: EDGE.ingressClass } } }],
          },
        }),
      );
    }

    // ---- ingress-nginx
    const ingress = chartRelease(
      `${name}-ingress-nginx`,
      { key: 'ingress-nginx', releaseName: EDGE.releaseName, namespace: nsName(NAMESPACES.ingress), environment: env },
      afterCrds,
    );
    if (env === 'prod') {
      const svc = k8s.core.v1.Service.get(
        `${name}-ingress-lb`,
        `${NAMESPACES.ingress}/${EDGE.service}`,
        { ...k, dependsOn: [ingress] },
      );
      this.ingressAddress = svc.status.loadBalancer.ingress.apply((i) => i?.[0]?.hostname ?? i?.[0]?.ip ?? '');
    } else {
      this.ingressAddress = pulumi.output('localhost');
    }

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
          server: {
            ingress: { annotations: { 'cert-manager.io/cluster-issuer': this.clusterIssuer } },
          },
        },
      },
      afterCrds,
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
        values: { prometheus: { url: pulumi.interpolate`http://${monitoring.name}-prometheus.${nsName(NAMESPACES.monitoring)}.svc`, port: 9090 } },
      },
      afterCrds,
    );

    this.sealingCertificate = sealingCert.certPem;
    this.grafanaAdminPassword = grafanaPassword;
    this.releases = [monitoring, certManager, ingress, sealedSecrets, this.argocd, metricsServer, prometheusAdapter];
    // Issuers are not releases, but the application's Ingress certificates need them too.
    this.ready = [...this.releases, ...issuers];
    this.registerOutputs({
      sealingCertificate: this.sealingCertificate,
      grafanaUrl: this.grafanaUrl,
      argocdUrl: this.argocdUrl,
      ingressAddress: this.ingressAddress,
    });
  }
}
