import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';

/**
 * A generated credential, returned as a Pulumi secret. Letters and digits only, so it is safe in
 * a URL and accepted by RDS, ElastiCache and Amazon MQ (none of `@ : / , = "`).
 */
export function generatedSecret(name: string, length: number, parent: pulumi.Resource): pulumi.Output<string> {
  const password = new random.RandomPassword(name, { length, special: false, minLower: 2, minUpper: 2, minNumeric: 2 }, { parent });
  return pulumi.secret(password.result);
}
