/** Pod Security Standards ("baseline" and "restricted") as rules over one workload. */
import { podSpecOf } from '../../lib/manifest';
import type { ManifestRule } from '../../lib/types';
import { bool, num, record, records, str, strings } from '../../lib/values';
import { eachContainer, podSecurityContextOf, securityContextOf } from './helpers';

export const runAsNonRoot: ManifestRule = {
  kind: 'manifest',
  name: 'k8s-run-as-non-root',
  level: 'mandatory',
  description: 'Every container runs as a non-root user (runAsNonRoot: true, never runAsUser: 0).',
  remediation:
    'Set securityContext.runAsNonRoot: true (pod or container) and a non-zero runAsUser; build the image with a numeric non-root USER.',
  rationale: 'A process escaping its container as root owns the node far more easily.',
  benchmark: 'Pod Security Standards restricted (Running as Non-root); CIS EKS 4.2.6',
  check: (m) =>
    eachContainer(m, (c, pod) => {
      const own = securityContextOf(c);
      const podCtx = podSecurityContextOf(pod);
      const uid = num(own.runAsUser) ?? num(podCtx.runAsUser);
      if (uid === 0) return `${c.label} runs as UID 0 (runAsUser: 0)`;
      if (bool(own.runAsNonRoot ?? podCtx.runAsNonRoot) !== true) return `${c.label} does not set runAsNonRoot: true`;
      return undefined;
    }),
};

export const readOnlyRootFilesystem: ManifestRule = {
  kind: 'manifest',
  name: 'k8s-read-only-root-filesystem',
  level: 'mandatory',
  description: 'Every container mounts its root filesystem read-only.',
  remediation: 'Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the process must write (e.g. /tmp).',
  rationale: 'An attacker cannot drop tools or tamper with binaries in a read-only filesystem.',
  benchmark: 'CIS EKS 4.5.2 (security context); NSA/CISA Kubernetes Hardening Guide',
  check: (m) =>
    eachContainer(m, (c) =>
      bool(securityContextOf(c).readOnlyRootFilesystem) === true ? undefined : `${c.label} does not set readOnlyRootFilesystem: true`,
    ),
};

export const noPrivilegeEscalation: ManifestRule = {
  kind: 'manifest',
  name: 'k8s-no-privilege-escalation',
  level: 'mandatory',
  description: 'Every container sets allowPrivilegeEscalation: false.',
  remediation: 'Set securityContext.allowPrivilegeEscalation: false on every container.',
  rationale: 'Blocks setuid binaries and file capabilities from granting more privileges than the process started with.',
  benchmark: 'Pod Security Standards restricted (Privilege Escalation); CIS EKS 4.2.5',
  check: (m) =>
    eachContainer(m, (c) =>
      bool(securityContextOf(c).allowPrivilegeEscalation) === false ? undefined : `${c.label} does not set allowPrivilegeEscalation: false`,
    ),
};

/** Restricted allows adding back only NET_BIND_SERVICE. */
const ADDABLE_CAPABILITIES = new Set(['NET_BIND_SERVICE']);

export const dropAllCapabilities: ManifestRule = {
  kind: 'manifest',
  name: 'k8s-drop-all-capabilities',
  level: 'mandatory',
  description: 'Every container drops ALL capabilities and adds back at most NET_BIND_SERVICE.',
  remediation: 'Set securityContext.capabilities: { drop: [ALL] } and remove other entries from capabilities.add.',
  rationale: 'Default container capabilities (NET_RAW, CHOWN, SETUID, …) are attack surface the service never needs.',
  benchmark: 'Pod Security Standards restricted (Capabilities); CIS EKS 4.2.7-4.2.9',
  check: (m) =>
    eachContainer(m, (c) => {
      const caps = record(securityContextOf(c).capabilities);
      const out: string[] = [];
      if (!strings(caps.drop).includes('ALL')) out.push(`${c.label} does not drop ALL capabilities`);
      const added = strings(caps.add).filter((cap) => !ADDABLE_CAPABILITIES.has(cap));
      if (added.length > 0) out.push(`${c.label} adds capabilities ${added.join(', ')} (only NET_BIND_SERVICE is allowed)`);
      return out;
    }),
};

