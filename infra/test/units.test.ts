/** Pure helpers and the committed values files / Kind config (no Pulumi runtime needed). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { amiTypeFor } from '../components/eks-cluster';
import { CHARTS, VALUES_DIR, valuesFiles } from '../components/helm';
import { hostOfEndpoint } from '../components/broker';
import { amqpUrl, postgresUrl, redisUrl } from '../urls';
import { REPO_ROOT } from './harness';
import { EDGE, MONITORING } from '../../platform/contract';

const values = (file: string) => parse(fs.readFileSync(path.join(VALUES_DIR, file), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('connection URLs', () => {
  it('builds TLS URLs for the managed services', () => {
    expect(
      postgresUrl({
        user: 'goticket',
        password: 'pw',
        host: 'db.rds.amazonaws.com',
        port: 5432,
        database: 'goticket',
        tls: { rootCertFile: '/app/ca.pem' },
      }),
    ).toBe('postgres://goticket:pw@db.rds.amazonaws.com:5432/goticket?sslmode=verify-full&sslrootcert=%2Fapp%2Fca.pem&uselibpqcompat=true');
    expect(redisUrl({ password: 'tok', host: 'master.cache.amazonaws.com', port: 6379, tls: true })).toBe(
      'rediss://:tok@master.cache.amazonaws.com:6379',
    );
    expect(amqpUrl({ user: 'goticket', password: 'pw', host: 'b-1.mq.amazonaws.com', port: 5671, tls: true })).toBe(
      'amqps://goticket:pw@b-1.mq.amazonaws.com:5671',
    );
  });

  it('builds plain URLs for in-cluster services and percent-encodes credentials', () => {
    expect(postgresUrl({ user: 'goticket', password: 'p@ss/word', host: 'postgres', port: 5432, database: 'goticket', tls: false })).toBe(
      'postgres://goticket:p%40ss%2Fword@postgres:5432/goticket',
    );
    expect(redisUrl({ password: 'a:b', host: 'redis', port: 6379, tls: false })).toBe('redis://:a%3Ab@redis:6379');
    expect(new URL(amqpUrl({ user: 'goticket', password: 'x#y', host: 'rabbitmq', port: 5672, tls: false })).password).toBe('x%23y');
  });

  it('takes the host of an Amazon MQ endpoint', () => {
    expect(hostOfEndpoint('amqps://b-1234.mq.eu-west-1.amazonaws.com:5671')).toBe('b-1234.mq.eu-west-1.amazonaws.com');
  });
});

describe('helpers', () => {
  it('picks the arm64 AMI only for Graviton node types', () => {
    expect(amiTypeFor(['m7g.large', 't4g.medium'])).toBe('AL2023_ARM_64_STANDARD');
    expect(amiTypeFor(['m7i.large'])).toBe('AL2023_x86_64_STANDARD');
    expect(amiTypeFor(['m7g.large', 'm7i.large'])).toBe('AL2023_x86_64_STANDARD');
  });

  it('layers the environment values file over the shared one', () => {
    expect(valuesFiles('metrics-server', 'dev').map((f) => path.basename(f))).toEqual(['metrics-server.yaml', 'metrics-server.dev.yaml']);
    expect(valuesFiles('argo-cd', 'dev').map((f) => path.basename(f))).toEqual(['argo-cd.yaml']);
  });
});

describe('committed values files', () => {
  it('exist for every chart and parse', () => {
    for (const key of Object.keys(CHARTS)) expect(typeof values(`${key}.yaml`)).toBe('object');
    for (const file of fs.readdirSync(VALUES_DIR)) {
      expect(Object.keys(CHARTS).some((key) => file === `${key}.yaml` || /^.+\.(dev|prod)\.yaml$/.test(file))).toBe(true);
    }
  });

  it('envoy-gateway: the controller only (CRDs from the gateway-crds release), with requests and a memory limit', () => {
    const v = values('envoy-gateway.yaml');
    expect(v.crds).toBeUndefined();
    expect(v.deployment.envoyGateway.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(v.deployment.envoyGateway.resources.limits.memory).toBeDefined();
  });

  it('cert-manager installs (and keeps) its CRDs', () => {
    expect(values('cert-manager.yaml').crds).toEqual({ enabled: true, keep: true });
  });

  it('sealed-secrets: controller named sealed-secrets-controller, adopting the Pulumi key, no renewal', () => {
    const v = values('sealed-secrets.yaml');
    expect(v.fullnameOverride).toBe('sealed-secrets-controller');
    expect(v.secretName).toBe('sealed-secrets-key');
    expect(v.keyrenewperiod).toBe('0');
  });

  it('kube-prometheus-stack: dashboard sidecar on every namespace, release-label selection, no anonymous Grafana', () => {
    const v = values('kube-prometheus-stack.yaml');
    expect(v.grafana.sidecar.dashboards).toEqual({
      enabled: true,
      label: 'grafana_dashboard',
      labelValue: '1',
      searchNamespace: 'ALL',
      // the folder each dashboard ConfigMap names (charts/observability) is honoured, not General
      folderAnnotation: MONITORING.grafanaFolderAnnotation,
      provider: { foldersFromFilesStructure: true },
    });
    // one ReadWriteOnce volume: the old pod must stop before the new one mounts it
    expect(v.grafana.deploymentStrategy).toEqual({ type: 'Recreate' });
    expect(v.grafana.admin.existingSecret).toBe('grafana-admin');
    expect(v.grafana['grafana.ini']['auth.anonymous'].enabled).toBe(false);
    expect(v.prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues).toBe(true);
    expect(v.prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues).toBe(true);
  });

  it('argo-cd: no Ingress (the UI is an HTTPRoute on the shared Gateway), plain HTTP behind Envoy, metrics scraped', () => {
    const v = values('argo-cd.yaml');
    expect(v.server.ingress).toEqual({ enabled: false });
    expect(v.configs.params['server.insecure']).toBe(true);
    expect(v.server.metrics.serviceMonitor.additionalLabels).toEqual({ release: 'kube-prometheus-stack' });
  });
});

describe('infra/kind-config.yaml', () => {
  const kind = parse(fs.readFileSync(path.join(REPO_ROOT, 'infra', 'kind-config.yaml'), 'utf8'));

  it('maps the host’s 80 and 443 (loopback only) to the Gateway’s Kind NodePorts', () => {
    expect(kind).toMatchObject({ kind: 'Cluster', apiVersion: 'kind.x-k8s.io/v1alpha4', name: 'goticket' });
    const cp = kind.nodes.find((n: { role: string }) => n.role === 'control-plane');
    expect(
      cp.extraPortMappings.map((m: { containerPort: number; hostPort: number; listenAddress: string }) => [
        m.containerPort,
        m.hostPort,
        m.listenAddress,
      ]),
    ).toEqual([
      [EDGE.kindNodePorts.http, 80, '127.0.0.1'],
      [EDGE.kindNodePorts.https, 443, '127.0.0.1'],
    ]);
  });
});
