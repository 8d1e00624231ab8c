import * as fs from 'node:fs';
import * as path from 'node:path';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import type { Environment } from '../config';

/** Every chart the platform installs, pinned. Bump deliberately (read the chart's upgrade notes). */
export const CHARTS = {
  // Envoy Gateway publishes its charts as OCI artifacts (no repository index): `chart` is the
  // reference and `repo` stays unset. The CRDs chart renders the Gateway API CRDs of the standard
  // channel (plus Envoy Gateway's own) as templates, so Helm upgrades them; the controller chart is
  // installed with skipCrds (it would otherwise install the experimental channel from its crds/).
  'gateway-crds': { chart: 'oci://docker.io/envoyproxy/gateway-crds-helm', version: 'v1.9.1', repo: undefined },
  'envoy-gateway': { chart: 'oci://docker.io/envoyproxy/gateway-helm', version: 'v1.9.1', repo: undefined },
  'cert-manager': { chart: 'cert-manager', version: 'v1.18.2', repo: 'https://charts.jetstack.io' },
  'sealed-secrets': { chart: 'sealed-secrets', version: '2.17.1', repo: 'https://bitnami-labs.github.io/sealed-secrets' },
  'kube-prometheus-stack': {
    chart: 'kube-prometheus-stack',
    version: '77.11.1',
    repo: 'https://prometheus-community.github.io/helm-charts',
  },
  'argo-cd': { chart: 'argo-cd', version: '8.5.0', repo: 'https://argoproj.github.io/argo-helm' },
  'metrics-server': { chart: 'metrics-server', version: '3.13.0', repo: 'https://kubernetes-sigs.github.io/metrics-server/' },
  'prometheus-adapter': { chart: 'prometheus-adapter', version: '5.3.0', repo: 'https://prometheus-community.github.io/helm-charts' },
} as const;

export type ChartKey = keyof typeof CHARTS;

export const VALUES_DIR = path.resolve(__dirname, '..', 'values');

/** `values/<chart>.yaml` then, when present, `values/<chart>.<env>.yaml` (later files win). */
export function valuesFiles(key: ChartKey, environment: Environment): string[] {
  const files = [path.join(VALUES_DIR, `${key}.yaml`), path.join(VALUES_DIR, `${key}.${environment}.yaml`)];
  return files.filter((f) => fs.existsSync(f));
}

export interface ChartReleaseArgs {
  key: ChartKey;
  releaseName: string;
  namespace: pulumi.Input<string>;
  environment: Environment;
  /** Computed values (hosts, secrets, sizes); they override the values files. */
  values?: pulumi.Input<Record<string, unknown>>;
  /** Do not install the chart's crds/ folder (another release owns those CRDs). */
  skipCrds?: boolean;
}

/** A helm.v3.Release of a pinned chart with its committed values files. */
export function chartRelease(name: string, args: ChartReleaseArgs, opts: pulumi.CustomResourceOptions): k8s.helm.v3.Release {
  const c = CHARTS[args.key];
  return new k8s.helm.v3.Release(
    name,
    {
      name: args.releaseName,
      chart: c.chart,
      version: c.version,
      ...(c.repo ? { repositoryOpts: { repo: c.repo } } : {}),
      ...(args.skipCrds ? { skipCrds: true } : {}),
      namespace: args.namespace,
      createNamespace: false,
      valueYamlFiles: valuesFiles(args.key, args.environment).map((f) => new pulumi.asset.FileAsset(f)),
      values: args.values ?? {},
      atomic: true,
      cleanupOnFail: true,
      timeout: 900,
      maxHistory: 5,
    },
    opts,
  );
}
