import { createHash } from 'node:crypto';
import * as aws from '@pulumi/aws';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { PROD_NETWORK } from '../../platform/contract';
import { generatedSecret } from './passwords';
import { nodeOnlySecurityGroup } from './node-security-group';

export interface BrokerArgs {
  vpcId: pulumi.Input<string>;
  subnetIds: pulumi.Input<string[]>;
  nodeSecurityGroupId: pulumi.Input<string>;
  instanceType: string;
  engineVersion: string;
  deploymentMode: 'SINGLE_INSTANCE' | 'CLUSTER_MULTI_AZ';
  /** Where the Job that manages the application user runs (inside the VPC: the broker is private). */
  kubernetes: { provider: k8s.Provider; dependsOn: pulumi.Input<pulumi.Resource>[] };
}

/** The broker's admin: created with the broker, never used by the service, never rotated through `users`. */
export const BROKER_ADMIN = 'goticket-admin';
/** The service's own user: only the `goticket` vhost, and there only the `goticket.*` names. */
export const BROKER_USER = 'goticket';
export const BROKER_VHOST = 'goticket';
/** configure/write/read of the application user: the exchanges and queues the service declares (AMQP_PREFIX `goticket`). */
export const APP_PERMISSIONS = { configure: '^goticket\\.', write: '^goticket\\.', read: '^goticket\\.' } as const;
export const AMQPS_PORT = 5671;
/** The RabbitMQ management API of Amazon MQ (HTTPS on the broker's endpoint host). */
export const MANAGEMENT_PORT = 443;
export const BROKER_ADMIN_NAMESPACE = 'goticket-broker-admin';
/** Pinned: the Job's only tool is curl (runs as uid 100, no shell but busybox sh). */
export const CURL_IMAGE = 'docker.io/curlimages/curl:8.17.0';

/**
 * The management-API calls that make the application user (idempotent PUTs): the vhost, the user
 * with its current password, its permissions. curl verifies the broker's certificate and host name
 * (public CA) and fails on any non-2xx answer; the credentials come from the environment.
 */
export function appUserScript(): string {
  const permissions = JSON.stringify(APP_PERMISSIONS);
  return [
    'set -eu',
    'api="https://$MQ_HOST/api"',
    'put() { curl --fail-with-body --silent --show-error --proto =https --tlsv1.2 --max-time 20 -u "$ADMIN_USER:$ADMIN_PASSWORD" -H "content-type: application/json" -X PUT "$api/$1" -d "$2"; }',
    `put "vhosts/${BROKER_VHOST}" '{}'`,
    'put "users/$APP_USER" "{\\"password\\":\\"$APP_PASSWORD\\",\\"tags\\":\\"\\"}"',
    `put "permissions/${BROKER_VHOST}/$APP_USER" '${permissions}'`,
    'echo "application user $APP_USER ready on vhost ' + BROKER_VHOST + '"',
  ].join('\n');
}

/** `amqps://b-….mq.<region>.amazonaws.com:5671` → the host name. */
export function hostOfEndpoint(endpoint: string): string {
  return new URL(endpoint).hostname;
}

/**
 * prod: Amazon MQ for RabbitMQ, private (not publicly accessible, in the isolated data
 * subnets, AMQPS and the management API from the EKS nodes only), a three-node cluster across
 * AZs in prod, general logs to CloudWatch.
 *
 * Credentials: `aws.mq.Broker` replaces the whole broker (endpoint, queues, messages) when its
 * `users` block changes, so that block holds only the admin, created once and then ignored
 * (`ignoreChanges: ['users']`): rotating it is an out-of-band step (infra/README.md). The service
 * gets its own least-privilege user, made through the RabbitMQ management API by a Job inside the
 * cluster (the broker is private): vhost `goticket`, configure/write/read limited to `goticket.*`.
 * Rotating that user is `pulumi up` after replacing its RandomPassword: the Job re-runs with the new
 * password (its pod template carries the password's hash) and the runtime Secret follows.
 */
export class Broker extends pulumi.ComponentResource {
  /** Host name of the AMQPS endpoint (a cluster has one endpoint behind an NLB). */
  readonly host: pulumi.Output<string>;
  readonly port: number = AMQPS_PORT;
  /** The service's user (never the admin). */
  readonly username = BROKER_USER;
  readonly vhost = BROKER_VHOST;
  /** Secret: the service user's password. */
  readonly password: pulumi.Output<string>;
  /** The Job that made the service user: the runtime Secret waits for it. */
  readonly appUserReady: pulumi.Resource;
  readonly securityGroupId: pulumi.Output<string>;

