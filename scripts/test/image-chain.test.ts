/**
 * The image chain (break 1 of the deploy chain): the tags come from release.yml, the references
 * from charts/environments.ts, the built and loaded image from the Makefile's own dry run of
 * `make kind-load`, and what runs from dist/. Before the fix both environments pinned `:0.1.0`,
 * a tag release.yml never pushes, while `make kind-load` loaded `:local`: the last test replays that.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dev, ENVIRONMENTS, IMAGE_REPOSITORIES, prod } from '../../charts/environments';
import { APP } from '../../platform/contract';
import { type ChainInput, checkRepository, distContainers, imageChainProblems, makefileChain, releaseScheme } from '../lib/image-chain';
import { ROOT } from './github-files';

const RELEASE = readFileSync(join(ROOT, '.github', 'workflows', 'release.yml'), 'utf8');
const scheme = releaseScheme(RELEASE);
const DIGEST = `sha256:${'d'.repeat(64)}`;
const SHA = 'abcdef0123456789abcdef0123456789abcdef01';

test('the tags release.yml pushes, derived from release.yml: <version>-<sha12> and sha-<sha>, both naming the commit', () => {
  expect(scheme.unknown).toEqual([]);
  const matches = (tag: string) => scheme.tags.some((t) => t.pattern.test(tag));
  expect(matches(`0.1.0-${SHA.slice(0, 12)}`)).toBe(true);
  expect(matches(`sha-${SHA}`)).toBe(true);
  for (const never of ['0.1.0', 'latest', 'local', `sha-${SHA.slice(0, 7)}`, `0.1.0-${SHA.slice(0, 11)}`])
    expect(matches(never)).toBe(false);
  expect(scheme.ecrRepository).toBe(APP);
  expect(scheme.ghcr.test('ghcr.io/goticket-platform/goticket')).toBe(true);
  expect(scheme.ghcr.test('docker.io/goticket-platform/goticket')).toBe(false);
});

test('a moving tag in release.yml is a broken chain (an IMMUTABLE ECR repository refuses its second push)', () => {
  const moving = releaseScheme(RELEASE.replace('type=sha,format=long', 'type=sha,format=long\n            type=raw,value=latest'));
  expect(moving.unknown).toEqual(['type=raw,value=latest']);
});

test('the Makefile builds and loads exactly the image dist/dev runs, pulled Never', () => {
  const make = makefileChain();
  expect(dev.image).toBe('ghcr.io/goticket-platform/goticket:local');
  expect(make).toMatchObject({ built: dev.image, loaded: dev.image });
  const containers = distContainers(ROOT, 'dev');
  expect(containers.length).toBeGreaterThanOrEqual(3);
  expect(new Set(containers.map((c) => `${c.image} ${c.imagePullPolicy}`))).toEqual(new Set([`${dev.image} Never`]));
});

test('the committed repository is one chain: release.yml, environments.ts, dist/ and the Makefile agree', () => {
  expect(checkRepository()).toEqual([]);
});

describe('each broken link is named', () => {
  const base = (): ChainInput => ({
    environments: ENVIRONMENTS,
    repositories: IMAGE_REPOSITORIES,
    release: scheme,
    makefile: { built: dev.image, loaded: dev.image, output: '' },
    dist: { dev: distContainers(ROOT, 'dev'), prod: distContainers(ROOT, 'prod') },
  });

  test('the code before the fix: :0.1.0 pinned, :local loaded', () => {
    const old = `ghcr.io/goticket-platform/goticket:0.1.0`;
    const input = base();
    const olden = (env: typeof dev) => ({ ...env, image: old });
    const problems = imageChainProblems({
      ...input,
      environments: [olden(dev), olden(prod)],
      makefile: { built: 'ghcr.io/goticket-platform/goticket:local', loaded: 'ghcr.io/goticket-platform/goticket:local', output: '' },
      dist: {
        dev: input.dist.dev!.map((c) => ({ ...c, image: old, imagePullPolicy: 'IfNotPresent' })),
        prod: input.dist.prod!.map((c) => ({ ...c, image: old })),
      },
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^environments\.ts dev: tag 0\.1\.0 is not one release\.yml pushes/),
        expect.stringMatching(/^environments\.ts prod: tag 0\.1\.0 is not one release\.yml pushes/),
      ]),
    );
  });

  test('dev on the local build that the Makefile does not load, and dist/ left behind', () => {
    const input = base();
    const problems = imageChainProblems({
      ...input,
      makefile: { built: 'ghcr.io/goticket-platform/goticket:mine', loaded: undefined, output: '' },
    });
    expect(problems).toEqual([
      `environments.ts dev: runs ${dev.image} but make kind-load builds ghcr.io/goticket-platform/goticket:mine and loads nothing`,
    ]);
    const stale = imageChainProblems({
      ...input,
      environments: [dev, { ...prod, image: `${IMAGE_REPOSITORIES[0]}:0.1.0-abcdef012345@${DIGEST}` }],
    });
    expect(stale.length).toBe(input.dist.prod!.length);
    expect(stale[0]).toMatch(/^dist\/prod\/.*: runs .*, environments\.ts pins .*@sha256:d+ \(make synth\)$/);
  });

  test('a repository release.yml never pushes to, and an ECR repository other than the one the stack creates', () => {
    const input = base();
    expect(
      imageChainProblems({ ...input, repositories: [...IMAGE_REPOSITORIES, '123456789012.dkr.ecr.eu-west-1.amazonaws.com/other'] }),
    ).toEqual(['IMAGE_REPOSITORIES: release.yml never pushes to 123456789012.dkr.ecr.eu-west-1.amazonaws.com/other']);
    expect(imageChainProblems({ ...input, release: { ...scheme, ecrRepository: 'tickets' } })).toEqual([
      `release.yml pushes to the ECR repository "tickets" by default; the prod stack creates "${APP}"`,
    ]);
  });
});
