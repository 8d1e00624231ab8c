import * as aws from '@pulumi/aws';
import type * as pulumi from '@pulumi/pulumi';

export interface NodeOnlySecurityGroupArgs {
  vpcId: pulumi.Input<string>;
  /** The only source admitted: the EKS nodes' security group. */
  nodeSecurityGroupId: pulumi.Input<string>;
  port: number;
  description: string;
}

/**
 * A security group for a managed data service that admits TCP `port` from the cluster nodes'
 * security group and nothing else (no CIDR rules; no egress: the service only answers).
 */
export function nodeOnlySecurityGroup(name: string, args: NodeOnlySecurityGroupArgs, parent: pulumi.Resource): aws.ec2.SecurityGroup {
  const sg = new aws.ec2.SecurityGroup(name, { vpcId: args.vpcId, description: args.description, revokeRulesOnDelete: true }, { parent });
  new aws.vpc.SecurityGroupIngressRule(
    `${name}-from-nodes`,
    {
      securityGroupId: sg.id,
      referencedSecurityGroupId: args.nodeSecurityGroupId,
      ipProtocol: 'tcp',
      fromPort: args.port,
      toPort: args.port,
      description: `${args.description} from the EKS nodes`,
    },
    { parent },
  );
  return sg;
}
