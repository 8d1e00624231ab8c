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
 * dev: a local Kind cluster. `kind create cluster` runs only when the cluster does not exist
 * yet, so `make kind-up` followed by `pulumi up -s dev` works; `pulumi destroy` deletes it.
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
          `kind get clusters 2>/dev/null | grep -qx ${n} || ` +
          `kind create cluster --name ${n} --config ${cfg} --wait 180s`,
        delete: `kind delete cluster --name ${n}`,
        // A changed kind-config.yaml needs a new cluster (port mappings are fixed at creation).
        triggers: [configHash],
      },
      { parent: this },
    );

    const kubeconfig = new command.local.Command(
      `${name}-kubeconfig`,
      { create: `kind get kubeconfig --name ${n}`, triggers: [configHash] },
      { parent: this, dependsOn: [cluster], additionalSecretOutputs: ['stdout'] },
    );

    this.clusterName = pulumi.output(n);
    this.kubeconfig = pulumi.secret(kubeconfig.stdout);
    this.provider = new k8s.Provider(
      `${name}-k8s`,
      { kubeconfig: this.kubeconfig, deleteUnreachable: true },
      { parent: this },
    );
    this.ready = [cluster];

    this.registerOutputs({ clusterName: this.clusterName, kubeconfig: this.kubeconfig });
  }
}
