/** Loads the repository's GitHub Actions workflows and local composite actions for the tests. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

export const ROOT = resolve(__dirname, '..', '..');

export type Obj = Record<string, unknown>;

export interface Step extends Obj {
  name?: string;
  uses?: string;
  run?: string;
  with?: Obj;
  env?: Obj;
  if?: string;
}

export interface Job extends Obj {
  permissions?: Obj | string;
  steps?: Step[];
  services?: Obj;
  environment?: string | Obj;
  concurrency?: Obj;
  if?: string;
}

export interface GithubFile {
  /** path relative to the repository root */
  file: string;
  text: string;
  doc: Obj;
  /** every step with the job it belongs to ('(action)' for a composite action) */
  steps: { job: string; step: Step }[];
}

function load(file: string): GithubFile {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const doc = parse(text) as Obj;
  const steps: GithubFile['steps'] = [];
  const jobs = (doc.jobs ?? {}) as Record<string, Job>;
  for (const [job, spec] of Object.entries(jobs)) for (const step of spec.steps ?? []) steps.push({ job, step });
  const composite = (doc.runs as Obj | undefined)?.steps;
  if (Array.isArray(composite)) for (const step of composite as Step[]) steps.push({ job: '(action)', step });
  return { file, text, doc, steps };
}

export function workflows(): GithubFile[] {
  const dir = join(ROOT, '.github', 'workflows');
  return readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => load(join('.github', 'workflows', name)));
}

export function workflow(name: string): GithubFile {
  return load(join('.github', 'workflows', name));
}

export function localActions(): GithubFile[] {
  const dir = join(ROOT, '.github', 'actions');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => join('.github', 'actions', name, 'action.yml'))
    .filter((file) => existsSync(join(ROOT, file)))
    .map(load);
}

export function jobsOf(file: GithubFile): Record<string, Job> {
  return (file.doc.jobs ?? {}) as Record<string, Job>;
}

/** A step's shell script as bash would see it, with `${{ … }}` expressions replaced by a plain word. */
export function runScript(step: Step): string | null {
  if (typeof step.run !== 'string') return null;
  return step.run.replace(/\$\{\{[^}]*\}\}/g, 'GHA_EXPRESSION');
}
