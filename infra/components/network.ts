import * as aws from '@pulumi/aws';
import * as awsx from '@pulumi/awsx';
import * as pulumi from '@pulumi/pulumi';

export interface NetworkArgs {
  cidrBlock: string;
  availabilityZones: number;
  /** `perAz`: one NAT gateway per AZ (no cross-AZ dependency); `single`: one for the VPC. */
  natGateways: 'single' | 'perAz';
  /** One CIDR block per availability zone for each tier (inside `cidrBlock`, not overlapping). */
  subnets: { public: readonly string[]; nodes: readonly string[]; data: readonly string[] };
  flowLogRetentionDays: number;
  /** Used for the cluster discovery tags on subnets (kubernetes.io/cluster/<name>). */
  clusterName: string;
  awsProvider: aws.Provider;
}

/**
 * prod: a VPC across three AZs. Public subnets hold only load balancers and NAT gateways;
 * private subnets (egress through NAT) hold the EKS nodes; isolated "data" subnets (no route
 * to the internet at all) hold RDS, ElastiCache and Amazon MQ. All traffic is recorded by
 * VPC flow logs to CloudWatch.
 */
export class Network extends pulumi.ComponentResource {
  readonly vpcId: pulumi.Output<string>;
  readonly publicSubnetIds: pulumi.Output<string[]>;
  readonly privateSubnetIds: pulumi.Output<string[]>;
  readonly dataSubnetIds: pulumi.Output<string[]>;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super('goticket:network:Network', name, {}, opts);
    for (const [tier, blocks] of Object.entries(args.subnets)) {
      // awsx requires a block per AZ for every spec once one spec names its blocks
      if (blocks.length !== args.availabilityZones)
        throw new Error(`Network ${name}: ${tier} needs ${args.availabilityZones} CIDR blocks, one per AZ (got ${blocks.length})`);
    }
    const clusterTag = { [`kubernetes.io/cluster/${args.clusterName}`]: 'shared' };

    const vpc = new awsx.ec2.Vpc(
      name,
      {
        cidrBlock: args.cidrBlock,
        numberOfAvailabilityZones: args.availabilityZones,
        enableDnsHostnames: true,
        enableDnsSupport: true,
        natGateways: {
          strategy: args.natGateways === 'perAz' ? awsx.ec2.NatGatewayStrategy.OnePerAz : awsx.ec2.NatGatewayStrategy.Single,
        },
        subnetStrategy: awsx.ec2.SubnetAllocationStrategy.Auto,
        subnetSpecs: [
          {
            type: awsx.ec2.SubnetType.Public,
            name: 'public',
            cidrBlocks: [...args.subnets.public],
            tags: { ...clusterTag, 'kubernetes.io/role/elb': '1' },
          },
          {
            type: awsx.ec2.SubnetType.Private,
            name: 'nodes',
            cidrBlocks: [...args.subnets.nodes],
            tags: { ...clusterTag, 'kubernetes.io/role/internal-elb': '1' },
          },
          { type: awsx.ec2.SubnetType.Isolated, name: 'data', cidrBlocks: [...args.subnets.data] },
        ],
      },
      { parent: this, providers: { aws: args.awsProvider } },
    );

    const logGroup = new aws.cloudwatch.LogGroup(`${name}-flow-logs`, { retentionInDays: args.flowLogRetentionDays }, { parent: this });
    const role = new aws.iam.Role(
      `${name}-flow-logs`,
      {
        assumeRolePolicy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Service: 'vpc-flow-logs.amazonaws.com' }, Action: 'sts:AssumeRole' }],
        }),
      },
      { parent: this },
    );
    // Scoped to this log group only (no wildcard resources).
    new aws.iam.RolePolicy(
      `${name}-flow-logs`,
      {
        role: role.id,
        policy: logGroup.arn.apply((arn) =>
          JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
                Resource: [arn, `${arn}:*`],
              },
            ],
          }),
        ),
      },
      { parent: this },
    );
    new aws.ec2.FlowLog(
      `${name}-flow-logs`,
      {
        vpcId: vpc.vpcId,
        trafficType: 'ALL',
        logDestinationType: 'cloud-watch-logs',
        logDestination: logGroup.arn,
        iamRoleArn: role.arn,
        maxAggregationInterval: 60,
      },
      { parent: this },
    );

    this.vpcId = vpc.vpcId;
    this.publicSubnetIds = vpc.publicSubnetIds;
    this.privateSubnetIds = vpc.privateSubnetIds;
    this.dataSubnetIds = vpc.isolatedSubnetIds;
    this.registerOutputs({
      vpcId: this.vpcId,
      publicSubnetIds: this.publicSubnetIds,
      privateSubnetIds: this.privateSubnetIds,
      dataSubnetIds: this.dataSubnetIds,
    });
  }
}