  constructor(name: string, args: BrokerArgs, opts?: pulumi.ComponentResourceOptions) {
    super('goticket:data:Broker', name, {}, opts);

    const adminPassword = generatedSecret(`${name}-admin-password`, 40, this);
    const password = generatedSecret(`${name}-password`, 40, this);
    const sg = nodeOnlySecurityGroup(
      `${name}-sg`,
      { vpcId: args.vpcId, nodeSecurityGroupId: args.nodeSecurityGroupId, port: AMQPS_PORT, description: 'AMQPS' },
      this,
    );
    // The management API, for the Job below (also from the nodes only).
    new aws.vpc.SecurityGroupIngressRule(
      `${name}-sg-management`,
      {
        securityGroupId: sg.id,
        referencedSecurityGroupId: args.nodeSecurityGroupId,
        ipProtocol: 'tcp',
        fromPort: MANAGEMENT_PORT,
        toPort: MANAGEMENT_PORT,
        description: 'RabbitMQ management API (user Job)',
      },
      { parent: this },
    );
    const cluster = args.deploymentMode === 'CLUSTER_MULTI_AZ';

    const broker = new aws.mq.Broker(
      name,
      {
        brokerName: `goticket-${pulumi.getStack()}`,
        engineType: 'RabbitMQ',
        engineVersion: args.engineVersion,
        autoMinorVersionUpgrade: true,
        hostInstanceType: args.instanceType,
        deploymentMode: args.deploymentMode,
        publiclyAccessible: false,
        // A single-instance broker takes exactly one subnet; a cluster spans the AZs.
        subnetIds: cluster ? args.subnetIds : pulumi.output(args.subnetIds).apply((ids) => ids.slice(0, 1)),
        securityGroups: [sg.id],
        // Only the admin, and never changed through here: a change to `users` replaces the broker.
        users: [{ username: BROKER_ADMIN, password: adminPassword, consoleAccess: false }],
        logs: { general: true },
        maintenanceWindowStartTime: { dayOfWeek: 'SUNDAY', timeOfDay: '03:00', timeZone: 'UTC' },
      },
      { parent: this, ignoreChanges: ['users'] },
    );

    this.host = broker.instances.apply((instances) => {
      const endpoint = instances[0]?.endpoints[0];
      if (!endpoint) throw new Error('Amazon MQ returned no endpoint');
      return hostOfEndpoint(endpoint);
    });
    // ---- the service's user, made inside the cluster through the management API
    const k = { parent: this, provider: args.kubernetes.provider };
    const ns = new k8s.core.v1.Namespace(
      `${name}-admin-ns`,
      {
        metadata: {
          name: BROKER_ADMIN_NAMESPACE,
          labels: {
            'pod-security.kubernetes.io/enforce': 'restricted',
            'pod-security.kubernetes.io/audit': 'restricted',
            'pod-security.kubernetes.io/warn': 'restricted',
          },
        },
      },
      { ...k, dependsOn: args.kubernetes.dependsOn },
    );
    // Default deny; the Job may only resolve names and reach the broker's management API in the data subnets.
    const deny = new k8s.networking.v1.NetworkPolicy(
      `${name}-admin-deny`,
      {
        metadata: { name: 'default-deny-all', namespace: ns.metadata.name },
        spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
      },
      k,
    );
    const egress = new k8s.networking.v1.NetworkPolicy(
      `${name}-admin-egress`,
      {
        metadata: { name: 'management-api-and-dns', namespace: ns.metadata.name },
        spec: {
          podSelector: {},
          policyTypes: ['Egress'],
          egress: [
            {
              to: [
                {
                  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
                  podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
                },
              ],
              ports: [
                { protocol: 'UDP', port: 53 },
                { protocol: 'TCP', port: 53 },
              ],
            },
            { to: PROD_NETWORK.subnets.data.map((cidr) => ({ ipBlock: { cidr } })), ports: [{ protocol: 'TCP', port: MANAGEMENT_PORT }] },
          ],
        },
      },
      k,
    );
    const credentials = new k8s.core.v1.Secret(
      `${name}-admin-credentials`,
      {
        metadata: { name: 'broker-credentials', namespace: ns.metadata.name },
        type: 'Opaque',
        stringData: {
          ADMIN_USER: BROKER_ADMIN,
          ADMIN_PASSWORD: adminPassword,
          APP_USER: BROKER_USER,
          APP_PASSWORD: password,
          MQ_HOST: this.host,
        },
      },
      k,
    );
    const passwordVersion = pulumi.unsecret(password.apply((p) => createHash('sha256').update(p).digest('hex').slice(0, 16)));
    this.appUserReady = new k8s.batch.v1.Job(
      `${name}-app-user`,
      {
        metadata: { name: 'broker-app-user', namespace: ns.metadata.name },
        spec: {
          backoffLimit: 4,
          activeDeadlineSeconds: 300,
          ttlSecondsAfterFinished: 86_400,
          template: {
            metadata: { annotations: { 'goticket.io/app-password-version': passwordVersion } },
            spec: {
              restartPolicy: 'Never',
              automountServiceAccountToken: false,
              securityContext: { runAsNonRoot: true, runAsUser: 100, runAsGroup: 101, seccompProfile: { type: 'RuntimeDefault' } },
              containers: [
                {
                  name: 'app-user',
                  image: CURL_IMAGE,
                  command: ['sh', '-c', appUserScript()],
                  envFrom: [{ secretRef: { name: credentials.metadata.name } }],
                  resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    readOnlyRootFilesystem: true,
                    runAsNonRoot: true,
                    capabilities: { drop: ['ALL'] },
                  },
                },
              ],
            },
          },
        },
      },
      // A Job's template cannot change in place: a new password is a new Job.
      { ...k, dependsOn: [broker, credentials, deny, egress], deleteBeforeReplace: true },
    );

    this.password = password;
    this.securityGroupId = sg.id;
    this.registerOutputs({ host: this.host, securityGroupId: this.securityGroupId });
  }
}
