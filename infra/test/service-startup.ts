/**
 * The contract between the two halves of the platform and the service, checked end to end: the
 * runtime Secret this Pulumi program creates plus the ConfigMap and env of dist/<env> are fed to
 * the service's own loadConfig (app/src/config.ts), exactly as the kubelet would hand them over.
 */
import { loadConfig } from '../../app/src/config';
import { DEPENDENCY_KEYS, RUNTIME_KEYS, RUNTIME_SECRET, type EnvName } from '../../platform/contract';
import { podEnvironments, startupError, unreadVariables, withoutEachRuntimeKey } from '../../platform/test/pod-environment';
import { distObjects, k8sObject, plain, type ProgramRun } from './harness';

export function serviceStartupTests(environment: EnvName, run: () => ProgramRun): void {
  describe(`the service starts with exactly what the ${environment} cluster gives its pods`, () => {
    const runtimeSecret = () => plain(k8sObject(run(), 'core/v1:Secret', RUNTIME_SECRET).inputs.stringData) as Record<string, string>;
    const pods = () => podEnvironments(distObjects(environment), { [RUNTIME_SECRET]: runtimeSecret() });
    const service = () => pods().filter((pod) => pod.service);

    it('the runtime Secret holds the contract’s keys (and in dev the in-cluster dependencies’ passwords), nothing else', () => {
      const expected = environment === 'dev' ? [...RUNTIME_KEYS, ...DEPENDENCY_KEYS] : [...RUNTIME_KEYS];
      expect(Object.keys(runtimeSecret()).sort()).toEqual(expected.sort());
    });

    it('every container finds the ConfigMaps, Secrets and keys it references', () => {
      expect(pods().length).toBeGreaterThanOrEqual(3);
      expect(service().map((pod) => pod.workload).sort()).toEqual(['Deployment/goticket-api api', 'Deployment/goticket-worker worker', 'Job/goticket-migrate migrate']);
    });

    it('api, worker and migrate pass the service’s own validation, on the real backends (no embedded database, no stand-ins)', () => {
      for (const pod of service()) {
        expect([pod.workload, startupError(pod.env)]).toEqual([pod.workload, undefined]);
        const config = loadConfig(pod.env);
        expect([pod.workload, config.production, config.database.url, config.redisUrl, config.amqpUrl, config.auth.jwtSecret]).toEqual([
          pod.workload,
          true,
          runtimeSecret().DATABASE_URL,
          runtimeSecret().REDIS_URL,
          runtimeSecret().AMQP_URL,
          runtimeSecret().JWT_SECRET,
        ]);
      }
    });

    it('gives the service no variable it does not read (a typo or an invented key would be ignored silently)', () => {
      for (const pod of service()) expect([pod.workload, unreadVariables(pod.env)]).toEqual([pod.workload, []]);
    });

    it('the service refuses to start without any one runtime key, naming it', () => {
      for (const pod of service()) {
        for (const [key, error] of Object.entries(withoutEachRuntimeKey(pod.env))) {
          expect([pod.workload, key, error]).toEqual([pod.workload, key, expect.stringContaining(key)]);
        }
      }
    });
  });
}
