/** The environment's committed SealedSecrets, synthesized into dist/<env>/ unchanged. */
import { ApiObject, Chart } from 'cdk8s';
import { type Construct } from 'constructs';
import { CHART_PROPS, syncWave } from '../lib';
import { type SealedSecret } from './sealing';

/** Before the Deployments that read them; the controller turns them into Secrets. */
const WAVE = -1;

export class SealedSecretsChart extends Chart {
  constructor(scope: Construct, id: string, props: { secrets: readonly SealedSecret[] }) {
    super(scope, id, CHART_PROPS);
    for (const secret of props.secrets) {
      const annotations = { ...secret.metadata.annotations, ...syncWave(WAVE) };
      new ApiObject(this, secret.metadata.name, { ...secret, metadata: { ...secret.metadata, annotations } });
    }
  }
}
