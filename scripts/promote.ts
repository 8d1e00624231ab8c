/**
 * Promotion: pin an image for one environment so that the tree passes CI by construction.
 *
 *   npm run promote -- --env <dev|prod> --image <reference>
 *
 * release.yml runs it with the reference it pushed (`<repository>:<tag>@sha256:<digest>`); a person
 * runs it the same way to roll back (an older reference) or to put dev back on the local build
 * (`--env dev --image ghcr.io/<owner>/goticket:local`, what `make kind-load` loads).
 *
 * It (1) checks the reference: a repository of IMAGE_REPOSITORIES, a sha256 digest (a registry
 * image is pinned by content), a tag (if any) of the scheme release.yml pushes, or the `:local`
 * build for an environment with in-cluster backends; (2) rewrites that environment's one
 * `image: '…'` line in charts/environments.ts; (3) re-synthesizes dist/ (which validates the
 * environment); (4) checks the image chain (scripts/lib/image-chain.ts) on the result. Nothing
 * else depends on the image: the chart snapshot records it as a marker and the chart tests derive
 * the Helm appVersion from environments.ts. On any failure charts/environments.ts and dist/ are
 * put back as they were. Prints one line; problems go to stderr, one line each.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ENVIRONMENTS, IMAGE_REPOSITORIES, LOCAL_TAG, isLocalBuild, parseImage } from '../charts/environments';
import { releaseScheme } from './lib/image-chain';

const ROOT = resolve(__dirname, '..');
const ENVIRONMENTS_FILE = join(ROOT, 'charts', 'environments.ts');
const USAGE = 'usage: npm run promote -- --env <dev|prod> --image <repository>[:<tag>]@sha256:<digest>';

class PromoteError extends Error {}

/** Why `reference` cannot be pinned for `envName`, or undefined. */
export function referenceProblem(envName: string, reference: string, releaseYml: string): string | undefined {
  const env = ENVIRONMENTS.find((candidate) => candidate.name === envName);
  if (!env) return `unknown environment "${envName}" (known: ${ENVIRONMENTS.map((e) => e.name).join(', ')})`;
  const image = parseImage(reference);
  if (!image) return `${reference} is not an image reference (<repository>[:<tag>]@sha256:<64 hex>)`;
  if (!IMAGE_REPOSITORIES.includes(image.repository)) {
    return `${image.repository} is not in IMAGE_REPOSITORIES of charts/environments.ts (${IMAGE_REPOSITORIES.join(', ')}): add the repository release.yml pushes to there first`;
  }
  if (isLocalBuild(reference)) {
    return env.backends.kind === 'in-cluster'
      ? undefined
      : `:${LOCAL_TAG} is the build make kind-load loads into Kind; ${env.name} pulls from a registry`;
  }
  if (!image.digest) return `${reference} has no digest: pin the sha256 digest release.yml printed (registry images are pinned by content)`;
  const { tags } = releaseScheme(releaseYml);
  if (image.tag && !tags.some((tag) => tag.pattern.test(image.tag!))) {
    return `tag ${image.tag} is not one release.yml pushes (${tags.map((tag) => tag.pattern.source).join(' or ')})`;
  }
  return undefined;
}

/** charts/environments.ts with `envName`'s one `image: '…',` line set to `reference`. */
export function pinImage(source: string, envName: string, reference: string): string {
  const lines = source.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`export const ${envName}: Environment = {`));
  if (start < 0) throw new PromoteError(`charts/environments.ts: no "export const ${envName}: Environment = {"`);
  const end = lines.findIndex((line, index) => index > start && line === '};');
  const offset = lines.slice(start, end < 0 ? undefined : end).findIndex((line) => /^ {2}image: '[^']*',$/.test(line));
  if (offset < 0) throw new PromoteError(`charts/environments.ts: ${envName} has no one-line "  image: '…'," to rewrite`);
  lines[start + offset] = `  image: '${reference}',`;
  return lines.join('\n');
}

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new PromoteError(`${args.join(' ')} failed:\n${`${result.stdout}${result.stderr}`.trim()}`);
}

function promote(envName: string, reference: string): string {
  const problem = referenceProblem(envName, reference, readFileSync(join(ROOT, '.github', 'workflows', 'release.yml'), 'utf8'));
  if (problem) throw new PromoteError(problem);
  const before = readFileSync(ENVIRONMENTS_FILE, 'utf8');
  const after = pinImage(before, envName, reference);
  const backup = mkdtempSync(join(tmpdir(), 'promote-'));
  cpSync(join(ROOT, 'dist'), join(backup, 'dist'), { recursive: true });
  try {
    writeFileSync(ENVIRONMENTS_FILE, after);
    const tsx = join(ROOT, 'node_modules', '.bin', 'tsx');
    run(tsx, ['charts/main.ts']);
    run(tsx, ['scripts/lib/image-chain.ts']);
  } catch (error) {
    writeFileSync(ENVIRONMENTS_FILE, before);
    rmSync(join(ROOT, 'dist'), { recursive: true, force: true });
    cpSync(join(backup, 'dist'), join(ROOT, 'dist'), { recursive: true });
    throw error;
  } finally {
    rmSync(backup, { recursive: true, force: true });
  }
  return `promote: ${envName} pins ${reference}; dist/ re-synthesized, image chain checked`;
}

function main(argv: string[]): number {
  let values: { env?: string; image?: string };
  try {
    ({ values } = parseArgs({ args: argv, options: { env: { type: 'string' }, image: { type: 'string' } }, strict: true }));
  } catch (error) {
    console.error(`promote: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (!values.env || !values.image) {
    console.error(USAGE);
    return 2;
  }
  try {
    console.log(promote(values.env, values.image));
    return 0;
  } catch (error) {
    if (!(error instanceof PromoteError)) throw error;
    console.error(`promote: ${error.message}`);
    return 1;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
