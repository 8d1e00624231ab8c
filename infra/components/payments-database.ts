import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { PAYMENTS, PROD_NETWORK, RDS_CA_BUNDLE, VERSIONS } from '../../platform/contract';
import { generatedSecret } from './passwords';

export const DB_ADMIN_NAMESPACE = 'goticket-db-admin';
/** The postgres image's own user (uid/gid 999): psql runs as it. */
const PSQL_UID = 999;
const SCRIPT_DIR = '/etc/goticket-db-admin';
const SCRIPT_FILE = 'payments-role.sql';
const CA_FILE = 'rds-ca-bundle.pem';

const identifier = (name: string): string => {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain PostgreSQL identifier: ${name}`);
  return name;
};

/**
 * The psql script that makes the payments service's login role (idempotent: every run converges).
 * Run as the database's owner (the RDS master user, which the booking side and the migrate Job
 * use), with the role's password in PAYMENTS_PASSWORD. The role:
 *
 * - logs in with that password, and nothing more (CREATE ROLE's defaults: no superuser, createdb,
 *   createrole, replication, bypassrls; the owner, no superuser on RDS, could not set those anyway);
 * - owns schema `payments` and may read and write every table in it, also those the migrate Job
 *   creates there as the owner (default privileges); the owner is made a member so it may create
 *   the schema for the role and run the payments migrations in it;
 * - has no CREATE on the database (revoked, so an older install converges): migrate() creates schema
 *   `payments` only when it is missing, and here it never is;
 * - has no privilege at all on any table or sequence of schema public (the booking tables, their
 *   schema_migrations included), nor CREATE there: its readiness checks only its own
 *   payments.schema_migrations (app/src/payments paymentsSchemaHealthCheck).
 *
 * `role` and `schema` are parameters for the integration test's throw-away names only.
 */
export function paymentsRoleSql(role: string = PAYMENTS.database.role, schema: string = PAYMENTS.database.schema): string {
  const r = identifier(role);
  const s = identifier(schema);
  return [
    '\\set ON_ERROR_STOP on',
    '\\getenv payments_password PAYMENTS_PASSWORD',
    `SELECT 'CREATE ROLE ${r}' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${r}') \\gexec`,
    // Only LOGIN and the password: the owner is no superuser (RDS), and CREATE ROLE's defaults are
    // already NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS (the test checks them).
    `ALTER ROLE ${r} WITH LOGIN PASSWORD :'payments_password';`,
    `GRANT ${r} TO CURRENT_USER;`,
    // No CREATE on the database (it owns its schema, made here; migrate() creates it only when missing),
    // revoked too so an install that had the grant converges.
    `SELECT format('REVOKE CREATE ON DATABASE %I FROM ${r}', current_database()) \\gexec`,
    `CREATE SCHEMA IF NOT EXISTS ${s} AUTHORIZATION ${r};`,
    `ALTER SCHEMA ${s} OWNER TO ${r};`,
    `REVOKE ALL ON SCHEMA ${s} FROM PUBLIC;`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${r};`,
    `ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO ${r};`,
    `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${r};`,
    `GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA ${s} TO ${r};`,
    `REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${r};`,
    `REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM ${r};`,
    `REVOKE CREATE ON SCHEMA public FROM ${r};`,
    `\\echo 'role ${r} ready: schema ${s}, no grant on the booking tables'`,
    '',
  ].join('\n');
}

export interface PaymentsDatabaseRoleArgs {
  /** The RDS instance and its owner (master) login, which runs the script. */
  database: { host: pulumi.Input<string>; port: number; name: string; user: string; password: pulumi.Input<string> };
  /** Where the Job runs (inside the VPC: the database is private). */
  kubernetes: { provider: k8s.Provider; dependsOn: pulumi.Input<pulumi.Resource>[] };
  /** Repository root (the RDS CA bundle the Job verifies the server with). */
  repoRoot?: string;
}

/**
 * prod: the payments service's own PostgreSQL login (PAYMENTS.database.role), made by a Job inside
 * the cluster (RDS is private) with psql from the PostgreSQL image the platform pins, over TLS
 * verified against the committed RDS CA bundle (verify-full). Its namespace is default-deny with
 * egress to DNS and the data subnets' 5432 only. Rotating the role's password is `pulumi up` after
 * replacing its RandomPassword: the Job re-runs (its pod template carries the password's hash) and
 * the payments Secret follows.
 */
export class PaymentsDatabaseRole extends pulumi.ComponentResource {
  readonly user: string = PAYMENTS.database.role;
  /** Secret. */
  readonly password: pulumi.Output<string>;
  /** The Job that made the role: the payments Secret waits for it. */
  readonly ready: pulumi.Resource;

  constructor(name: string, args: PaymentsDatabaseRoleArgs, opts?: pulumi.ComponentResourceOptions) {
    super('goticket:data:PaymentsDatabaseRole', name, {}, opts);
    const password = generatedSecret(`${name}-password`, 40, this);
    const k = { parent: this, provider: args.kubernetes.provider };
    const repoRoot = args.repoRoot ?? path.resolve(__dirname, '..', '..');

    const ns = new k8s.core.v1.Namespace(
      `${name}-ns`,
      {
        metadata: {
          name: DB_ADMIN_NAMESPACE,
          labels: {
            'pod-security.kubernetes.io/enforce': 'restricted',
            'pod-security.kubernetes.io/audit': 'restricted',
            'pod-security.kubernetes.io/warn': 'restricted',
          },
        },
      },
      { ...k, dependsOn: args.kubernetes.dependsOn },
    );
    const deny = new k8s.networking.v1.NetworkPolicy(
      `${name}-deny`,
      {
        metadata: { name: 'default-deny-all', namespace: ns.metadata.name },
        spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
      },
      k,
    );
    const egress = new k8s.networking.v1.NetworkPolicy(
      `${name}-egress`,
      {
        metadata: { name: 'postgres-and-dns', namespace: ns.metadata.name },
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
            {
              to: PROD_NETWORK.subnets.data.map((cidr) => ({ ipBlock: { cidr } })),
              ports: [{ protocol: 'TCP', port: args.database.port }],
            },
          ],
        },
      },
      k,
    );
    const script = new k8s.core.v1.ConfigMap(
      `${name}-script`,
      {
        metadata: { name: 'payments-role', namespace: ns.metadata.name },
        data: { [SCRIPT_FILE]: paymentsRoleSql(), [CA_FILE]: readFileSync(path.join(repoRoot, RDS_CA_BUNDLE.repoPath), 'utf8') },
      },
      k,
    );
    const credentials = new k8s.core.v1.Secret(
      `${name}-credentials`,
      {
        metadata: { name: 'database-owner', namespace: ns.metadata.name },
        type: 'Opaque',
        stringData: {
          PGHOST: args.database.host,
          PGPORT: String(args.database.port),
          PGDATABASE: args.database.name,
          PGUSER: args.database.user,
          PGPASSWORD: args.database.password,
          PAYMENTS_PASSWORD: password,
        },
      },
      k,
    );
    const version = pulumi.unsecret(
      pulumi.all([password, paymentsRoleSql()]).apply(([p, sql]) => createHash('sha256').update(p).update(sql).digest('hex').slice(0, 16)),
    );
    this.ready = new k8s.batch.v1.Job(
      `${name}-job`,
      {
        metadata: { name: 'payments-role', namespace: ns.metadata.name },
        spec: {
          backoffLimit: 4,
          activeDeadlineSeconds: 300,
          ttlSecondsAfterFinished: 86_400,
          template: {
            metadata: { annotations: { 'goticket.io/payments-role-version': version } },
            spec: {
              restartPolicy: 'Never',
              automountServiceAccountToken: false,
              securityContext: {
                runAsNonRoot: true,
                runAsUser: PSQL_UID,
                runAsGroup: PSQL_UID,
                seccompProfile: { type: 'RuntimeDefault' },
              },
              volumes: [{ name: 'script', configMap: { name: script.metadata.name } }],
              containers: [
                {
                  name: 'payments-role',
                  image: VERSIONS.postgresImage,
                  command: ['psql', '--no-psqlrc', '--file', `${SCRIPT_DIR}/${SCRIPT_FILE}`],
                  env: [
                    { name: 'PGSSLMODE', value: 'verify-full' },
                    { name: 'PGSSLROOTCERT', value: `${SCRIPT_DIR}/${CA_FILE}` },
                    { name: 'PGCONNECT_TIMEOUT', value: '10' },
                  ],
                  envFrom: [{ secretRef: { name: credentials.metadata.name } }],
                  volumeMounts: [{ name: 'script', mountPath: SCRIPT_DIR, readOnly: true }],
                  resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '200m', memory: '128Mi' } },
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
      // A Job's template cannot change in place: a new password or script is a new Job.
      { ...k, dependsOn: [credentials, script, deny, egress], deleteBeforeReplace: true },
    );
    this.password = password;
    this.registerOutputs({});
  }
}
