/**
 * The rehearsal's e2e dry run catches what only the Kind job would otherwise find: the e2e-kind.yml
 * steps run as written, so a step that calls scripts/kind-manifests.ts wrongly fails here, not on
 * GitHub after a 10-minute image build. (workflows.test.ts only checks that the steps name the script.)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { e2eDryRun } from '../rehearse';
import { copyRepository } from '../lib/repo-copy';
import { ROOT } from './github-files';

test('on the committed workflow it passes and reports what Kind gets', async () => {
  await expect(e2eDryRun()).resolves.toMatch(
    /^3 kind-manifests steps of e2e-kind\.yml: \d+ objects, [3-9] containers on the loaded image, runtime Secret with \d+ keys and the payments Secret with 3, host goticket\.localtest\.me, edge EnvoyProxy\+GatewayClass\+Gateway\+HTTPRoute$/,
  );
}, 120_000);

test.each([
  [
    'the image argument dropped',
    (text: string) => text.replace(' \\\n            --image "$IMAGE"', ' \\\n           '),
    /kind-manifests\.ts --in dist\/dev .* failed:\nusage: kind-manifests/s,
  ],
  [
    'the runtime Secret written where kubectl does not read it',
    (text: string) => text.replace('--runtime-secret "$RUNNER_TEMP/runtime-secret.yaml"', '--runtime-secret "$RUNNER_TEMP/other.yaml"'),
    /apply needs -f <file that exists>/,
  ],
])(
  'a broken step fails the dry run: %s',
  async (_label, breakIt, message) => {
    const copy = copyRepository(ROOT, 'rehearse-test-');
    try {
      const file = join(copy.dir, '.github', 'workflows', 'e2e-kind.yml');
      const text = readFileSync(file, 'utf8');
      const broken = breakIt(text);
      expect(broken).not.toBe(text);
      writeFileSync(file, broken);
      await expect(e2eDryRun(copy.dir)).rejects.toThrow(message);
    } finally {
      copy.remove();
    }
  },
  120_000,
);
