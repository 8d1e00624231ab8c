import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as command from '@pulumi/command';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import type { ClusterHandle } from './cluster';

export interface KindClusterArgs {
  /** Kind cluster name (`kind create cluster --name`). */
  clusterName: string;
  /** Absolute path of the committed Kind config (infra/kind-config.yaml). */
  configFile: string;
}

/**
 * The oldest kind that runs dist/dev as written: its CNI (kindnet) enforces NetworkPolicies
 * since 0.24, and its node images (Kubernetes >= 1.31) know the preStop `sleep` action.
 */
export const KIND_MIN_VERSION = '0.24.0';

/** Shell that stops with one line unless the installed kind is at least `min`. */
export function kindVersionGuard(min = KIND_MIN_VERSION): string {
  return (
    `v=$(kind version 2>/dev/null | sed -nE 's/^kind v([0-9]+[.][0-9]+[.][0-9]+).*/\\1/p'); ` +
    `[ -n "$v" ] && [ "$(printf '%s\\n' ${min} "$v" | sort -V | head -n 1)" = ${min} ] || ` +
    `{ echo "kind >= ${min} is required (found \${v:-none}): older kind does not enforce NetworkPolicies" >&2; exit 1; }`
  );
}

/** Prints the cluster's kubeconfig, or stops with one line when the cluster is gone (`make kind-down`). */
export function kubeconfigCommand(clusterName: string): string {
  return (
    `kind get kubeconfig --name ${clusterName} 2>/dev/null || ` +
    `{ echo "Kind cluster ${clusterName} does not exist (deleted outside Pulumi?): make kind-up, then pulumi up again" >&2; exit 1; }`
  );
}

/**
 * dev: a local Kind cluster. `kind create cluster` runs only when the cluster does not exist
 * yet, so `make kind-up` followed by `pulumi up -s dev` works; `pulumi destroy` deletes it.
 * A kind older than KIND_MIN_VERSION stops `pulumi up` with one line.
 *
 * Two lifecycle rules keep the stack and the cluster together:
 * - a changed kind-config.yaml replaces the cluster delete-first: create-first would find the old
 *   cluster (a no-op create) and then delete it, leaving none;
 * - the kubeconfig is read on every preview and up (an invoke, not a stored Command output), so a
 *   cluster recreated outside Pulumi (`make kind-down && make kind-up`: new CA, new port) is picked up.
 */
export class KindCluster extends pulumi.ComponentResource implements ClusterHandle {
  readonly clusterName: pulumi.Output<string>;
  readonly kubeconfig: pulumi.Output<string>;
  readonly provider: k8s.Provider;
  readonly storageClassName = 'standard';
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: KindClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super('goticket:cluster:KindCluster', name, {}, opts);
    const n = args.clusterName;
    const cfg = JSON.stringify(args.configFile);
    const configHash = crypto.createHash('sha256').update(fs.readFileSync(args.configFile)).digest('hex');

    const cluster = new command.local.Command(
      `${name}-create`,
      {
        create:
          `${kindVersionGuard()} && { kind get clusters 2>/dev/null | grep -qx ${n} || ` +
          `kind create cluster --name ${n} --config ${cfg} --wait 180s; }`,
        delete: `kind delete cluster --name ${n}`,
        // A changed kind-config.yaml needs a new cluster (port mappings are fixed at creation).
        triggers: [configHash],
      },
      { parent: this, deleteBeforeReplace: true },
    );

    // Read after the create (the command waits for its id), then on every run.
    const kubeconfig = command.local.runOutput({ command: cluster.id.apply(() => kubeconfigCommand(n)) });

    this.clusterName = pulumi.output(n);
    this.kubeconfig = pulumi.secret(kubeconfig.apply((result) => result.stdout ?? ''));
    this.provider = new k8s.Provider(`${name}-k8s`, { kubeconfig: this.kubeconfig, deleteUnreachable: true }, { parent: this });
    this.ready = [cluster];

    this.registerOutputs({ clusterName: this.clusterName, kubeconfig: this.kubeconfig });
  }
}
