/**
 * The GoTicket CrossGuard policy pack: `pulumi preview --policy-pack policies` (see README.md).
 * This is the only module that constructs the PolicyPack; the rules live in modules the tests import.
 */
import { PolicyPack } from '@pulumi/policy';
import { buildPolicies, PACK_NAME } from './pack';

new PolicyPack(PACK_NAME, {
  description:
    'GoTicket platform: AWS (RDS, ElastiCache, Amazon MQ, EKS, security groups, KMS, ECR, tags) and Kubernetes (Pod Security Standards, resources, probes, exposure, NetworkPolicies, availability) rules.',
  policies: buildPolicies(),
});
