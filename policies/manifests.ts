/**
 * The manifest checker behind `npm run policy:manifests -- [--env dev|prod] <dir|file>...`:
 * applies the pack's Kubernetes rules to every YAML document under the given paths.
 *
 * - Walks folders recursively (skipping dot-folders and node_modules) for *.yaml / *.yml;
 *   multi-document files and `kind: List` are expanded.
 * - Helm charts (a folder with Chart.yaml): Chart.yaml and values*.yaml are not objects and are
 *   skipped; a file under templates/ that contains `{{` is skipped with a note (only plain YAML is
 *   checked; in dist/helm/ those are the dashboards and the PrometheusRule, whose literal `{{` are
 *   escaped for Helm, and dist/<env>/ holds the same objects as plain YAML).
 * - Environment (for prod-only rules): `--env`, else the nearest path segment named `dev` or
 *   `prod` (dist/prod/… → prod, dist/helm/prod/… → prod), else prod with a note.
 * - Cross-object rules run per set of objects deployed together: one Helm chart, or one
 *   environment under one argument (dist/dev and dist/prod are separate sets).
 *
 * Output: one line per violation `path: Kind/namespace/name: rule: message` (advisory ones end
 * in "(advisory)"), notes and a summary on stderr. Exit 0 = no mandatory violation, 1 = at least
 * one, 2 = usage error, unreadable path, invalid YAML or nothing to check.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { checkManifests, settingsWith } from './engine';
import { isManifest, type Manifest } from './lib/manifest';
import { ENVIRONMENTS, type Env, type PolicySettings } from './lib/types';
import { isRecord, list } from './lib/values';

export const USAGE = 'usage: npm run policy:manifests -- [--env dev|prod] <dir|file.yaml>...';

export interface CheckResult {
  /** Violation lines (stdout). */
  out: string[];
  /** Errors, notes and the summary (stderr). */
  err: string[];
  exitCode: 0 | 1 | 2;
  mandatory: number;
  advisory: number;
}

interface Loaded {
  manifest: Manifest;
  file: string;
}

interface Walk {
  files: { file: string; root: string }[];
  errors: string[];
}

const YAML_FILE = /\.ya?ml$/i;
const firstLine = (s: string): string => s.split('\n')[0] ?? s;
const reason = (e: unknown): string => firstLine((e as Error).message ?? String(e)).replace(/, (stat|scandir|open) .*$/, '');

function walk(arg: string, w: Walk): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(arg);
  } catch (e) {
    w.errors.push(`${arg}: cannot read: ${reason(e)}`);
    return;
  }
  if (stat.isFile()) {
    w.files.push({ file: arg, root: path.dirname(arg) });
    return;
  }
  const visit = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      w.errors.push(`${dir}: cannot read: ${reason(e)}`);
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules') visit(p);
      else if (e.isFile() && YAML_FILE.test(e.name)) w.files.push({ file: p, root: arg });
    }
  };
  visit(arg);
}

/** The folder of the Helm chart a file belongs to (nearest ancestor with a Chart.yaml), if any. */
function chartRootOf(file: string, stopAt: string): string | undefined {
  let dir = path.dirname(path.resolve(file));
  const stop = path.resolve(stopAt, '..');
  while (dir !== stop && dir !== path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'Chart.yaml'))) return dir;
    dir = path.dirname(dir);
  }
  return undefined;
}

/** The nearest path segment naming an environment, from the file upwards. */
export function envFromPath(file: string): Env | undefined {
  const segments = path.resolve(file).split(path.sep).slice(0, -1).reverse();
  return segments.find((s): s is Env => (ENVIRONMENTS as readonly string[]).includes(s));
}

function parseFile(file: string, errors: string[]): Manifest[] | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    errors.push(`${file}: cannot read: ${reason(e)}`);
    return undefined;
  }
  const docs = parseAllDocuments(text);
  const out: Manifest[] = [];
  const documents = Array.isArray(docs) ? docs : [docs];
  for (const [i, doc] of documents.entries()) {
    const bad = doc.errors[0];
    if (bad) {
      errors.push(`${file}: invalid YAML: ${firstLine(bad.message).replace(/:$/, '')}`);
      return undefined;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    const items = isRecord(value) && value.kind === 'List' ? list(value.items) : [value];
    for (const item of items) {
      if (!isManifest(item) || !isRecord(item.metadata)) {
        errors.push(`${file}: document ${i + 1} is not a Kubernetes object (apiVersion, kind and metadata required)`);
        return undefined;
      }
      out.push(item);
    }
  }
  return out;
}

