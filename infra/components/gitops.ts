import * as fs from 'node:fs';
import * as path from 'node:path';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { parseAllDocuments } from 'yaml';
import { ARGOCD, MANIFESTS_DIR, NAMESPACE } from '../../platform/contract';
import type { Environment } from '../config';

export interface GitOpsArgs {
  environment: Environment;
  provider: k8s.Provider;
  /** `gitops`: an Argo CD Application syncs dist/<env> from git. `direct`: Pulumi applies dist/<env>. */
  mode: 'gitops' | 'direct';
  /** Required for `gitops`. */
  repoUrl?: string;
  /**
   * For a private repoUrl: a token (https) or an SSH private key (ssh), from the secret stack config
   * `gitRepoCredential`. Becomes an Argo CD repository Secret; unset, the repository must be public.
   */
  repoCredential?: { username: string; secret: string };
  revision: string;
  /** Repository root on this machine (for `direct`). */
  repoRoot: string;
  /** Namespace Argo CD runs in. */
  argocdNamespace: string;
  /** Argo CD, the add-ons whose CRDs the manifests use, and the runtime namespace + Secret. */
  dependsOn: pulumi.Input<pulumi.Resource>[];
}

/** The Argo CD repository Secret holding gitRepoCredential. */
export const REPOSITORY_SECRET = `${ARGOCD.project}-repository`;

/** Cluster-scoped kinds the Application may apply (dist/<env> holds Namespace goticket). */
export const CLUSTER_RESOURCES = [{ group: '', kind: 'Namespace' }];

/**
 * The files of dist/<env> that `deployMode: direct` applies: every manifest except the
 * Namespace, which the Runtime component already created (same labels). Since
 * @pulumi/kubernetes 4.29 a create of an existing object fails with AlreadyExists, so applying
 * it a second time would stop `pulumi up`.
 */
export function directManifestFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((file) => file.endsWith('.yaml'))
    .sort()
    .map((file) => path.join(dir, file))
    .filter(
      (file) =>
        !parseAllDocuments(fs.readFileSync(file, 'utf8')).some((doc) => (doc.toJS() as { kind?: unknown } | null)?.kind === 'Namespace'),
    );
}

/**
 * Hands the namespace level to cdk8s' output: an Argo CD AppProject (this repository, namespace
 * goticket, no cluster-scoped objects) and Application (automated sync with prune, self-heal and
 * server-side apply), or — with deployMode direct — a ConfigGroup applying dist/<env> directly.
 */
export class GitOps extends pulumi.ComponentResource {
  readonly sourcePath: string;
  readonly applicationName?: pulumi.Output<string>;

  constructor(name: string, args: GitOpsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('goticket:gitops:GitOps', name, {}, opts);
    const k = { parent: this, provider: args.provider, dependsOn: args.dependsOn };
    this.sourcePath = MANIFESTS_DIR[args.environment];

    if (args.mode === 'direct') {
      const dir = path.join(args.repoRoot, this.sourcePath);
      if (!fs.existsSync(dir)) void pulumi.log.warn(`deployMode direct: ${dir} does not exist yet (run \`make synth\`)`, this);
      new k8s.yaml.v2.ConfigGroup(`${name}-manifests`, { files: directManifestFiles(dir) }, k);
      this.registerOutputs({ sourcePath: this.sourcePath });
      return;
    }

    if (!args.repoUrl) throw new Error('GitOps: repoUrl is required in gitops mode');
    const destination = { server: 'https://kubernetes.default.svc', namespace: NAMESPACE };
    const credentials = args.repoCredential ? [this.repositorySecret(name, args.repoUrl, args.repoCredential, args)] : [];
    const project = new k8s.apiextensions.CustomResource(
      `${name}-project`,
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'AppProject',
        metadata: { name: ARGOCD.project, namespace: args.argocdNamespace },
        spec: {
          description: 'GoTicket service manifests (cdk8s output)',
          sourceRepos: [args.repoUrl],
          destinations: [destination],
          // The one cluster-scoped object in dist/<env> is Namespace goticket (Pulumi creates it first;
          // cdk8s marks it Prune=false,Delete=false). Without this entry Argo CD refuses the whole
          // sync ("resource :Namespace is not permitted in project"). Nothing else cluster-wide.
          clusterResourceWhitelist: CLUSTER_RESOURCES,
          orphanedResources: { warn: true },
        },
      },
      k,
    );
    const app = new k8s.apiextensions.CustomResource(
      `${name}-application`,
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        metadata: {
          name: ARGOCD.application,
          namespace: args.argocdNamespace,
          // Deleting the Application (pulumi destroy) deletes what it deployed first.
          finalizers: ['resources-finalizer.argocd.argoproj.io'],
        },
        spec: {
          project: ARGOCD.project,
          source: { repoURL: args.repoUrl, targetRevision: args.revision, path: this.sourcePath, directory: { recurse: false } },
          destination,
          syncPolicy: {
            automated: { prune: true, selfHeal: true },
            syncOptions: ['ServerSideApply=true', 'CreateNamespace=false', 'PruneLast=true', 'ApplyOutOfSyncOnly=true'],
            retry: { limit: 5, backoff: { duration: '10s', factor: 2, maxDuration: '3m' } },
          },
        },
      },
      { ...k, dependsOn: [project, ...credentials] },
    );
    this.applicationName = app.metadata.name;
    this.registerOutputs({ sourcePath: this.sourcePath, applicationName: this.applicationName });
  }

  /** Argo CD's declarative repository: a Secret labelled secret-type=repository in its namespace, the value kept secret. */
  private repositorySecret(
    name: string,
    url: string,
    credential: { username: string; secret: string },
    args: GitOpsArgs,
  ): k8s.core.v1.Secret {
    const ssh = !url.startsWith('https://');
    const auth: Record<string, string> = ssh
      ? { sshPrivateKey: credential.secret }
      : { username: credential.username, password: credential.secret };
    const data: Record<string, string> = { type: 'git', url, ...auth };
    return new k8s.core.v1.Secret(
      `${name}-repository`,
      {
        metadata: { name: REPOSITORY_SECRET, namespace: args.argocdNamespace, labels: { 'argocd.argoproj.io/secret-type': 'repository' } },
        type: 'Opaque',
        stringData: pulumi.secret(data),
      },
      { parent: this, provider: args.provider, dependsOn: args.dependsOn },
    );
  }
}
