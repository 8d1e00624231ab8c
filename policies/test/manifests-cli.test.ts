/**
 * The manifest checker: deliberately bad manifests (exit 1, each violation named), clean ones
 * (exit 0), broken input (exit 2, one line each), and the repository's real dist/.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { envFromPath, runManifestCheck } from '../manifests';

const FIXTURES = path.join(__dirname, 'fixtures', 'manifests');
const REPO = path.resolve(__dirname, '..', '..');
const DIST = path.join(REPO, 'dist');
const rel = (lines: string[]) => lines.map((l) => l.split(`${FIXTURES}${path.sep}`).join(''));

const BAD_LINES = [
  'bad/dev/worker.yml: Deployment/goticket-dev/worker: k8s-image-pinned: container "worker" image localhost:5000/goticket has no tag (pin a version or a digest)',
  'bad/dev/worker.yml: Deployment/goticket-dev/worker: k8s-namespace-default-deny: namespace goticket-dev runs workloads without a default-deny Ingress and Egress NetworkPolicy',
  'bad/prod/api.yaml: Deployment/goticket/api: k8s-image-pinned: container "api" image ghcr.io/goticket/goticket:latest uses :latest (pin a version or a digest)',
  'bad/prod/api.yaml: Deployment/goticket/api: k8s-prod-replicas: Deployment runs 1 replica(s) and no HorizontalPodAutoscaler targets it (prod needs >= 2)',
  "bad/prod/api.yaml: Deployment/goticket/api: k8s-prod-pod-disruption-budget: no PodDisruptionBudget selects this Deployment's pods",
  'bad/prod/exposure.yaml: Service/goticket/api-public: k8s-service-type-restricted: Service of type LoadBalancer outside envoy-gateway-system',
  'bad/prod/exposure.yaml: Secret/goticket/smtp: k8s-no-plain-secrets: plain Secret in GitOps output (commit a SealedSecret instead)',
  'bad/prod/namespace.yaml: Namespace/-/goticket: k8s-namespace-pod-security: Namespace has no pod-security.kubernetes.io/enforce label',
  'bad/prod/namespace.yaml: Namespace/-/goticket: k8s-namespace-default-deny: namespace goticket runs workloads without a default-deny Ingress and Egress NetworkPolicy',
  'bad/prod/node-agent.yaml: DaemonSet/goticket/node-agent: k8s-no-host-namespaces: pod sets hostNetwork: true',
  'bad/prod/node-agent.yaml: DaemonSet/goticket/node-agent: k8s-no-host-namespaces: pod sets hostPID: true',
  'bad/prod/node-agent.yaml: DaemonSet/goticket/node-agent: k8s-no-host-namespaces: container "agent" binds hostPort 9100',
  'bad/prod/node-agent.yaml: DaemonSet/goticket/node-agent: k8s-no-host-path: volume "proc" mounts hostPath /proc',
  'bad/prod/open-egress.yaml: NetworkPolicy/goticket/allow-all-egress: k8s-network-policy-allow-list: egress rule 1 allows every destination (no `to`)',
  'bad/prod/root.yaml: Deployment/goticket/root: k8s-image-pinned: container "shell" image busybox has no tag (pin a version or a digest)',
  'bad/prod/root.yaml: Deployment/goticket/root: k8s-resources-required: container "shell" sets no resources.requests.cpu, resources.requests.memory, resources.limits.cpu, resources.limits.memory',
  'bad/prod/root.yaml: Deployment/goticket/root: k8s-probes-required: container "shell" has no livenessProbe and no readinessProbe (advisory)',
  'bad/prod/root.yaml: Deployment/goticket/root: k8s-run-as-non-root: container "shell" runs as UID 0 (runAsUser: 0)',
  'bad/prod/root.yaml: Deployment/goticket/root: k8s-read-only-root-filesystem: container "shell" does not set readOnlyRootFilesystem: true',
  'bad/prod/root.yaml: Deployment/goticket/root: k8s-no-privilege-escalation: container "shell" does not set allowPrivilegeEscalation: false',
  'bad/prod/root.yaml: Deployment/goticket/root: k8s-drop-all-capabilities: container "shell" does not drop ALL capabilities',
  'bad/prod/root.yaml: Deployment/goticket/root: k8s-drop-all-capabilities: container "shell" adds capabilities SYS_ADMIN (only NET_BIND_SERVICE is allowed)',
  'bad/prod/root.yaml: Deployment/goticket/root: k8s-seccomp-runtime-default: container "shell" uses seccompProfile Unconfined (RuntimeDefault or Localhost required)',
  'bad/prod/root.yaml: Deployment/goticket/root: k8s-no-privileged: container "shell" runs privileged',
  'bad/prod/route.yaml: HTTPRoute/goticket/side-door: k8s-route-shared-gateway: HTTPRoute attaches to Gateway goticket/team-gateway, not the shared Gateway envoy-gateway-system/goticket-edge',
  'bad/prod/route.yaml: HTTPRoute/goticket/side-door: k8s-route-tls-only: HTTPRoute names no sectionName: it attaches to every listener of envoy-gateway-system/goticket-edge, plain HTTP included',
];

function tmpDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'policy-manifests-'));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

describe('policy:manifests', () => {
  test('bad manifests: every violation named once, exit 1', () => {
    const r = runManifestCheck([path.join(FIXTURES, 'bad')]);
    expect(rel(r.out)).toEqual(BAD_LINES);
    expect({ exitCode: r.exitCode, mandatory: r.mandatory, advisory: r.advisory }).toEqual({ exitCode: 1, mandatory: 25, advisory: 1 });
    expect(r.err).toEqual(['policy:manifests: 10 object(s) in 8 file(s): 25 mandatory, 1 advisory violation(s)']);
  });

  test('clean manifests (dev, prod and a Helm chart with one templated file): exit 0', () => {
    const r = runManifestCheck([path.join(FIXTURES, 'clean')]);
    expect(r.out).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(rel(r.err)).toEqual([
      'skipped 1 Helm template file(s) (Helm template syntax {{ }}; only plain YAML is checked): clean/helm/prod/templates/extra-labels.yaml',
      'policy:manifests: 35 object(s) in 13 file(s): 0 mandatory, 0 advisory violation(s)',
    ]);
  });

  test('the command line: exit 1 on the bad folder, 0 on the clean one', () => {
    const cli = (dir: string) =>
      spawnSync(process.execPath, [require.resolve('tsx/cli'), path.join(REPO, 'policies', 'manifests-cli.ts'), path.join(FIXTURES, dir)], {
        encoding: 'utf8',
      });
    const bad = cli('bad');
    expect(bad.status).toBe(1);
    expect(rel(bad.stdout.trim().split('\n'))).toEqual(BAD_LINES);
    const clean = cli('clean');
    expect(clean.stdout).toBe('');
    expect(clean.status).toBe(0);
  });

  test('only advisory violations: printed, exit 0', () => {
    const text = fs
      .readFileSync(path.join(FIXTURES, 'clean', 'prod', 'goticket.yaml'), 'utf8')
      .replace(/ {10}livenessProbe:\n( {12}.*\n)+/, '');
    const r = runManifestCheck(['--env', 'prod', tmpDir({ 'all.yaml': text })]);
    expect(r.out.map((l) => l.replace(/^.*all\.yaml: /, ''))).toEqual([
      'Deployment/goticket/api: k8s-probes-required: container "api" has no livenessProbe (advisory)',
    ]);
    expect(r.exitCode).toBe(0);
  });

  test('--env decides over the path; without either, prod with a note', () => {
    const text =
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w, namespace: n}\nspec: {replicas: 1}\n---\n' +
      'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: n}\nspec: {podSelector: {}, policyTypes: [Ingress, Egress]}\n';
    const dir = tmpDir({ 'prod/w.yaml': text, 'other/w.yaml': text });
    expect(runManifestCheck(['--env=dev', path.join(dir, 'prod')]).exitCode).toBe(0);
    expect(runManifestCheck([path.join(dir, 'prod')]).out.map((l) => l.split(': ')[2])).toEqual([
      'k8s-prod-replicas',
      'k8s-prod-pod-disruption-budget',
    ]);
    const other = runManifestCheck([path.join(dir, 'other')]);
    expect(other.err[0]).toBe(`${path.join(dir, 'other')}: no dev/prod folder in the path and no --env: checking as prod`);
    expect(envFromPath('dist/helm/prod/templates/a.yaml')).toBe('prod');
  });

  test('broken input: one line per problem, exit 2', () => {
    const dir = tmpDir({ 'dev/bad.yaml': 'kind: ConfigMap\nmetadata:\n  data: [unclosed\n', 'dev/chart.yaml': 'name: not-a-manifest\n' });
    const r = runManifestCheck([dir, path.join(dir, 'missing')]);
    expect(r.exitCode).toBe(2);
    expect(r.err.slice(0, -1)).toEqual([
      `${path.join(dir, 'missing')}: cannot read: ENOENT: no such file or directory`,
      `${path.join(dir, 'dev', 'bad.yaml')}: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ] at line 4, column 1`,
      `${path.join(dir, 'dev', 'chart.yaml')}: document 1 is not a Kubernetes object (apiVersion, kind and metadata required)`,
    ]);
    expect(runManifestCheck([tmpDir({})]).exitCode).toBe(2);
    expect(runManifestCheck([]).err).toEqual([
      'no folder or file given',
      'usage: npm run policy:manifests -- [--env dev|prod] <dir|file.yaml>...',
    ]);
    expect(runManifestCheck(['--env', 'staging', dir]).exitCode).toBe(2);
  });

  // dist/ is synthesized by charts/ and committed (make drift keeps it fresh).
  test('the repository dist/ has no mandatory violation', () => {
    const r = runManifestCheck([DIST]);
    // Helm templates that escape PromQL/Grafana braces are skipped; each is checked as plain YAML under dist/<env>/.
    const notices = r.err.filter((l) => !l.startsWith('policy:manifests: '));
    expect(notices).toHaveLength(1);
    const listed = notices[0]!.replace(/^skipped \d+ Helm template file\(s\) \([^)]*\): /, '').split(', ');
    expect(listed.length).toBeGreaterThan(0);
    const skippedHelm = /^(.*)\/helm\/(dev|prod)\/templates\/([^/]+)$/;
    for (const file of listed) {
      const match = skippedHelm.exec(file);
      expect([file, match !== null]).toEqual([file, true]);
      expect(fs.existsSync(path.join(DIST, match![2]!, match![3]!))).toBe(true);
    }
    expect(r.out.filter((l) => !l.endsWith('(advisory)'))).toEqual([]);
    expect(r.exitCode).toBe(0);
  });
});
