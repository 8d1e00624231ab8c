import * as aws from '@pulumi/aws';
import type * as pulumi from '@pulumi/pulumi';

/** A customer-managed KMS key with yearly automatic rotation and the longest deletion window. */
export function rotatingKey(name: string, description: string, parent: pulumi.Resource): aws.kms.Key {
  return new aws.kms.Key(name, { description, enableKeyRotation: true, deletionWindowInDays: 30 }, { parent });
}
