/** Post-processing of the cdk8s CLI's Helm output (`--format helm`). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
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
  const templates = path.join(dir, 'templates');
  for (const file of fs.readdirSync(templates)) {
    const full = path.join(templates, file);
    fs.writeFileSync(full, escapeForHelm(fs.readFileSync(full, 'utf8')));
  }
}
