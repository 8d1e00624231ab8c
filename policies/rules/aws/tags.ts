/** Every taggable AWS resource says which project and environment it belongs to and who manages it. */
import { ENVIRONMENTS, type AwsRule } from '../../lib/types';
import { isRecord } from '../../lib/values';

/**
 * Taggable types this platform creates. Any other `aws:` resource with a `tags` input is checked
 * too; types not listed and without `tags` are assumed untaggable (e.g. SecurityGroupRule).
 * Components (`eks:index:Cluster`, `awsx:ec2:Vpc`) are not listed: their children get the tags
 * from the provider passed in `providers`, which a policy does not see on the component.
 */
export const TAGGABLE_TYPES = new Set([
  'aws:ec2/vpc:Vpc',
  'aws:ec2/subnet:Subnet',
  'aws:ec2/securityGroup:SecurityGroup',
  'aws:ec2/internetGateway:InternetGateway',
  'aws:ec2/natGateway:NatGateway',
  'aws:ec2/eip:Eip',
  'aws:ec2/routeTable:RouteTable',
  'aws:ec2/flowLog:FlowLog',
  'aws:ec2/launchTemplate:LaunchTemplate',
  'aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule',
  'aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule',
  'aws:rds/instance:Instance',
  'aws:rds/cluster:Cluster',
  'aws:rds/subnetGroup:SubnetGroup',
  'aws:rds/parameterGroup:ParameterGroup',
  'aws:elasticache/replicationGroup:ReplicationGroup',
  'aws:elasticache/subnetGroup:SubnetGroup',
  'aws:elasticache/parameterGroup:ParameterGroup',
  'aws:mq/broker:Broker',
  'aws:mq/configuration:Configuration',
  'aws:eks/cluster:Cluster',
  'aws:eks/nodeGroup:NodeGroup',
  'aws:kms/key:Key',
  'aws:ecr/repository:Repository',
  'aws:iam/role:Role',
  'aws:iam/policy:Policy',
  'aws:s3/bucket:Bucket',
  'aws:s3/bucketV2:BucketV2',
  'aws:cloudwatch/logGroup:LogGroup',
  'aws:secretsmanager/secret:Secret',
]);

export const requiredTags: AwsRule = {
  kind: 'aws',
  name: 'aws-required-tags',
  level: 'advisory',
  description: 'Taggable AWS resources carry the tags project, environment and managed-by, and environment matches the stack.',
  remediation: 'Set the tags on the AWS provider (defaultTags) so every resource inherits them.',
  rationale: 'Tags attribute cost, scope IAM conditions and tell an operator which stack owns a resource before it is deleted.',
  benchmark: 'AWS Tagging Best Practices; AWS Security Hub "… should be tagged" controls',
  appliesTo: (type, props) => TAGGABLE_TYPES.has(type) || (type.startsWith('aws:') && isRecord(props.tags)),
  check: (_p, ctx) => {
    const missing = ctx.settings.requiredTags.filter((t) => !ctx.tags[t]);
    const out = missing.length > 0 ? [`missing tags: ${missing.join(', ')}`] : [];
    const tagged = ctx.tags.environment;
    const configured = ctx.settings.environment;
    if (tagged !== undefined && configured !== undefined && tagged !== configured) {
      out.push(`environment tag "${tagged}" does not match the stack environment "${configured}"`);
    } else if (tagged !== undefined && !(ENVIRONMENTS as readonly string[]).includes(tagged)) {
      out.push(`environment tag "${tagged}" is not one of ${ENVIRONMENTS.join(', ')}`);
    }
    return out;
  },
};

export const tagRules: AwsRule[] = [requiredTags];
