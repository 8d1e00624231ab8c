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
 * Helm hooks for the migrate Job and its ServiceAccount (one weight earlier), so the schema moves
 * before the new pods serve, on a first install as on an upgrade:
 * - managed database (prod): `pre-install,pre-upgrade`. The Job needs nothing of the chart: its
 *   settings are inline, its credentials in the Pulumi-created runtime Secret, its ServiceAccount a
 *   hook of its own; Helm creates the Deployments only once it succeeded.
 * - in-cluster database (dev): the PostgreSQL StatefulSet is part of the same chart, so the Job can
 *   only run `post-install` on a first install (`pre-upgrade` after). The pods it races do not
 *   serve meanwhile: their readiness stays down until every migration is applied (the service's
 *   `schema` check), so the Service sends them nothing.
 * Argo CD ignores `helm.sh/hook` when its own hook annotations are present (the GitOps path).
 */
export function migrateHelmHooks(env: Pick<Environment, 'backends'>, weight: -1 | -2 = -1): Record<string, string> {
  return {
    'helm.sh/hook': env.backends.kind === 'vpc' ? 'pre-install,pre-upgrade' : 'post-install,pre-upgrade',
    'helm.sh/hook-delete-policy': 'before-hook-creation',
    'helm.sh/hook-weight': String(weight),
  };
}

/** The chart's README: cdk8s writes a generic one. */
export function helmReadme(env: Environment): string {
  return `# goticket-${env.name}

GoTicket's ${env.name} manifests as a Helm chart, synthesized by cdk8s from \`charts/\` (do not edit: run \`make synth\`).
It holds the same objects as \`dist/${env.name}/\` except the Namespace.

The namespace \`goticket\` (Pod Security \`restricted\` labels) and the \`goticket-runtime\` Secret the pods
read are created by the Pulumi stack (\`make up STACK=${env.name}\`, Runtime component), so install into it:

    helm upgrade --install goticket dist/helm/${env.name} --namespace goticket

The migrate Job (and its ServiceAccount) is a Helm hook (\`${migrateHelmHooks(env)['helm.sh/hook']}\`): ${
    env.backends.kind === 'vpc'
      ? 'the schema moves before any new pod starts, on the first install as on every upgrade.'
      : 'the in-cluster database is part of this chart, so on a first install the Job runs once it exists; the api and worker stay not-ready (their `schema` readiness check) until it has migrated, and on an upgrade the schema moves before the pods roll.'
  }
`;
}

/** True for the file of a Namespace object (the chart leaves namespaces to the Pulumi stack). */
function isNamespace(text: string): boolean {
  return (parse(text) as { kind?: unknown } | null)?.kind === 'Namespace';
}

/** The migrate Job and its ServiceAccount (the objects that run as hooks), or undefined. */
function migrateHookKind(text: string): 'Job' | 'ServiceAccount' | undefined {
  const object = parse(text) as { kind?: unknown; metadata?: { labels?: Record<string, string> } } | null;
  if (object?.metadata?.labels?.['app.kubernetes.io/component'] !== 'migrate') return undefined;
  return object.kind === 'Job' || object.kind === 'ServiceAccount' ? object.kind : undefined;
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
    const hook = migrateHookKind(text);
    if (hook) {
      const object = parse(text) as { metadata: { annotations?: Record<string, string> } };
      object.metadata.annotations = { ...object.metadata.annotations, ...migrateHelmHooks(env, hook === 'Job' ? -1 : -2) };
      text = stringify(object);
    }
    fs.writeFileSync(full, escapeForHelm(text));
  }
}
