/**
 * The image chain, checked end to end (README "Environments and deployment"):
 *
 *   release.yml pushes  ->  charts/environments.ts pins  ->  dist/<env> runs  <-  make kind-load loads (dev)
 *
 * - the tags release.yml pushes are derived from release.yml itself (its version step and the
 *   docker/metadata-action tag list), and every one must be immutable (it names the commit);
 * - the repositories it pushes to (GHCR under the repository owner, the ECR repository named like
 *   the one infra/components/registry.ts creates) bound IMAGE_REPOSITORIES;
 * - an environment pins a reference release.yml really pushes (a digest, or one of its tags), or,
 *   with in-cluster backends, the `:local` build, which then is exactly what `make kind-load` builds
 *   and loads (read from the Makefile's own dry run) and is pulled Never;
 * - dist/<env> runs that reference with that pull policy.
 *
 * `npx tsx scripts/lib/image-chain.ts` checks the repository it lives in (make rehearse runs it on a
 * promoted copy too): one line, exit 1 with one line per problem.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { ENVIRONMENTS, type Environment, IMAGE_REPOSITORIES, imagePullPolicyOf, isLocalBuild, parseImage } from '../../charts/environments';
import { APP } from '../../platform/contract';

const ROOT = resolve(__dirname, '..', '..');

type Obj = Record<string, unknown>;
const isObj = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: unknown): string => (typeof value === 'string' ? value : '');

export interface ReleaseTag {
  /** The line of release.yml it comes from. */
  source: string;
  pattern: RegExp;
}

export interface ReleaseScheme {
  tags: ReleaseTag[];
  /** Tags release.yml pushes that are not derivable or not immutable (each a problem). */
  unknown: string[];
  /** The GHCR repositories it pushes to (`ghcr.io/<owner>/goticket`). */
  ghcr: RegExp;
  /** The ECR repository name it pushes to by default (vars.ECR_REPOSITORY overrides it). */
  ecrRepository: string | undefined;
}

const SEMVER = String.raw`\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?`;
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `${version}-${GITHUB_SHA::12}` (the shell of the version step) → a pattern; undefined when a part is unknown. */
function shellTemplate(template: string): string | undefined {
  let pattern = '';
  for (const part of template.split(/(\$\{[^}]+\})/).filter(Boolean)) {
    if (!part.startsWith('${')) pattern += escape(part);
    else if (part === '${version}') pattern += SEMVER;
    else if (part === '${GITHUB_SHA}') pattern += '[0-9a-f]{40}';
    else if (/^\$\{GITHUB_SHA::(\d+)\}$/.test(part)) pattern += `[0-9a-f]{${/::(\d+)/.exec(part)![1]}}`;
    else return undefined;
  }
  return pattern;
}

function imageJobSteps(doc: Obj): Obj[] {
  const jobs = isObj(doc.jobs) ? doc.jobs : {};
  return Object.values(jobs).flatMap((job) => (isObj(job) && Array.isArray(job.steps) ? job.steps.filter(isObj) : []));
}

/** What release.yml pushes, derived from release.yml. */
export function releaseScheme(releaseYml: string): ReleaseScheme {
  const doc = parse(releaseYml) as Obj;
  const steps = imageJobSteps(doc);
  const versionRun = text(steps.find((step) => step.id === 'version')?.run);
  const versionTag = /echo "tag=([^"]+)" >> "\$GITHUB_OUTPUT"/.exec(versionRun)?.[1];
  const meta = steps.find((step) => typeof step.uses === 'string' && step.uses.startsWith('docker/metadata-action@'));
  const lines = text(isObj(meta?.with) ? meta.with.tags : undefined)
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const tags: ReleaseTag[] = [];
  const unknown: string[] = [];
  for (const line of lines) {
    const fields = Object.fromEntries(line.split(',').map((field) => field.split('=', 2).map((s) => s.trim()) as [string, string]));
    let pattern: string | undefined;
    if (fields.type === 'raw' && fields.value === '${{ steps.version.outputs.tag }}' && versionTag) pattern = shellTemplate(versionTag);
    else if (fields.type === 'sha') pattern = `${escape(fields.prefix ?? 'sha-')}[0-9a-f]{${fields.format === 'long' ? 40 : 7}}`;
    // anything else (a literal raw value, type=ref/semver/edge/schedule) names no commit: it moves
    if (pattern && /\[0-9a-f\]\{\d+\}/.test(pattern)) tags.push({ source: line, pattern: new RegExp(`^${pattern}$`) });
    else unknown.push(line);
  }
  const ghcrImage = text(isObj(doc.env) ? doc.env.GHCR_IMAGE : undefined);
  const ghcr = new RegExp(`^${escape(ghcrImage).replace(escape('${{ github.repository_owner }}'), '[a-z0-9](?:[a-z0-9-]*[a-z0-9])?')}$`);
  const names = steps.find((step) => step.id === 'names');
  const ecrExpression = text(isObj(names?.env) ? names.env.ECR_REPOSITORY : undefined);
  const ecrRepository = /\|\|\s*'([^']+)'\s*\}\}$/.exec(ecrExpression)?.[1];
  return { tags, unknown, ghcr, ecrRepository };
}

export interface MakefileChain {
  /** What `make kind-load` builds (docker buildx build -t …) and loads (kind load docker-image …); undefined when it refuses. */
  built?: string;
  loaded?: string;
  output: string;
}

