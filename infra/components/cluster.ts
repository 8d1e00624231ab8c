import type * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';

/** What the rest of the program needs from a cluster, whichever kind it is. */
export interface ClusterHandle {
  readonly clusterName: pulumi.Output<string>;
  /** Secret: credentials to the API server. */
  readonly kubeconfig: pulumi.Output<string>;
  /** The Kubernetes provider every in-cluster resource uses (never the ambient kubeconfig). */
  readonly provider: k8s.Provider;
  /** Storage class for persistent volumes (Prometheus, Grafana). */
  readonly storageClassName: string;
  /** Resources that must exist before workloads are installed (add-ons, storage classes). */
  readonly ready: pulumi.Resource[];
}
