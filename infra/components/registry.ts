import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface RegistryArgs {
  repositoryName: string;
  /** Untagged images older than this are expired. */
  untaggedExpiryDays: number;
}

/** prod: the ECR repository for the service image: immutable tags, scan on push, KMS-encrypted. */
export class Registry extends pulumi.ComponentResource {
  readonly repositoryUrl: pulumi.Output<string>;

  constructor(name: string, args: RegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    super('goticket:registry:Registry', name, {}, opts);
    const repo = new aws.ecr.Repository(
      name,
      {
        name: args.repositoryName,
        imageTagMutability: 'IMMUTABLE',
        imageScanningConfiguration: { scanOnPush: true },
        encryptionConfigurations: [{ encryptionType: 'KMS' }],
        forceDelete: false,
      },
      { parent: this },
    );
    new aws.ecr.LifecyclePolicy(
      `${name}-lifecycle`,
      {
        repository: repo.name,
        policy: JSON.stringify({
          rules: [
            {
              rulePriority: 1,
              description: 'expire untagged images',
              selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: args.untaggedExpiryDays },
              action: { type: 'expire' },
            },
          ],
        }),
      },
      { parent: this },
    );
    this.repositoryUrl = repo.repositoryUrl;
    this.registerOutputs({ repositoryUrl: this.repositoryUrl });
  }
}
