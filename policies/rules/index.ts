/** Every rule of the pack, in the order the README lists them. */
import type { AwsRule, ManifestRule, ManifestSetRule, Rule } from '../lib/types';
import { eksRules } from './aws/eks';
import { elasticacheRules } from './aws/elasticache';
import { kmsEcrRules } from './aws/kms-ecr';
import { mqRules } from './aws/mq';
import { networkRules } from './aws/network';
import { rdsRules } from './aws/rds';
import { tagRules } from './aws/tags';
import { containerRules } from './kubernetes/containers';
import { crossObjectRules } from './kubernetes/cross-object';
import { gatewayRules } from './kubernetes/gateway';
import { objectRules } from './kubernetes/objects';
import { podSecurityRules } from './kubernetes/pod-security';

export const awsRules: AwsRule[] = [
  ...rdsRules,
  ...elasticacheRules,
  ...mqRules,
  ...eksRules,
  ...networkRules,
  ...kmsEcrRules,
  ...tagRules,
];
export const manifestRules: ManifestRule[] = [...containerRules, ...podSecurityRules, ...objectRules, ...gatewayRules];
export const manifestSetRules: ManifestSetRule[] = crossObjectRules;
export const allRules: Rule[] = [...awsRules, ...manifestRules, ...manifestSetRules];