export function runManifestCheck(argv: readonly string[], overrides?: Partial<PolicySettings>): CheckResult {
  const result: CheckResult = { out: [], err: [], exitCode: 0, mandatory: 0, advisory: 0 };
  const usage = (message: string): CheckResult => ({ ...result, err: [message, USAGE], exitCode: 2 });
  let envFlag: Env | undefined;
  const paths: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--help' || a === '-h') return { ...result, err: [USAGE] };
    if (a === '--env' || a.startsWith('--env=')) {
      const v = a === '--env' ? argv[++i] : a.slice('--env='.length);
      if (!(ENVIRONMENTS as readonly string[]).includes(v ?? ''))
        return usage(`--env must be one of ${ENVIRONMENTS.join(', ')}, got ${v ?? 'nothing'}`);
      envFlag = v as Env;
    } else if (a.startsWith('-')) return usage(`unknown option ${a}`);
    else paths.push(a);
  }
  if (paths.length === 0) return usage('no folder or file given');

  const w: Walk = { files: [], errors: [] };
  for (const p of paths) walk(p, w);

  const sets = new Map<string, { env: Env; items: Loaded[] }>();
  const defaulted = new Set<string>();
  let objects = 0;
  let checkedFiles = 0;
  const skippedTemplates: string[] = [];
  for (const { file, root } of w.files) {
    const chart = chartRootOf(file, root);
    if (chart) {
      const rel = path.relative(chart, path.resolve(file));
      if (rel === 'Chart.yaml' || /^values[^/]*\.ya?ml$/i.test(rel)) continue;
      if (rel.split(path.sep).includes('templates') && fs.readFileSync(file, 'utf8').includes('{{')) {
        skippedTemplates.push(file);
        continue;
      }
    }
    const manifests = parseFile(file, w.errors);
    if (!manifests) continue;
    let env = envFlag ?? envFromPath(file);
    if (!env) {
      env = 'prod';
      defaulted.add(root);
    }
    const key = `${chart ?? path.resolve(root)}#${env}`;
    const set = sets.get(key) ?? { env, items: [] };
    set.items.push(...manifests.map((manifest) => ({ manifest, file })));
    sets.set(key, set);
    objects += manifests.length;
    checkedFiles++;
  }
  // One line for all of them: the same objects are checked as plain YAML in dist/<env>/.
  if (skippedTemplates.length > 0)
    result.err.push(
      `skipped ${skippedTemplates.length} Helm template file(s) (Helm template syntax {{ }}; only plain YAML is checked): ${skippedTemplates.join(', ')}`,
    );
  for (const root of defaulted) result.err.push(`${root}: no dev/prod folder in the path and no --env: checking as prod`);

  const settings = settingsWith(overrides);
  const lines: { file: string; line: string }[] = [];
  for (const set of sets.values()) {
    const fileOf = new Map(set.items.map((x) => [x.manifest, x.file]));
    const violations = checkManifests(
      set.items.map((x) => x.manifest),
      { env: set.env, settings },
      { gitOps: true },
    );
    for (const v of violations) {
      const file = fileOf.get(v.manifest) ?? '?';
      lines.push({ file, line: `${file}: ${v.subject}: ${v.rule}: ${v.message}${v.level === 'advisory' ? ' (advisory)' : ''}` });
      if (v.level === 'mandatory') result.mandatory++;
      else result.advisory++;
    }
  }
  // Grouped by file (stable: within a file, single-object rules first, then cross-object ones).
  result.out = lines.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0)).map((l) => l.line);
  if (w.errors.length === 0 && objects === 0) w.errors.push(`${paths.join(', ')}: no Kubernetes objects found`);
  result.err.push(...w.errors);
  result.err.push(
    `policy:manifests: ${objects} object(s) in ${checkedFiles} file(s): ${result.mandatory} mandatory, ${result.advisory} advisory violation(s)${w.errors.length > 0 ? `, ${w.errors.length} error(s)` : ''}`,
  );
  result.exitCode = w.errors.length > 0 ? 2 : result.mandatory > 0 ? 1 : 0;
  return result;
}
