/**
 * scripts/release-reuse.sh (release.yml "Already pushed?") against a stand-in registry: a `docker`
 * on PATH that keeps tag → digest files, as `docker buildx imagetools inspect/create` would see a
 * registry. An IMMUTABLE ECR repository refuses a second push of a tag, so a re-run must not build.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './github-files';

const GHCR = 'ghcr.io/acme/goticket';
const ECR = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/goticket';
const SHA = 'f'.repeat(40);
const COMMIT_TAG = `sha-${SHA}`;
const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const TAGS = [GHCR, ECR].flatMap((repo) => [`${repo}:0.1.0-${SHA.slice(0, 12)}`, `${repo}:${COMMIT_TAG}`]).join('\n');

const FAKE_DOCKER = `#!/bin/bash
# docker buildx imagetools inspect|create over files in $REGISTRY (one per reference, holding its digest)
file() { printf '%s/%s' "$REGISTRY" "$(printf '%s' "$1" | tr '/:' '__')"; }
[ "$1 $2" = "buildx imagetools" ] || exit 1
case "$3" in
  inspect) f=$(file "$4"); [ -f "$f" ] || { echo "not found" >&2; exit 1; }; printf '{"schemaVersion":2,"digest":"%s","size":1}\\n' "$(cat "$f")" ;;
  create) shift 3; tags=(); while [ "$1" = --tag ]; do tags+=("$2"); shift 2; done
    digest=\${1##*@}; echo "create \${tags[*]} from $1" >> "$REGISTRY/calls"
    for t in "\${tags[@]}"; do [ -f "$(file "$t")" ] && { echo "tag exists: $t" >&2; exit 1; }; printf '%s' "$digest" > "$(file "$t")"; done ;;
  *) exit 1 ;;
esac
`;

function run(registry: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'release-reuse-'));
  try {
    const bin = join(dir, 'bin');
    const state = join(dir, 'registry');
    spawnSync('mkdir', ['-p', bin, state]);
    writeFileSync(join(bin, 'docker'), FAKE_DOCKER);
    chmodSync(join(bin, 'docker'), 0o755);
    const file = (ref: string) => join(state, ref.replace(/[/:]/g, '_'));
    for (const [ref, digest] of Object.entries(registry)) writeFileSync(file(ref), digest);
    const output = join(dir, 'github-output');
    writeFileSync(output, '');
    const result = spawnSync('bash', [join(ROOT, 'scripts', 'release-reuse.sh')], {
      encoding: 'utf8',
      env: {
        PATH: `${bin}:${process.env.PATH ?? ''}`,
        REGISTRY: state,
        IMAGES: `${GHCR}\n${ECR}\n`,
        TAGS,
        COMMIT_TAG,
        GITHUB_OUTPUT: output,
      },
    });
    const digestOf = (ref: string) => (existsSync(file(ref)) ? readFileSync(file(ref), 'utf8') : undefined);
    const ecr = digestOf(`${ECR}:${COMMIT_TAG}`);
    const calls = existsSync(join(state, 'calls')) ? readFileSync(join(state, 'calls'), 'utf8').trim().split('\n') : [];
    return { status: result.status, stdout: result.stdout, githubOutput: readFileSync(output, 'utf8'), ecr, calls };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('first run: no repository holds the commit tag, digest is empty and the build runs', () => {
  const result = run({});
  expect(result.status).toBe(0);
  expect(result.githubOutput).toBe('digest=\n');
  expect(result.calls).toEqual([]);
});

test('re-run after a complete push: the pushed digest is reused, nothing is pushed again', () => {
  const result = run({ [`${GHCR}:${COMMIT_TAG}`]: D1, [`${ECR}:${COMMIT_TAG}`]: D1 });
  expect(result.status).toBe(0);
  expect(result.githubOutput).toBe(`digest=${D1}\n`);
  expect(result.calls).toEqual([]);
});

test('re-run after GHCR got the image and ECR did not: ECR gets the same index under every tag, by digest', () => {
  const result = run({ [`${GHCR}:${COMMIT_TAG}`]: D1 });
  expect(result.status).toBe(0);
  expect(result.githubOutput).toBe(`digest=${D1}\n`);
  expect(result.calls).toEqual([`create ${ECR}:0.1.0-${SHA.slice(0, 12)} ${ECR}:${COMMIT_TAG} from ${GHCR}@${D1}`]);
  expect(result.ecr).toBe(D1);
});

test('two different images under one commit tag stop the release', () => {
  const result = run({ [`${GHCR}:${COMMIT_TAG}`]: D1, [`${ECR}:${COMMIT_TAG}`]: D2 });
  expect(result.status).toBe(1);
  expect(result.stdout).toMatch(/one commit, two images/);
  expect(result.githubOutput).toBe('');
});
