/**
 * `pulumi preview -s prod` with Pulumi.prod.yaml as committed: the program (infra/index.ts) stops
 * before it registers anything, with one line per key that still holds a documentation placeholder.
 */
import * as pulumi from '@pulumi/pulumi';
import { ConfigError } from '../config';
import { stackConfig } from './harness';

it('stops at once, naming every key to set and registering nothing', async () => {
  const registered: string[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push(args.type);
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    'goticket',
    'prod',
    false,
  );
  pulumi.runtime.setAllConfig(stackConfig('prod'));
  let error: unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('../index');
  } catch (thrown) {
    error = thrown;
  }
  expect(error).toBeInstanceOf(ConfigError);
  const lines = (error as Error).message.split('\n');
  // the secrets no committed stack file holds are named first, one line each, then every placeholder
  expect(lines.filter((line) => line.startsWith('missing config '))).toEqual([
    'missing config goticket:oauthGoogleClientSecret',
    'missing config goticket:oauthGithubClientSecret',
    'missing config goticket:stripeApiKey',
    'missing config goticket:stripeWebhookSecret',
  ]);
  expect(
    lines.filter((line) => !line.startsWith('missing config ')).map((line) => /^invalid config ([\w:.]+): .+[:;] set .+$/.exec(line)?.[1]),
  ).toEqual([
    'goticket:host',
    'goticket:grafanaHost',
    'goticket:argocdHost',
    'goticket:acmeEmail',
    'goticket:eks.publicAccessCidrs.0',
    'goticket:eks.deployRoleArn',
    'goticket:eks.previewRoleArn',
  ]);
  expect(registered).toEqual([]);
});
