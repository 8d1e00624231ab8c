import * as aws from '@pulumi/aws';
import * as eks from '@pulumi/eks';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { rotatingKey } from './kms';
import type { EksConfig } from '../config';
import type { ClusterHandle } from './cluster';

export interface EksClusterArgs {
  settings: EksConfig;
  vpcId: pulumi.Input<string>;
  /** Worker nodes live here (no public IPs). */
  privateSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** Only internet-facing load balancers are placed here. */
  publicSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** The default-tags AWS provider, handed to the remote eks components explicitly. */
  awsProvider: aws.Provider;
}

/** vpc-cni add-on configuration: the network policy agent enforces Kubernetes NetworkPolicies. */
export const VPC_CNI_CONFIGURATION = { enableNetworkPolicy: 'true' } as const;

export const CONTROL_PLANE_LOG_TYPES = ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'];
const CLUSTER_ADMIN_POLICY = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy';
/** Read access to every object, Secrets included (Helm keeps its release state in Secrets; previews diff against it). */
const ADMIN_VIEW_POLICY = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy';

/** The Kubernetes group the preview role's access entry maps to; PREVIEW_DRY_RUN grants it the dry-run writes. */
export const PREVIEW_GROUP = 'goticket-pulumi-preview';
/**
 * What `pulumi preview` needs beyond reading: with server-side apply, the Kubernetes provider previews
 * each object as a dry-run create or patch, and Kubernetes authorizes a dry run as the write it
 * simulates (there is no dry-run-only verb). So the preview group may create and patch exactly the
 * kinds this program manages, and nothing else: no delete, no RBAC bind/escalate, no impersonation.
 * infra/test derives the kinds from what the program registers: a new kind fails until listed here.
 */
export const PREVIEW_DRY_RUN = [
  { apiGroups: [''], resources: ['namespaces', 'secrets', 'configmaps'] },
  { apiGroups: ['batch'], resources: ['jobs'] },
  { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'] },
  { apiGroups: ['storage.k8s.io'], resources: ['storageclasses'] },
  { apiGroups: ['cert-manager.io'], resources: ['clusterissuers'] },
  { apiGroups: ['argoproj.io'], resources: ['appprojects', 'applications'] },
  { apiGroups: ['gateway.networking.k8s.io'], resources: ['gatewayclasses', 'gateways', 'httproutes'] },
  { apiGroups: ['gateway.envoyproxy.io'], resources: ['envoyproxies'] },
  { apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles', 'clusterrolebindings'] },
].map((rule) => ({ ...rule, verbs: ['create', 'patch'] }));
const NODE_POLICIES = {
  worker: 'arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy',
  cni: 'arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy',
  ecr: 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly',
  ssm: 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore',
};

/** Graviton instance families (m7g, t4g, c7gn, …) need the arm64 AMI. */
export function amiTypeFor(instanceTypes: readonly string[]): string {
  const arm = instanceTypes.every((t) => /^[a-z]+\d+g/.test(t));
  return arm ? 'AL2023_ARM_64_STANDARD' : 'AL2023_x86_64_STANDARD';
}

function serviceRole(
  name: string,
  service: string,
  policyArns: Record<string, string>,
  parent: pulumi.Resource,
  action = 'sts:AssumeRole',
) {
  const actions = action === 'sts:AssumeRole' ? [action] : ['sts:AssumeRole', action];
  const role = new aws.iam.Role(
    name,
    {
      assumeRolePolicy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: actions }],
      }),
    },
    { parent },
  );
  for (const [key, policyArn] of Object.entries(policyArns)) {
    new aws.iam.RolePolicyAttachment(`${name}-${key}`, { role: role.name, policyArn }, { parent });
  }
  return role;
}

/**
 * prod: EKS with a pinned Kubernetes version, nodes in private subnets (managed node group),
 * access entries (authentication mode API), all control-plane logs, envelope encryption of
 * Secrets with a KMS key, and a public endpoint limited to the configured CIDRs. Turns on
 * NetworkPolicy enforcement in the VPC CNI (managed add-on). Adds the EBS
 * CSI driver (Pod Identity) and an encrypted gp3 default StorageClass for Prometheus/Grafana.
 */
export class EksCluster extends pulumi.ComponentResource implements ClusterHandle {
  readonly clusterName: pulumi.Output<string>;
  readonly kubeconfig: pulumi.Output<string>;
  readonly provider: k8s.Provider;
  readonly storageClassName = 'gp3';
  readonly ready: pulumi.Resource[];
  /** The security group EKS attaches to the managed nodes: the only source the data services admit. */
  readonly nodeSecurityGroupId: pulumi.Output<string>;