const ALLOWED_SECCOMP = new Set(['RuntimeDefault', 'Localhost']);

export const seccompRuntimeDefault: ManifestRule = {
  kind: 'manifest',
  name: 'k8s-seccomp-runtime-default',
  level: 'mandatory',
  description: 'Every container runs with the RuntimeDefault (or a Localhost) seccomp profile.',
  remediation: 'Set spec.securityContext.seccompProfile.type: RuntimeDefault on the pod; never Unconfined on a container.',
  rationale: 'Seccomp blocks the syscalls most container escapes use.',
  benchmark: 'Pod Security Standards restricted (Seccomp); CIS EKS 4.5.2',
  check: (m) =>
    eachContainer(m, (c, pod) => {
      const type = str(record(securityContextOf(c).seccompProfile).type) ?? str(record(podSecurityContextOf(pod).seccompProfile).type);
      if (type === undefined) return `${c.label} has no seccompProfile (set RuntimeDefault)`;
      if (!ALLOWED_SECCOMP.has(type)) return `${c.label} uses seccompProfile ${type} (RuntimeDefault or Localhost required)`;
      return undefined;
    }),
};

export const noPrivileged: ManifestRule = {
  kind: 'manifest',
  name: 'k8s-no-privileged',
  level: 'mandatory',
  description: 'No container runs privileged.',
  remediation:
    'Remove securityContext.privileged: true; grant the one capability needed instead, or run the component outside the workload namespaces.',
  rationale: 'A privileged container has every device and capability of the node: it is the node.',
  benchmark: 'Pod Security Standards baseline (Privileged Containers); CIS EKS 4.2.1',
  check: (m) => eachContainer(m, (c) => (bool(securityContextOf(c).privileged) === true ? `${c.label} runs privileged` : undefined)),
};

export const noHostAccess: ManifestRule = {
  kind: 'manifest',
  name: 'k8s-no-host-namespaces',
  level: 'mandatory',
  description: "Pods do not share the node's network, PID or IPC namespace, and bind no host ports.",
  remediation: 'Remove hostNetwork, hostPID, hostIPC and containers[].ports[].hostPort; expose the pod through a Service.',
  rationale: 'Host namespaces let a pod see and reach node processes and interfaces, bypassing NetworkPolicies.',
  benchmark: 'Pod Security Standards baseline (Host Namespaces, Host Ports); CIS EKS 4.2.2-4.2.4',
  check: (m) => {
    const pod = podSpecOf(m);
    if (!pod) return [];
    const out = (['hostNetwork', 'hostPID', 'hostIPC'] as const).filter((f) => bool(pod[f]) === true).map((f) => `pod sets ${f}: true`);
    return out.concat(
      eachContainer(m, (c) =>
        records(c.spec.ports)
          .filter((p) => (num(p.hostPort) ?? 0) > 0)
          .map((p) => `${c.label} binds hostPort ${num(p.hostPort)}`),
      ),
    );
  },
};

export const noHostPath: ManifestRule = {
  kind: 'manifest',
  name: 'k8s-no-host-path',
  level: 'mandatory',
  description: 'Pods mount no hostPath volumes.',
  remediation: 'Replace hostPath volumes with emptyDir, a PersistentVolumeClaim, a ConfigMap or a projected volume.',
  rationale: 'hostPath exposes the node filesystem (kubelet credentials, container runtime socket) to the pod.',
  benchmark: 'Pod Security Standards baseline (HostPath Volumes)',
  check: (m) => {
    const pod = podSpecOf(m);
    if (!pod) return [];
    return records(pod.volumes)
      .filter((v) => v.hostPath !== undefined)
      .map((v) => `volume "${str(v.name) ?? '?'}" mounts hostPath ${str(record(v.hostPath).path) ?? '?'}`);
  },
};

export const podSecurityRules: ManifestRule[] = [
  runAsNonRoot,
  readOnlyRootFilesystem,
  noPrivilegeEscalation,
  dropAllCapabilities,
  seccompRuntimeDefault,
  noPrivileged,
  noHostAccess,
  noHostPath,
];
