/** Amazon RDS: encrypted, private, backed up, protected and highly available in prod, TLS only. */
import type { AwsRule } from '../../lib/types';
import { bool, num, records, str } from '../../lib/values';
import { ofType, prodOnly, unless } from './helpers';

const INSTANCE = 'aws:rds/instance:Instance';
const CLUSTER = 'aws:rds/cluster:Cluster';
const CLUSTER_INSTANCE = 'aws:rds/clusterInstance:ClusterInstance';
const PARAMETER_GROUP = 'aws:rds/parameterGroup:ParameterGroup';
const CLUSTER_PARAMETER_GROUP = 'aws:rds/clusterParameterGroup:ClusterParameterGroup';

export const MIN_BACKUP_RETENTION_DAYS = 7;

export const rdsStorageEncrypted: AwsRule = {
  kind: 'aws',
  name: 'rds-storage-encrypted',
  level: 'mandatory',
  description: 'RDS instances and clusters encrypt their storage at rest.',
  remediation:
    'Set storageEncrypted: true (with kmsKeyId for a customer-managed key); an existing instance must be restored from an encrypted snapshot.',
  rationale: 'Snapshots, replicas and disks of an unencrypted database leak every row.',
  benchmark: 'AWS FSBP RDS.3 / RDS.27',
  appliesTo: ofType(INSTANCE, CLUSTER),
  check: (p) => unless(bool(p.storageEncrypted) === true, 'storage is not encrypted (storageEncrypted must be true)'),
};

export const rdsNotPublic: AwsRule = {
  kind: 'aws',
  name: 'rds-not-publicly-accessible',
  level: 'mandatory',
  description: 'RDS instances are not publicly accessible.',
  remediation:
    'Set publiclyAccessible: false and place the instance in private subnets; reach it from the cluster through its security group.',
  rationale: 'A public endpoint exposes the database to password guessing and every future PostgreSQL CVE.',
  benchmark: 'AWS FSBP RDS.2',
  appliesTo: ofType(INSTANCE, CLUSTER_INSTANCE),
  check: (p) => unless(bool(p.publiclyAccessible) !== true, 'database is publicly accessible (publiclyAccessible must be false)'),
};

export const rdsBackupRetention: AwsRule = {
  kind: 'aws',
  name: 'rds-backup-retention',
  level: 'mandatory',
  description: `RDS instances and clusters keep automated backups for at least ${MIN_BACKUP_RETENTION_DAYS} days.`,
  remediation: `Set backupRetentionPeriod to ${MIN_BACKUP_RETENTION_DAYS} or more.`,
  rationale: 'Point-in-time recovery is the only way back from a bad migration or a deleted table.',
  benchmark: 'AWS FSBP RDS.11',
  appliesTo: ofType(INSTANCE, CLUSTER),
  check: (p) => {
    const days = num(p.backupRetentionPeriod);
    if (days === undefined) return [`backupRetentionPeriod is not set (at least ${MIN_BACKUP_RETENTION_DAYS} days required)`];
    return unless(
      days >= MIN_BACKUP_RETENTION_DAYS,
      `backupRetentionPeriod is ${days} days (at least ${MIN_BACKUP_RETENTION_DAYS} required)`,
    );
  },
};

export const rdsDeletionProtection: AwsRule = {
  kind: 'aws',
  name: 'rds-prod-deletion-protection',
  level: 'mandatory',
  description: 'In prod, RDS instances and clusters have deletion protection on.',
  remediation: 'Set deletionProtection: true in prod (config database.deletionProtection).',
  rationale: 'A mistaken `pulumi destroy` or replacement must not delete the production database.',
  benchmark: 'AWS FSBP RDS.8 / RDS.7',
  appliesTo: ofType(INSTANCE, CLUSTER),
  check: prodOnly((p) =>
    unless(bool(p.deletionProtection) === true, 'deletion protection is off in prod (deletionProtection must be true)'),
  ),
};

export const rdsMultiAz: AwsRule = {
  kind: 'aws',
  name: 'rds-prod-multi-az',
  level: 'mandatory',
  description: 'In prod, RDS instances run multi-AZ.',
  remediation: 'Set multiAz: true in prod (config database.multiAz).',
  rationale: 'A single-AZ database makes one availability zone outage a full outage.',
  benchmark: 'AWS FSBP RDS.5',
  appliesTo: ofType(INSTANCE),
  check: prodOnly((p) => unless(bool(p.multiAz) === true, 'instance is single-AZ in prod (multiAz must be true)')),
};

/** The parameter that forces TLS per engine family, and the values that mean "on". */
function tlsParameter(family: string): { name: string; on: string[] } | undefined {
  if (/postgres/.test(family)) return { name: 'rds.force_ssl', on: ['1'] };
  if (/mysql|mariadb/.test(family)) return { name: 'require_secure_transport', on: ['1', 'ON', 'on'] };
  return undefined;
}

export const rdsForceTls: AwsRule = {
  kind: 'aws',
  name: 'rds-force-tls',
  level: 'mandatory',
  description: 'RDS only accepts TLS connections: the parameter group forces it (rds.force_ssl = 1) and instances use such a group.',
  remediation:
    'Create a parameter group with rds.force_ssl = 1 (PostgreSQL) or require_secure_transport = 1 (MySQL) and set parameterGroupName on the instance.',
  rationale: 'Credentials and data cross the VPC in clear text unless the server refuses plain connections.',
  benchmark: 'AWS FSBP principle "encrypt data in transit" (AWS Well-Architected SEC09)',
  appliesTo: ofType(INSTANCE, PARAMETER_GROUP, CLUSTER_PARAMETER_GROUP),
  check: (p, ctx) => {
    if (ctx.type === INSTANCE) {
      const engine = str(p.engine) ?? '';
      if (!tlsParameter(engine)) return [];
      const group = str(p.parameterGroupName);
      return unless(
        group !== undefined && !group.startsWith('default.'),
        'instance uses the default parameter group; use one that forces TLS',
      );
    }
    const tls = tlsParameter(str(p.family) ?? '');
    if (!tls) return [];
    const param = records(p.parameters).find((x) => str(x.name) === tls.name);
    const value = str(param?.value);
    return unless(value !== undefined && tls.on.includes(value), `parameter group does not set ${tls.name} = 1`);
  },
};

export const rdsRules: AwsRule[] = [rdsStorageEncrypted, rdsNotPublic, rdsBackupRetention, rdsDeletionProtection, rdsMultiAz, rdsForceTls];