/** `make -n kind-load` with stand-in docker and kind: what the Makefile really builds and loads. */
export function makefileChain(root = ROOT): MakefileChain {
  const bin = mkdtempSync(join(tmpdir(), 'image-chain-'));
  try {
    writeFileSync(join(bin, 'docker'), '#!/bin/sh\ncase "$1" in info|buildx|compose) exit 0 ;; esac\nexit 1\n');
    writeFileSync(join(bin, 'kind'), '#!/bin/sh\necho "kind v0.27.0 go1.23.4 linux/amd64"\n');
    for (const tool of ['docker', 'kind']) chmodSync(join(bin, tool), 0o755);
    const env: NodeJS.ProcessEnv = { PATH: `${bin}:${process.env.PATH ?? ''}`, HOME: bin };
    const result = spawnSync('make', ['-n', '--no-print-directory', '-o', 'node_modules/.install-stamp', 'kind-load'], {
      cwd: root,
      env,
      encoding: 'utf8',
    });
    const output = `${result.stdout}${result.stderr}`;
    return {
      built: /docker buildx build --load -t (\S+)/.exec(output)?.[1],
      loaded: /kind load docker-image (\S+)/.exec(output)?.[1],
      output,
    };
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
}

export interface DistContainer {
  file: string;
  image: string;
  imagePullPolicy?: string;
}

/** The service's containers in dist/<env> (any registry, tag or digest of `…/goticket`). */
export function distContainers(root: string, env: string): DistContainer[] {
  const dir = join(root, 'dist', env);
  const found: DistContainer[] = [];
  const walk = (file: string, node: unknown): void => {
    if (Array.isArray(node)) return node.forEach((child) => walk(file, child));
    if (!isObj(node)) return;
    if (typeof node.image === 'string' && parseImage(node.image)?.repository.split('/').at(-1) === APP) {
      found.push({ file, image: node.image, imagePullPolicy: typeof node.imagePullPolicy === 'string' ? node.imagePullPolicy : undefined });
    }
    Object.values(node).forEach((child) => walk(file, child));
  };
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) walk(file, doc.toJS());
  }
  return found;
}

export interface ChainInput {
  environments: readonly Environment[];
  repositories: readonly string[];
  release: ReleaseScheme;
  makefile: MakefileChain;
  dist: Record<string, DistContainer[]>;
}

/** One line per broken link of the chain; empty when release.yml, environments.ts, dist/ and the Makefile agree. */
export function imageChainProblems({ environments, repositories, release, makefile, dist }: ChainInput): string[] {
  const problems: string[] = [];
  for (const line of release.unknown)
    problems.push(`release.yml pushes a tag that names no commit (it would move, and an IMMUTABLE ECR repository refuses it): ${line}`);
  if (release.tags.length === 0) problems.push('release.yml: no tag derivable from its docker/metadata-action step');
  if (release.ecrRepository !== APP)
    problems.push(`release.yml pushes to the ECR repository "${release.ecrRepository ?? '?'}" by default; the prod stack creates "${APP}"`);
  for (const repository of repositories) {
    const ecr = /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?\/(.+)$/.exec(repository)?.[1];
    if (ecr === undefined ? !release.ghcr.test(repository) : ecr !== release.ecrRepository)
      problems.push(`IMAGE_REPOSITORIES: release.yml never pushes to ${repository}`);
  }
  for (const env of environments) {
    const where = `environments.ts ${env.name}`;
    const image = parseImage(env.image);
    if (!image) {
      problems.push(`${where}: ${env.image} is not an image reference`);
      continue;
    }
    if (!repositories.includes(image.repository)) problems.push(`${where}: ${image.repository} is not in IMAGE_REPOSITORIES`);
    if (isLocalBuild(env.image)) {
      if (env.backends.kind !== 'in-cluster') problems.push(`${where}: runs the local build, which only Kind has`);
      else if (makefile.built !== env.image || makefile.loaded !== env.image) {
        problems.push(
          `${where}: runs ${env.image} but make kind-load builds ${makefile.built ?? 'nothing'} and loads ${makefile.loaded ?? 'nothing'}`,
        );
      }
    } else if (image.tag && !release.tags.some((tag) => tag.pattern.test(image.tag!))) {
      problems.push(
        `${where}: tag ${image.tag} is not one release.yml pushes (${release.tags.map((tag) => tag.pattern.source).join(' or ')})`,
      );
    }
    const containers = dist[env.name] ?? [];
    if (containers.length === 0) problems.push(`dist/${env.name}: no goticket container`);
    for (const container of containers) {
      if (container.image !== env.image)
        problems.push(`dist/${env.name}/${container.file}: runs ${container.image}, environments.ts pins ${env.image} (make synth)`);
      else if (container.imagePullPolicy !== imagePullPolicyOf(env.image))
        problems.push(
          `dist/${env.name}/${container.file}: imagePullPolicy ${container.imagePullPolicy ?? 'unset'}, ${env.image} needs ${imagePullPolicyOf(env.image)}`,
        );
    }
  }
  return problems;
}

/** The chain of the repository at `root` (this module's own environments.ts: run the copy's script for a copy). */
export function checkRepository(root = ROOT): string[] {
  return imageChainProblems({
    environments: ENVIRONMENTS,
    repositories: IMAGE_REPOSITORIES,
    release: releaseScheme(readFileSync(join(root, '.github', 'workflows', 'release.yml'), 'utf8')),
    makefile: makefileChain(root),
    dist: Object.fromEntries(ENVIRONMENTS.map((env) => [env.name, distContainers(root, env.name)])),
  });
}

if (require.main === module) {
  const problems = checkRepository();
  if (problems.length > 0) {
    for (const problem of problems) console.error(`image chain: ${problem}`);
    process.exitCode = 1;
  } else {
    console.log(
      `image chain: ${ENVIRONMENTS.map((env) => `${env.name} ${env.image}`).join(', ')}: pushed by release.yml or loaded by make kind-load`,
    );
  }
}
