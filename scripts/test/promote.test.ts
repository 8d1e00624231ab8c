/**
 * Promotion passes CI by construction (break 2 of the deploy chain): `npm run promote` on a copy of
 * the repository with a fake digest, then the checks a promotion pull request's CI runs on what it
 * changes: the drift check, the policy pack over dist/, the chart tests (snapshot, dist, with
 * --ci so no snapshot is rewritten) and the image chain. Before the fix the release workflow's sed
 * plus make synth failed charts/test/snapshot.test.ts (old tag in the snapshot) and
 * charts/test/dist.test.ts (appVersion '0.1.0' hard-coded).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { prod } from '../../charts/environments';
import { pinImage, referenceProblem } from '../promote';
import { copyRepository } from '../lib/repo-copy';
import { ROOT } from './github-files';

const RELEASE = readFileSync(join(ROOT, '.github', 'workflows', 'release.yml'), 'utf8');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const FAKE_DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;
const FAKE_REFERENCE = `ghcr.io/goticket-platform/goticket:${VERSION}-0123456789ab@${FAKE_DIGEST}`;

describe('the reference promote accepts', () => {
  it.each([
    ['prod', FAKE_REFERENCE, undefined],
    ['prod', `ghcr.io/goticket-platform/goticket@${FAKE_DIGEST}`, undefined],
    ['prod', `ghcr.io/goticket-platform/goticket:sha-${'a'.repeat(40)}@${FAKE_DIGEST}`, undefined],
    ['dev', 'ghcr.io/goticket-platform/goticket:local', undefined],
    ['dev', FAKE_REFERENCE, undefined],
    ['prod', 'ghcr.io/goticket-platform/goticket:0.1.0', /has no digest/],
    ['prod', `ghcr.io/goticket-platform/goticket:0.1.0@${FAKE_DIGEST}`, /tag 0\.1\.0 is not one release\.yml pushes/],
    ['prod', 'ghcr.io/goticket-platform/goticket:local', /:local is the build make kind-load loads into Kind; prod pulls from a registry/],
    ['prod', `123456789012.dkr.ecr.eu-west-1.amazonaws.com/goticket@${FAKE_DIGEST}`, /is not in IMAGE_REPOSITORIES .*add the repository/],
    ['prod', 'not a reference', /is not an image reference/],
    ['qa', FAKE_REFERENCE, /unknown environment "qa"/],
  ])('%s %s', (env, reference, problem) => {
    const found = referenceProblem(env, reference, RELEASE);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(problem);
  });
});

test("pinImage rewrites the one image line of that environment's block and nothing else", () => {
  const source = readFileSync(join(ROOT, 'charts', 'environments.ts'), 'utf8');
  const after = pinImage(source, 'prod', FAKE_REFERENCE);
  const changed = after.split('\n').filter((line, i) => line !== source.split('\n')[i]);
  expect(changed).toEqual([`  image: '${FAKE_REFERENCE}',`]);
  expect(source.split('\n').filter((line, i) => line !== after.split('\n')[i])).toEqual([`  image: '${prod.image}',`]);
  expect(() => pinImage('export const dev = {};\n', 'dev', FAKE_REFERENCE)).toThrow(/no "export const dev: Environment = \{"/);
});

test('on a copy of the repository: promote with a fake digest, then drift, policy, chart tests and image chain pass there', () => {
  const copy = copyRepository(ROOT, 'promote-test-');
  try {
    const inCopy = (command: string, args: string[]) => {
      const result = spawnSync(command, args, { cwd: copy.dir, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } });
      return { status: result.status, output: `${result.stdout}${result.stderr}` };
    };
    const promoted = inCopy('npm', ['run', '--silent', 'promote', '--', '--env', 'prod', '--image', FAKE_REFERENCE]);
    expect(promoted).toEqual({ status: 0, output: `promote: prod pins ${FAKE_REFERENCE}; dist/ re-synthesized, image chain checked\n` });
    const api = readFileSync(join(copy.dir, 'dist', 'prod', 'Deployment.goticket-api.k8s.yaml'), 'utf8');
    expect(api).toContain(`image: ${FAKE_REFERENCE}`);
    expect(readFileSync(join(copy.dir, 'dist', 'helm', 'prod', 'Chart.yaml'), 'utf8')).toContain(`appVersion: ${VERSION}-0123456789ab`);

    expect(inCopy('bash', ['scripts/drift.sh'])).toMatchObject({ status: 0 });
    const policy = inCopy('npm', ['run', '--silent', 'policy:manifests', '--', 'dist']);
    expect(policy.status).toBe(0);
    expect(policy.output).toMatch(/0 mandatory, 0 advisory violation/);
    const jest = inCopy(join('node_modules', '.bin', 'jest'), [
      '--ci',
      '--maxWorkers=1',
      '--silent',
      'charts/test/snapshot.test.ts',
      'charts/test/dist.test.ts',
    ]);
    expect({ status: jest.status, failed: jest.output.match(/✕.*/g) ?? [] }).toEqual({ status: 0, failed: [] });
    expect(jest.output).toMatch(/Tests: +\d+ passed, \d+ total/);
  } finally {
    copy.remove();
  }
}, 300_000);
