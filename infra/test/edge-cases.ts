/**
 * The edge under Pulumi mocks, both stacks: the Gateway API CRDs (standard channel) and Envoy
 * Gateway as pinned charts, installed in the right order; cert-manager with its Gateway API
 * support; ONE shared Gateway (80/443, redirect, TLS from cert-manager); the HTTPRoutes of Grafana
 * and Argo CD; Kind's host ports and the prod NLB.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { CHARTS, VALUES_DIR } from '../components/helm';
import { NLB_ANNOTATIONS, listenerSecret } from '../components/edge';
import {
  REPO_ROOT,
  field,
  filledInProdConfig,
  k8sObject,
  ofType,
  release,
  runProgram,
  stackConfig,
  valuesFileNames,
  waitsFor,
  type ProgramRun,
  type Recorded,
} from './harness';
import { ARGOCD, CLUSTER_ISSUERS, EDGE, MONITORING, NAMESPACE } from '../../platform/contract';

/** One program per jest file (the program module is loaded once): edge-dev.test.ts and edge-prod.test.ts call this. */
export function edgeTests(env: 'dev' | 'prod'): void {
  let current: ProgramRun;
  beforeAll(async () => {
    current = env === 'dev' ? await runProgram('dev', stackConfig('dev')) : await runProgram('prod', filledInProdConfig());
  });
  const runs = {
    get dev(): ProgramRun {
      return current;
    },
    get prod(): ProgramRun {
      return current;
    },
  };

  const gw = (run: ProgramRun): Recorded => k8sObject(run, 'gateway.networking.k8s.io/v1:Gateway', EDGE.gateway.name);
  const route = (run: ProgramRun, name: string): Recorded => k8sObject(run, 'gateway.networking.k8s.io/v1:HTTPRoute', name);
  const proxy = (run: ProgramRun): Recorded => k8sObject(run, 'gateway.envoyproxy.io/v1alpha1:EnvoyProxy', EDGE.envoyProxy);
  type Listener = { name: string; port: number; protocol: string; hostname?: string; tls?: unknown; allowedRoutes: unknown };

  describe(`edge (${env})`, () => {
    const run = () => current;

    it('installs no ingress-nginx and no Ingress at all', () => {
      const releases = ofType(run(), 'kubernetes:helm.sh/v3:Release').map((r) => String(r.inputs.chart));
      expect(releases.some((chart) => chart.includes('ingress-nginx'))).toBe(false);
      expect(Object.keys(CHARTS)).not.toContain('ingress-nginx');
      expect(ofType(run(), 'kubernetes:networking.k8s.io/v1:Ingress')).toEqual([]);
      expect(field(release(run(), 'kube-prometheus-stack'), 'values.grafana.ingress')).toEqual({ enabled: false });
      expect(field(release(run(), 'argocd'), 'values.server.ingress')).toEqual({ enabled: false });
    });

    it('pins the Gateway API CRDs chart to the standard channel and installs Envoy Gateway without its own CRDs', async () => {
      const crds = release(run(), EDGE.crdsReleaseName);
      expect([crds.inputs.chart, crds.inputs.version]).toEqual([CHARTS['gateway-crds'].chart, CHARTS['gateway-crds'].version]);
      expect(crds.inputs.version).toMatch(/^v\d+\.\d+\.\d+$/);
      expect(crds.inputs.repositoryOpts).toBeUndefined(); // an OCI reference, not a repository index
      expect(await valuesFileNames(crds)).toEqual(['gateway-crds.yaml']);
      const values = parse(fs.readFileSync(path.join(VALUES_DIR, 'gateway-crds.yaml'), 'utf8')) as {
        crds: Record<string, Record<string, unknown>>;
      };
      expect(values.crds.gatewayAPI).toEqual({ enabled: true, channel: 'standard' });
      expect(values.crds.envoyGateway).toEqual({ enabled: true });

      const controller = release(run(), EDGE.releaseName);
      expect([controller.inputs.chart, controller.inputs.version]).toEqual([
        CHARTS['envoy-gateway'].chart,
        CHARTS['envoy-gateway'].version,
      ]);
      expect(controller.inputs.skipCrds).toBe(true);
      expect(controller.inputs.namespace).toBe(EDGE.namespace);
    });

    it('installs the CRDs before anything that uses them (controller, cert-manager, Gateway, routes, Argo CD)', () => {
      for (const from of [
        'platform-envoy-gateway',
        'platform-cert-manager',
        'platform-gateway',
        'platform-https-redirect',
        'platform-grafana-route',
        'platform-argocd-route',
        'platform-argo-cd',
        'gitops-application',
      ]) {
        expect([from, waitsFor(run(), from, 'platform-gateway-crds')]).toEqual([from, true]);
      }
      // and nothing the CRDs chart waits for uses them
      expect(waitsFor(run(), 'platform-gateway-crds', 'platform-envoy-gateway')).toBe(false);
      expect(waitsFor(run(), 'platform-gateway-crds', 'platform-cert-manager')).toBe(false);
    });

    it('makes every route-creating add-on wait for the gateway controller and the Gateway', () => {
      for (const from of [
        'platform-argo-cd',
        'platform-grafana-route',
        'platform-argocd-route',
        'platform-https-redirect',
        'gitops-application',
      ]) {
        expect([from, waitsFor(run(), from, 'platform-envoy-gateway'), waitsFor(run(), from, 'platform-gateway')]).toEqual([
          from,
          true,
          true,
        ]);
      }
    });

    it('turns on cert-manager’s Gateway API support', () => {
      expect(field(release(run(), 'cert-manager'), 'values.config')).toMatchObject({
        kind: 'ControllerConfiguration',
        enableGatewayAPI: true,
      });
    });

    it('has one shared Gateway: HTTP on 80 for the redirect, one HTTPS listener per host on 443, certificates from cert-manager', () => {
      expect(ofType(run(), 'kubernetes:gateway.networking.k8s.io/v1:Gateway')).toHaveLength(1);
      const gateway = gw(run());
      expect(field(gateway, 'metadata.namespace')).toBe(EDGE.gateway.namespace);
      expect(field(gateway, 'metadata.annotations')).toEqual({
        'cert-manager.io/cluster-issuer': env === 'prod' ? CLUSTER_ISSUERS.letsEncrypt : CLUSTER_ISSUERS.selfSigned,
      });
      expect(field(gateway, 'spec.gatewayClassName')).toBe(EDGE.gatewayClass);
      const listeners = field(gateway, 'spec.listeners') as Listener[];
      expect(listeners.map((l) => [l.name, l.protocol, l.port])).toEqual([
        [EDGE.listeners.http, 'HTTP', 80],
        [EDGE.listeners.api, 'HTTPS', 443],
        [EDGE.listeners.grafana, 'HTTPS', 443],
        [EDGE.listeners.argocd, 'HTTPS', 443],
      ]);
      const hosts =
        env === 'prod'
          ? ['tickets.goticket.cloud', 'grafana.goticket.cloud', 'argocd.goticket.cloud']
          : ['goticket.localtest.me', 'grafana.localtest.me', 'argocd.localtest.me'];
      expect(listeners.slice(1).map((l) => l.hostname)).toEqual(hosts);
      for (const l of listeners.slice(1))
        expect(l.tls).toEqual({ mode: 'Terminate', certificateRefs: [{ kind: 'Secret', group: '', name: listenerSecret(l.name) }] });
      // each host's listener takes routes only from the namespace that owns the host
      const from = (l: Listener) =>
        (l.allowedRoutes as { namespaces: { from: string; selector?: { matchLabels: Record<string, string> } } }).namespaces;
      expect(listeners.map((l) => from(l).selector?.matchLabels['kubernetes.io/metadata.name'] ?? from(l).from)).toEqual([
        'Same',
        NAMESPACE,
        MONITORING.namespace,
        ARGOCD.namespace,
      ]);
    });

    it('redirects every plain-HTTP request to HTTPS (301) on the port-80 listener', () => {
      const redirect = route(run(), `${EDGE.gateway.name}-https-redirect`);
      expect(field(redirect, 'spec.parentRefs')).toEqual([
        { name: EDGE.gateway.name, namespace: EDGE.gateway.namespace, sectionName: EDGE.listeners.http },
      ]);
      expect(field(redirect, 'spec.rules')).toEqual([
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', statusCode: 301 } }],
        },
      ]);
    });

    it('routes Grafana and Argo CD through their HTTPS listeners to their Services', () => {
      const grafana = route(run(), 'grafana');
      expect(field(grafana, 'metadata.namespace')).toBe(MONITORING.namespace);
      expect(field(grafana, 'spec.parentRefs')).toEqual([
        { name: EDGE.gateway.name, namespace: EDGE.gateway.namespace, sectionName: EDGE.listeners.grafana },
      ]);
      expect(field(grafana, 'spec.rules')).toEqual([
        { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: `${MONITORING.releaseName}-grafana`, port: 80 }] },
      ]);
      const argocd = route(run(), 'argocd-server');
      expect(field(argocd, 'metadata.namespace')).toBe(ARGOCD.namespace);
      expect(field(argocd, 'spec.parentRefs')).toEqual([
        { name: EDGE.gateway.name, namespace: EDGE.gateway.namespace, sectionName: EDGE.listeners.argocd },
      ]);
      expect(field(argocd, 'spec.hostnames')).toEqual([env === 'prod' ? 'argocd.goticket.cloud' : 'argocd.localtest.me']);
    });

    it('binds the GatewayClass to Envoy Gateway with the EnvoyProxy that names the data plane’s Service', () => {
      const cls = k8sObject(run(), 'gateway.networking.k8s.io/v1:GatewayClass', EDGE.gatewayClass);
      expect(field(cls, 'spec')).toEqual({
        controllerName: 'gateway.envoyproxy.io/gatewayclass-controller',
        parametersRef: { group: 'gateway.envoyproxy.io', kind: 'EnvoyProxy', name: EDGE.envoyProxy, namespace: EDGE.namespace },
      });
      expect(field(proxy(run()), 'spec.provider.kubernetes.envoyService.name')).toBe(EDGE.service);
    });
  });

  describe('the data plane', () => {
    if (env === 'dev')
      it('dev: NodePorts that infra/kind-config.yaml maps to the host’s 80/443', () => {
        const svc = field(proxy(runs.dev), 'spec.provider.kubernetes.envoyService') as {
          type: string;
          patch: { type: string; value: { spec: { ports: { port: number; nodePort: number }[] } } };
        };
        expect(svc.type).toBe('NodePort');
        expect(svc.patch.type).toBe('StrategicMerge');
        const nodePorts = Object.fromEntries(svc.patch.value.spec.ports.map((p) => [p.port, p.nodePort]));
        expect(nodePorts).toEqual({ 80: EDGE.kindNodePorts.http, 443: EDGE.kindNodePorts.https });
        const kind = parse(fs.readFileSync(path.join(REPO_ROOT, 'infra', 'kind-config.yaml'), 'utf8')) as {
          nodes: { role: string; extraPortMappings: { containerPort: number; hostPort: number; listenAddress: string }[] }[];
        };
        const mappings = kind.nodes.find((n) => n.role === 'control-plane')!.extraPortMappings;
        expect(mappings.map((m) => [m.hostPort, m.containerPort, m.listenAddress])).toEqual([
          [80, nodePorts[80], '127.0.0.1'],
          [443, nodePorts[443], '127.0.0.1'],
        ]);
        expect(runs.dev.outputs.ingressAddress).toBe('localhost');
      });

    if (env === 'prod')
      it('prod: an internet-facing NLB, cross-zone on, keeping the client address; three Envoys spread over zones', () => {
        const kube = field(proxy(runs.prod), 'spec.provider.kubernetes') as Record<string, Record<string, unknown>>;
        expect(kube.envoyService).toEqual({
          name: EDGE.service,
          type: 'LoadBalancer',
          externalTrafficPolicy: 'Local',
          annotations: { ...NLB_ANNOTATIONS },
        });
        expect(NLB_ANNOTATIONS['service.beta.kubernetes.io/aws-load-balancer-scheme']).toBe('internet-facing');
        expect(NLB_ANNOTATIONS['service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled']).toBe('true');
        expect(kube.envoyDeployment!.replicas).toBe(3);
        expect(JSON.stringify(kube.envoyDeployment!.pod)).toContain('topology.kubernetes.io/zone');
        expect(kube.envoyPDB).toEqual({ minAvailable: 2 });
        // the address DNS points at is that Service's load balancer
        const lb = runs.prod.resources.find((r) => r.name === 'platform-edge-lb')!;
        expect(lb.id).toBe(`${EDGE.namespace}/${EDGE.service}`);
      });

    if (env === 'prod')
      it('prod: Let’s Encrypt solves HTTP-01 through the shared Gateway’s port-80 listener', () => {
        const le = k8sObject(runs.prod, 'cert-manager.io/v1:ClusterIssuer', CLUSTER_ISSUERS.letsEncrypt);
        expect(field(le, 'spec.acme.solvers')).toEqual([
          {
            http01: {
              gatewayHTTPRoute: {
                parentRefs: [
                  { kind: 'Gateway', name: EDGE.gateway.name, namespace: EDGE.gateway.namespace, sectionName: EDGE.listeners.http },
                ],
              },
            },
          },
        ]);
      });
  });
}
