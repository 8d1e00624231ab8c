/** Post-processing of the cdk8s CLI's Helm output (`--format helm`). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse, stringify } from 'yaml';
import { type Environment } from './environments';

/**
 * Helm renders templates/ with Go templates, so a literal `{{` in a manifest (PromQL
 * `{{ $labels.pod }}` in alert annotations, Grafana legends) must reach the cluster as text:
 * `{{ "{{" }}` renders to `{{`, and a stray `}}` outside an action is already literal.
 */
export function escapeForHelm(text: string): string {
  return text.replace(/\{\{/g, '{{ "{{" }}');
}

/** What Helm prints for an escaped template (enough to prove the round trip in tests). */
export function renderEscaped(text: string): string {
  return text.replace(/\{\{ "\{\{" \}\}/g, '{{');
}

/**
 * Helm hooks for the migrate Job: the schema moves before an upgrade rolls the pods, and runs
 * once everything exists on a first install (its ServiceAccount and ConfigMap are templates of
 * the same chart, so a pre-install hook would start before them). Argo CD ignores `helm.sh/hook`
 * when its own hook annotations are present, so this changes nothing for the GitOps path.
 */
export const MIGRATE_HELM_HOOKS = {
  'helm.sh/hook': 'post-install,pre-upgrade',
  'helm.sh/hook-delete-policy': 'before-hook-creation',
  'helm.sh/hook-weight': '-1',
} as const;

/** The chart's README: cdk8s writes a generic one. */
export function helmReadme(env: Environment): string {
  return `# goticket-${env.name}

GoTicket's ${env.name} manifests as a Helm chart, synthesized by cdk8s from \`charts/\` (do not edit: run \`make synth\`).
It holds the same objects as \`dist/${env.name}/\` except the Namespace.

The namespace \`goticket\` (Pod Security \`restricted\` labels) and the \`goticket-runtime\` Secret the pods
read are created by the Pulumi stack (\`make up STACK=${env.name}\`, Runtime component), so install into it:

    helm upgrade --install goticket dist/helm/${env.name} --namespace goticket

The migrate Job is a Helm hook (\`post-install,pre-upgrade\`): on an upgrade the schema moves before the pods roll.
`;
}

/** True for the file of a Namespace object (the chart leaves namespaces to the Pulumi stack). */
function isNamespace(text: string): boolean {
  return (parse(text) as { kind?: unknown } | null)?.kind === 'Namespace';
}

/** True for the migrate Job (the one object that runs as a hook). */
function isMigrateJob(text: string): boolean {
  const object = parse(text) as { kind?: unknown; metadata?: { labels?: Record<string, string> } } | null;
  return object?.kind === 'Job' && object.metadata?.labels?.['app.kubernetes.io/component'] === 'migrate';
}

/**
 * The CLI names the chart after the working directory (differs per checkout); give it a
 * stable name and the image version, and escape the templates.
 */
export function finishHelmChart(dir: string, env: Environment, version: string): void {
  // repo:tag, repo@sha256:…, or repo:tag@sha256:… (the release workflow's pin): prefer the tag.
  const [ref, digest] = env.image.split('@');
  const tag = /:([^:/]+)$/.exec(ref!)?.[1];
  const appVersion = tag ?? digest!;
  const chart = {
    apiVersion: 'v2',
    name: `goticket-${env.name}`,
    description: `GoTicket manifests for ${env.name}, synthesized by cdk8s from charts/ (do not edit: run make synth).`,
    type: 'application',
    version,
    appVersion,
  };
  fs.writeFileSync(path.join(dir, 'Chart.yaml'), stringify(chart));
  fs.writeFileSync(path.join(dir, 'README.md'), helmReadme(env));
  const templates = path.join(dir, 'templates');
  for (const file of fs.readdirSync(templates)) {
    const full = path.join(templates, file);
    let text = fs.readFileSync(full, 'utf8');
    // Helm cannot adopt the namespace the Pulumi stack created ("invalid ownership metadata").
    if (isNamespace(text)) {
      fs.rmSync(full);
      continue;
    }
    if (isMigrateJob(text)) {
      const job = parse(text) as { metadata: { annotations?: Record<string, string> } };
      job.metadata.annotations = { ...job.metadata.annotations, ...MIGRATE_HELM_HOOKS };
      text = stringify(job);
    }
    fs.writeFileSync(full, escapeForHelm(text));
  }
}
