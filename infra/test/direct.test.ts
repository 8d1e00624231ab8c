/** dev with `deployMode: direct`: Pulumi applies dist/dev itself instead of Argo CD syncing it. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { directManifestFiles } from '../components/gitops';
import { REPO_ROOT, distObjects, field, k8sObject, ofType, one, runProgram, stackConfig, waitsFor, type ProgramRun } from './harness';

let run: ProgramRun;

beforeAll(async () => {
  run = await runProgram('dev', stackConfig('dev', { 'goticket:deployMode': 'direct', 'goticket:gitRepoUrl': undefined }));
});

it('applies every file of dist/dev but the Namespace, which the Runtime component already created', () => {
  const group = one(run, 'kubernetes:yaml/v2:ConfigGroup');
  const dir = path.join(REPO_ROOT, 'dist', 'dev');
  const all = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  // Creating an object that exists fails (AlreadyExists) since @pulumi/kubernetes 4.29.
  // The mock hands this longer list back as an index-keyed object; its values are the list, in order.
  expect(Object.values(group.inputs.files as object)).toEqual(all.filter((f) => !f.startsWith('Namespace.')).map((f) => path.join(dir, f)));
  expect(all.filter((f) => f.startsWith('Namespace.'))).toEqual(['Namespace.goticket.k8s.yaml']);
  // Nothing is lost: the namespace Pulumi creates carries every label the synthesized one has.
  const synthesized = distObjects('dev').find((o) => o.kind === 'Namespace')!.metadata as { labels: Record<string, string> };
  expect(field(k8sObject(run, 'core/v1:Namespace', 'goticket'), 'metadata.labels')).toEqual(synthesized.labels);
});

it('finds no manifests (and applies nothing) before the first synth', () => {
  expect(directManifestFiles(path.join(REPO_ROOT, 'dist', 'no-such-env'))).toEqual([]);
});

it('creates no Argo CD Application or AppProject', () => {
  expect(ofType(run, 'kubernetes:argoproj.io/v1alpha1:Application')).toEqual([]);
  expect(ofType(run, 'kubernetes:argoproj.io/v1alpha1:AppProject')).toEqual([]);
});

it('applies the manifests after the CRDs they use and after the runtime namespace and Secret', () => {
  const name = one(run, 'kubernetes:yaml/v2:ConfigGroup').name;
  for (const dep of [
    'platform-sealed-secrets',
    'platform-kube-prometheus-stack',
    'platform-cert-manager',
    'platform-issuer-selfsigned',
    'runtime',
  ]) {
    expect([dep, waitsFor(run, name, dep)]).toEqual([dep, true]);
  }
});

it('reports the local source in the outputs', () => {
  expect(run.outputs.gitopsSource).toBe(`${REPO_ROOT}/dist/dev (direct)`);
});
