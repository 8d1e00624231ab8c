/** dev with `deployMode: direct`: Pulumi applies dist/dev itself instead of Argo CD syncing it. */
import * as path from 'node:path';
import { REPO_ROOT, ofType, one, runProgram, stackConfig, waitsFor, type ProgramRun } from './harness';

let run: ProgramRun;

beforeAll(async () => {
  run = await runProgram('dev', stackConfig('dev', { 'goticket:deployMode': 'direct', 'goticket:gitRepoUrl': undefined }));
});

it('applies every YAML file of dist/dev, resolved from the repository root, with a ConfigGroup', () => {
  const group = one(run, 'kubernetes:yaml/v2:ConfigGroup');
  expect(group.inputs.files).toEqual([path.join(REPO_ROOT, 'dist', 'dev', '*.yaml')]);
});

it('creates no Argo CD Application or AppProject', () => {
  expect(ofType(run, 'kubernetes:argoproj.io/v1alpha1:Application')).toEqual([]);
  expect(ofType(run, 'kubernetes:argoproj.io/v1alpha1:AppProject')).toEqual([]);
});

it('applies the manifests after the CRDs they use and after the runtime namespace and Secret', () => {
  const name = one(run, 'kubernetes:yaml/v2:ConfigGroup').name;
  for (const dep of ['platform-sealed-secrets', 'platform-kube-prometheus-stack', 'platform-cert-manager', 'platform-issuer-selfsigned', 'runtime']) {
    expect([dep, waitsFor(run, name, dep)]).toEqual([dep, true]);
  }
});

it('reports the local source in the outputs', () => {
  expect(run.outputs.gitopsSource).toBe(`${REPO_ROOT}/dist/dev (direct)`);
});
