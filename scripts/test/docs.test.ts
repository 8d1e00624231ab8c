/**
 * README.md and docs/onboarding.md stay true to the repository: every `make` target, `npm run`
 * script, repository path and relative link they name exists, the README's target table covers
 * the Makefile, and both keep the parts the delivery issue asks of them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { dev, ENVIRONMENTS } from '../../charts/environments';
import { referenceProblem } from '../promote';
import { STEPS } from '../rehearse';
import { ROOT } from './github-files';

const DOCS = ['README.md', 'docs/onboarding.md'];
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

const MAKE_TARGETS = new Set([...read('Makefile').matchAll(/^([a-z][\w-]*):(?!=)/gm)].map((match) => match[1]!));
const NPM_SCRIPTS = new Set(Object.keys((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts));

/** The text of fenced blocks and inline code spans: where commands and paths live (diagram labels do not count). */
function codeOf(markdown: string): string[] {
  const blocks = [...markdown.matchAll(/^```([^\n]*)\n([\s\S]*?)^```/gm)]
    .filter((match) => match[1] !== 'mermaid')
    .map((match) => match[2]!);
  const prose = markdown.replace(/^```[^\n]*\n[\s\S]*?^```/gm, '');
  return [...blocks, ...[...prose.matchAll(/`([^`\n]+)`/g)].map((match) => match[1]!)];
}

const TOP = '(?:\\.github|\\.ci|app|platform|charts|infra|policies|dist|bench|docs|scripts)';
/** A repository path, braces allowed for alternatives: app/src/adapters/{postgres,redis}. */
const PATH = new RegExp(`(?<![\\w./~:-])${TOP}/(?:[\\w.<>*-]|/|\\{[^}\\s]*\\})*`, 'g');
const ROOT_FILE =
  /(?<![\w./-])(?:Dockerfile|Makefile|docker-compose\.yml|\.dockerignore|package(?:-lock)?\.json|tsconfig(?:\.\w+)?\.json|Pulumi(?:\.[\w<>*]+)?\.yaml)(?![\w-])/g;

function expandBraces(path: string): string[] {
  const match = path.match(/\{([^}]*)\}/);
  if (!match) return [path];
  return match[1]!
    .split(',')
    .filter((choice) => choice !== '...')
    .flatMap((choice) => expandBraces(path.replace(match[0], choice)));
}

/** What must exist for a mentioned path: itself, or for a placeholder/glob the folder it lives in. */
function mustExist(path: string): string {
  const clean = path.replace(/[.:]+$/, '');
  const wild = clean.search(/[<*]/);
  return wild < 0 ? clean : clean.slice(0, clean.lastIndexOf('/', wild) + 1) || '.';
}

describe.each(DOCS)('%s', (file) => {
  const markdown = read(file);
  const code = codeOf(markdown);

  it('names only make targets the Makefile defines', () => {
    const named = code.flatMap((text) => [...text.matchAll(/(?:^|[\s;&|(])make ([a-z][\w-]*)/gm)].map((match) => match[1]!));
    expect(named.length).toBeGreaterThan(3);
    expect(named.filter((target) => !MAKE_TARGETS.has(target))).toEqual([]);
  });

  it('names only npm scripts package.json defines', () => {
    const named = code.flatMap((text) => [...text.matchAll(/\bnpm run (?:--silent )?([\w:-]+)/g)].map((match) => match[1]!));
    expect(named.filter((script) => !NPM_SCRIPTS.has(script))).toEqual([]);
  });

  it('names only repository paths that exist (placeholders and globs: their folder)', () => {
    const paths = code.flatMap((text) => [...text.matchAll(PATH), ...text.matchAll(ROOT_FILE)].map((match) => match[0]));
    expect(paths.length).toBeGreaterThan(5);
    const missing = [...new Set(paths.flatMap(expandBraces).map(mustExist))].filter((path) => !existsSync(join(ROOT, path)));
    expect(missing).toEqual([]);
  });

  it('links only to files that exist', () => {
    const links = [...markdown.matchAll(/\]\(([^)\s]+)\)/g)]
      .map((match) => match[1]!)
      .filter((target) => !/^(https?:|mailto:|#)/.test(target));
    const missing = links
      .map((target) => join(dirname(file), target.replace(/#.*$/, '')))
      .filter((target) => !existsSync(join(ROOT, target)));
    expect(missing).toEqual([]);
  });
});

describe('README.md', () => {
  const readme = read('README.md');

  it('has what the delivery issue asks: what it is, a mermaid architecture diagram, quick start, make targets, environments, links', () => {
    expect(readme).toMatch(/^```mermaid\n/m);
    for (const heading of ['Quick start', 'Architecture', 'Make targets', 'Environments'])
      expect(readme).toMatch(new RegExp(`^## ${heading}`, 'm'));
    expect(readme).toContain('](docs/onboarding.md)');
  });

  it('documents every Makefile target in its table', () => {
    const section = readme.slice(readme.indexOf('## Make targets'), readme.indexOf('\n## ', readme.indexOf('## Make targets') + 1));
    const documented = new Set(
      section
        .split('\n')
        .filter((line) => line.startsWith('| `'))
        .flatMap((line) => [...line.split('|')[1]!.matchAll(/`([a-z][\w-]*)/g)].map((match) => match[1]!)),
    );
    expect([...MAKE_TARGETS].filter((target) => target !== 'help' && !documented.has(target))).toEqual([]);
  });
});

describe('docs/onboarding.md', () => {
  it.each([
    /Prerequisites/,
    /Run it and test it/,
    /Repository tour/,
    /dev on Kind/,
    /prod on AWS/,
    /merge to rollout \(GitOps\)/,
    /Seal a secret/,
    /dashboard or an alert/,
    /Runbooks/,
  ])('has a section matching %s', (heading) => {
    const headings = read('docs/onboarding.md')
      .split('\n')
      .filter((line) => line.startsWith('## '));
    expect(headings.some((line) => heading.test(line))).toBe(true);
  });
});

describe('the deploy chain, followed word for word', () => {
  const readme = read('README.md');
  const onboarding = read('docs/onboarding.md');
  const section = (markdown: string, heading: string) => {
    const start = markdown.indexOf(heading);
    expect(start).toBeGreaterThanOrEqual(0);
    const next = markdown.indexOf('\n## ', start + heading.length);
    return markdown.slice(start, next < 0 ? undefined : next);
  };
  const deployment = section(readme, '## Environments and deployment');

  /** The make commands of a text in the order it names them. */
  const makes = (text: string) => [...text.matchAll(/(?:^|[\s`(])make ([a-z][\w-]*(?: STACK=\w+)?)/gm)].map((match) => match[1]!);
  const before = (list: string[], first: string, second: string) => {
    expect(list).toContain(first);
    expect(list).toContain(second);
    expect(list.indexOf(first)).toBeLessThan(list.lastIndexOf(second));
  };

  it('dev: the cluster, then the image dist/dev runs loaded into it, then pulumi up (README and onboarding)', () => {
    for (const text of [deployment, section(onboarding, '## 4. Deploy dev on Kind')]) {
      before(makes(text), 'kind-up', 'kind-load');
      before(makes(text), 'kind-load', 'up STACK=dev');
    }
    expect(section(onboarding, '## 4. Deploy dev on Kind')).toContain(
      `make kind-load               # builds the image dist/dev runs (${dev.image})`,
    );
    expect(dev.image).toMatch(/:local$/);
  });

  it('prod: the first image (release workflow, public package) before the first pulumi up, from a workstation', () => {
    for (const text of [section(deployment, '### First deploy, in order'), section(onboarding, '## 5. Deploy prod on AWS')]) {
      expect(text).toMatch(/First image/);
      const release = text.indexOf('`release` workflow');
      expect(release).toBeGreaterThanOrEqual(0);
      expect(release).toBeLessThan(text.indexOf('make up STACK=prod'));
      expect(text).toMatch(/Change visibility/);
      expect(text).toMatch(/workstation/);
      expect(text).toContain('IMAGE_REPOSITORIES');
    }
  });

  it('every promote command they show is the one release.yml runs, and each concrete reference is one promote accepts', () => {
    const releaseYml = read('.github/workflows/release.yml');
    expect(releaseYml).toContain('npm run promote -- --env "$ENVIRONMENT" --image "$IMAGE"');
    const commands = [readme, onboarding].flatMap((text) => [
      ...text.replace(/\n\s*/g, ' ').matchAll(/npm run promote -- --env (\S+) --image ([^\s`]+)/g),
    ]);
    expect(commands.length).toBeGreaterThanOrEqual(4);
    for (const [, env, reference] of commands) {
      expect(ENVIRONMENTS.map((e) => e.name)).toContain(env);
      if (!reference!.includes('<')) expect(referenceProblem(env!, reference!, releaseYml)).toBeUndefined();
    }
  });

  it('says what the rehearsal proves (one bullet per step of scripts/rehearse.ts) and what only the GitHub workflows can', () => {
    const proves = section(deployment, '### What the rehearsal proves, and what only GitHub can');
    const [rehearsal, github] = proves.split('What only the GitHub workflows can prove');
    expect(rehearsal!.split('\n').filter((line) => line.startsWith('- '))).toHaveLength(STEPS.length);
    for (const workflow of ['e2e-kind', 'release', 'pulumi.yml']) expect(github).toContain(`**\`${workflow}\`:**`);
    expect(read('Makefile')).toMatch(/^\t\$\(MAKE\) --no-print-directory lint typecheck drift policy contracts rehearse$/m);
  });
});
