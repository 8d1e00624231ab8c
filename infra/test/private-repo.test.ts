/** A private gitRepoUrl: the secret stack config gitRepoCredential becomes Argo CD's repository Secret. */
import * as pulumi from '@pulumi/pulumi';
import { ARGOCD } from '../../platform/contract';
import { REPOSITORY_SECRET } from '../components/gitops';
import { field, isSecretValue, k8sObject, plain, runProgram, stackConfig, waitsFor, type ProgramRun } from './harness';

const URL = 'git@github.com:acme/goticket.git';
const KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----\n';
let run: ProgramRun;

beforeAll(async () => {
  run = await runProgram('dev', stackConfig('dev', { 'goticket:gitRepoUrl': URL, 'goticket:gitRepoCredential': KEY }));
});

it('creates a repository Secret in Argo CD’s namespace for the configured URL, its key kept secret', () => {
  const secret = k8sObject(run, 'core/v1:Secret', REPOSITORY_SECRET);
  expect(field(secret, 'metadata')).toEqual({
    name: REPOSITORY_SECRET,
    namespace: ARGOCD.namespace,
    labels: { 'argocd.argoproj.io/secret-type': 'repository' },
  });
  expect(isSecretValue(secret.inputs.stringData)).toBe(true);
  expect(plain(secret.inputs.stringData)).toEqual({ type: 'git', url: URL, sshPrivateKey: KEY });
});

it('syncs that repository, and only once Argo CD holds its credential', () => {
  const app = k8sObject(run, 'argoproj.io/v1alpha1:Application', ARGOCD.application);
  expect(field(app, 'spec.source.repoURL')).toBe(URL);
  expect(field(k8sObject(run, 'argoproj.io/v1alpha1:AppProject', ARGOCD.project), 'spec.sourceRepos')).toEqual([URL]);
  expect(waitsFor(run, 'gitops-application', 'gitops-repository')).toBe(true);
  // Argo CD runs first: the Secret lands in its namespace.
  expect(waitsFor(run, 'gitops-repository', 'platform-argo-cd')).toBe(true);
});

it('never puts the key into a stack output', async () => {
  for (const [name, value] of Object.entries(run.exports)) {
    const isSecret = pulumi.Output.isInstance(value) ? await pulumi.isSecret(value) : false;
    if (!isSecret) expect([name, JSON.stringify(run.outputs[name] ?? '')]).toEqual([name, expect.not.stringContaining('PRIVATE KEY')]);
  }
});
