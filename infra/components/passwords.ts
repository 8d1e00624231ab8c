import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';

/**
 * A generated credential safe to embed in a URL and accepted by RDS, ElastiCache and Amazon MQ
 * (letters and digits only: no `@ : / , = "`). Its `result` is a Pulumi secret.
 */
export function generatedPassword(name: string, length: number, parent: pulumi.Resource): random.RandomPassword {
  return new random.RandomPassword(
    name,
    { length, special: false, minLower: 2, minUpper: 2, minNumeric: 2 },
    { parent },
  );
}
