/** The secret stack config sentryDsn becomes SENTRY_DSN in the runtime Secret the pods load (error tracking on). */
import { RUNTIME_KEYS, RUNTIME_SECRET } from '../../platform/contract';
import { isSecretValue, k8sObject, plain, runProgram, stackConfig, type ProgramRun } from './harness';

const DSN = 'https://0123456789abcdef@o1.ingest.sentry.example/42';
let run: ProgramRun;

beforeAll(async () => {
  run = await runProgram('dev', stackConfig('dev', { 'goticket:sentryDsn': DSN }));
});

it('is written into the runtime Secret, kept secret, beside the contract keys', () => {
  const secret = k8sObject(run, 'core/v1:Secret', RUNTIME_SECRET);
  expect(isSecretValue(secret.inputs.stringData)).toBe(true);
  const data = plain(secret.inputs.stringData) as Record<string, string>;
  expect(data.SENTRY_DSN).toBe(DSN);
  expect(Object.keys(data)).toEqual(expect.arrayContaining([...RUNTIME_KEYS]));
});
