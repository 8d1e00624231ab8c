/** Amazon ElastiCache (Redis/Valkey replication groups): encrypted, authenticated, failover in prod. */
import type { AwsRule } from '../../lib/types';
import { bool, present, str } from '../../lib/values';
import { ofType, prodOnly, unless } from './helpers';

const REPLICATION_GROUP = 'aws:elasticache/replicationGroup:ReplicationGroup';

export const elasticacheTransitEncryption: AwsRule = {
  kind: 'aws',
  name: 'elasticache-encryption-in-transit',
  level: 'mandatory',
  description: 'ElastiCache replication groups require TLS in transit.',
  remediation: 'Set transitEncryptionEnabled: true and leave transitEncryptionMode unset or "required"; clients use rediss://.',
  rationale: 'Session tokens and cached data cross the VPC in clear text otherwise.',
  benchmark: 'AWS FSBP ElastiCache.5',
  appliesTo: ofType(REPLICATION_GROUP),
  check: (p) => {
    if (bool(p.transitEncryptionEnabled) !== true) return ['encryption in transit is off (transitEncryptionEnabled must be true)'];
    const mode = str(p.transitEncryptionMode);
    return unless(
      mode === undefined || mode === 'required',
      `transitEncryptionMode is ${mode} (plain connections still accepted; use required)`,
    );
  },
};

export const elasticacheAtRestEncryption: AwsRule = {
  kind: 'aws',
  name: 'elasticache-encryption-at-rest',
  level: 'mandatory',
  description: 'ElastiCache replication groups encrypt data at rest.',
  remediation: 'Set atRestEncryptionEnabled: true (with kmsKeyId for a customer-managed key).',
  rationale: 'Backups and swap of an unencrypted cache leak tokens and personal data.',
  benchmark: 'AWS FSBP ElastiCache.4',
  appliesTo: ofType(REPLICATION_GROUP),
  check: (p) => unless(bool(p.atRestEncryptionEnabled) === true, 'encryption at rest is off (atRestEncryptionEnabled must be true)'),
};

export const elasticacheAuth: AwsRule = {
  kind: 'aws',
  name: 'elasticache-auth-required',
  level: 'mandatory',
  description: 'ElastiCache replication groups require authentication (AUTH token or RBAC user groups).',
  remediation: 'Set authToken from a RandomPassword (or userGroupIds for RBAC).',
  rationale: 'Without AUTH anything that reaches the port can read and flush the cache, including rate-limit state.',
  benchmark: 'AWS FSBP ElastiCache.6',
  appliesTo: ofType(REPLICATION_GROUP),
  check: (p) => unless(present(p.authToken) || present(p.userGroupIds), 'no authentication (set authToken or userGroupIds)'),
};

export const elasticacheFailover: AwsRule = {
  kind: 'aws',
  name: 'elasticache-prod-failover',
  level: 'mandatory',
  description: 'In prod, ElastiCache replication groups fail over automatically across availability zones.',
  remediation: 'Set automaticFailoverEnabled: true and multiAzEnabled: true with at least 2 cache clusters in prod.',
  rationale: 'A primary failure must promote a replica instead of taking rate limiting and caching down.',
  benchmark: 'AWS FSBP ElastiCache.3',
  appliesTo: ofType(REPLICATION_GROUP),
  check: prodOnly((p) => [
    ...unless(bool(p.automaticFailoverEnabled) === true, 'automatic failover is off in prod (automaticFailoverEnabled must be true)'),
    ...unless(bool(p.multiAzEnabled) === true, 'replication group is single-AZ in prod (multiAzEnabled must be true)'),
  ]),
};

export const elasticacheRules: AwsRule[] = [
  elasticacheTransitEncryption,
  elasticacheAtRestEncryption,
  elasticacheAuth,
  elasticacheFailover,
];