  constructor(name: string, args: EksClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super('goticket:cluster:EksCluster', name, {}, opts);
    const s = args.settings;
    const remote = { parent: this, providers: { aws: args.awsProvider } };

    const secretsKey = rotatingKey(`${name}-secrets`, `Envelope encryption of ${s.clusterName} Kubernetes Secrets`, this);

    // Who may talk to the API server (authentication mode API: access entries only, no aws-auth).
    // The CI roles are config, not an afterthought: without an entry `pulumi up` could create the
    // cluster but no later run could change anything in it.
    const admin = (principalArn: string) => ({
      principalArn,
      accessPolicies: { admin: { policyArn: CLUSTER_ADMIN_POLICY, accessScope: { type: 'cluster' } } },
    });
    const accessEntries = {
      deploy: admin(s.deployRoleArn),
      preview: {
        principalArn: s.previewRoleArn,
        kubernetesGroups: [PREVIEW_GROUP],
        accessPolicies: { view: { policyArn: ADMIN_VIEW_POLICY, accessScope: { type: 'cluster' } } },
      },
      ...Object.fromEntries(s.adminRoleArns.map((arn, i) => [`admin-${i}`, admin(arn)])),
    };

    const cluster = new eks.Cluster(
      name,
      {
        name: s.clusterName,
        version: s.version,
        // The provider's default is EXTENDED: a minor past standard support keeps running, billed at
        // the extended-support rate. STANDARD makes EKS upgrade the control plane at the end of
        // standard support instead; the team upgrades before that (infra/README.md "Upgrading EKS").
        upgradePolicy: { supportType: 'STANDARD' },
        vpcId: args.vpcId,
        privateSubnetIds: args.privateSubnetIds,
        publicSubnetIds: args.publicSubnetIds,
        nodeAssociatePublicIpAddress: false,
        endpointPrivateAccess: true,
        endpointPublicAccess: true,
        publicAccessCidrs: s.publicAccessCidrs,
        authenticationMode: eks.AuthenticationMode.Api,
        accessEntries,
        enabledClusterLogTypes: CONTROL_PLANE_LOG_TYPES,
        encryptionConfigKeyArn: secretsKey.arn,
        skipDefaultNodeGroup: true,
        // Managed nodes get the EKS-created cluster security group; nodeSecurityGroupId returns it.
        skipDefaultSecurityGroups: true,
        createOidcProvider: false,
      },
      remote,
    );

    const nodeRole = serviceRole(`${name}-node`, 'ec2.amazonaws.com', NODE_POLICIES, this);
    const nodes = new eks.ManagedNodeGroup(
      `${name}-nodes`,
      {
        cluster,
        nodeRole,
        subnetIds: args.privateSubnetIds,
        instanceTypes: s.instanceTypes,
        amiType: amiTypeFor(s.instanceTypes),
        capacityType: 'ON_DEMAND',
        diskSize: s.diskSizeGb,
        scalingConfig: { minSize: s.minSize, desiredSize: s.desiredSize, maxSize: s.maxSize },
        labels: { 'goticket.io/pool': 'general' },
      },
      remote,
    );

    const eksName = cluster.eksCluster.name;
    // The VPC CNI enforces NetworkPolicies only when asked to (off by default on EKS): without
    // this the default-deny and allow-lists of dist/prod would be accepted and ignored.
    // Taking the CNI over as a managed add-on keeps the running aws-node configuration (OVERWRITE).
    const vpcCni = new aws.eks.Addon(
      `${name}-vpc-cni`,
      {
        clusterName: eksName,
        addonName: 'vpc-cni',
        resolveConflictsOnCreate: 'OVERWRITE',
        resolveConflictsOnUpdate: 'OVERWRITE',
        configurationValues: JSON.stringify(VPC_CNI_CONFIGURATION),
      },
      { parent: this },
    );
    const podIdentity = new aws.eks.Addon(
      `${name}-pod-identity`,
      { clusterName: eksName, addonName: 'eks-pod-identity-agent', resolveConflictsOnUpdate: 'OVERWRITE' },
      { parent: this, dependsOn: [nodes] },
    );
    const ebsRole = serviceRole(
      `${name}-ebs-csi`,
      'pods.eks.amazonaws.com',
      { ebs: 'arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy' },
      this,
      'sts:TagSession',
    );
    const ebs = new aws.eks.Addon(
      `${name}-ebs-csi`,
      {
        clusterName: eksName,
        addonName: 'aws-ebs-csi-driver',
        resolveConflictsOnUpdate: 'OVERWRITE',
        podIdentityAssociations: [{ roleArn: ebsRole.arn, serviceAccount: 'ebs-csi-controller-sa' }],
      },
      { parent: this, dependsOn: [podIdentity] },
    );

    this.clusterName = eksName;
    this.nodeSecurityGroupId = cluster.nodeSecurityGroupId;
    this.kubeconfig = pulumi.secret(cluster.kubeconfigJson);
    this.provider = new k8s.Provider(`${name}-k8s`, { kubeconfig: this.kubeconfig }, { parent: this });

    const gp3 = new k8s.storage.v1.StorageClass(
      `${name}-gp3`,
      {
        metadata: { name: this.storageClassName, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
        provisioner: 'ebs.csi.aws.com',
        parameters: { type: 'gp3', encrypted: 'true' },
        reclaimPolicy: 'Retain',
        volumeBindingMode: 'WaitForFirstConsumer',
        allowVolumeExpansion: true,
      },
      { parent: this, provider: this.provider, dependsOn: [ebs] },
    );
    const previewRole = new k8s.rbac.v1.ClusterRole(
      `${name}-preview-dry-run`,
      { metadata: { name: `${PREVIEW_GROUP}-dry-run` }, rules: PREVIEW_DRY_RUN },
      { parent: this, provider: this.provider, dependsOn: [nodes] },
    );
    new k8s.rbac.v1.ClusterRoleBinding(
      `${name}-preview-dry-run`,
      {
        metadata: { name: `${PREVIEW_GROUP}-dry-run` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: previewRole.metadata.name },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: PREVIEW_GROUP }],
      },
      { parent: this, provider: this.provider },
    );
    this.ready = [nodes, vpcCni, ebs, gp3];

    this.registerOutputs({
      clusterName: this.clusterName,
      kubeconfig: this.kubeconfig,
      nodeSecurityGroupId: this.nodeSecurityGroupId,
    });
  }
}
