/**
 * The contract between the two halves of the platform and the service, checked end to end: the
 * runtime Secret this Pulumi program creates plus the ConfigMap and env of dist/<env> are fed to
 * the service's own loadConfig (app/src/config.ts), exactly as the kubelet would hand them over.
 */
import { loadConfig } from '../../app/src/config';
import { DEPENDENCY_KEYS, PAYMENTS, RUNTIME_KEYS, RUNTIME_SECRET, type EnvName } from '../../platform/contract';
import { podEnvironments, startupError, unreadVariables, withoutEachRuntimeKey } from '../../platform/test/pod-environment';
import { distObjects, k8sObject, plain, type ProgramRun } from './harness';

const PAYMENTS_WORKLOAD = 'Deployment/goticket-payments payments';

export function serviceStartupTests(environment: EnvName, run: () => ProgramRun): void {
  describe(`the service starts with exactly what the ${environment} cluster gives its pods`, () => {
    const runtimeSecret = () => plain(k8sObject(run(), 'core/v1:Secret', RUNTIME_SECRET).inputs.stringData) as Record<string, string>;
    const paymentsSecret = () => plain(k8sObject(run(), 'core/v1:Secret', PAYMENTS.secret).inputs.stringData) as Record<string, string>;
    const pods = () =>
      podEnvironments(distObjects(environment), { [RUNTIME_SECRET]: runtimeSecret(), [PAYMENTS.secret]: paymentsSecret() });
    const service = () => pods().filter((pod) => pod.service);
    /** The booking side: api, worker, migrate. */
    const booking = () => service().filter((pod) => pod.workload !== PAYMENTS_WORKLOAD);
    const payments = () => service().find((pod) => pod.workload === PAYMENTS_WORKLOAD)!;

    it('the runtime Secret holds the contract’s keys (and in dev the in-cluster dependencies’ passwords), nothing else', () => {
      const expected = environment === 'dev' ? [...RUNTIME_KEYS, ...DEPENDENCY_KEYS] : [...RUNTIME_KEYS];
      expect(Object.keys(runtimeSecret()).sort()).toEqual(expected.sort());
    });

    it('every container finds the ConfigMaps, Secrets and keys it references', () => {
      expect(pods().length).toBeGreaterThanOrEqual(3);
      expect(
        service()
          .map((pod) => pod.workload)
          .sort(),
      ).toEqual(['Deployment/goticket-api api', PAYMENTS_WORKLOAD, 'Deployment/goticket-worker worker', 'Job/goticket-migrate migrate']);
    });

    it('api, worker and migrate pass the service’s own validation, on the real backends (no embedded database, no stand-ins)', () => {
      for (const pod of booking()) {
        expect([pod.workload, startupError(pod.env, pod.role)]).toEqual([pod.workload, undefined]);
        const config = loadConfig(pod.env, pod.role);
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
      for (const pod of booking()) {
        for (const [key, error] of Object.entries(withoutEachRuntimeKey(pod.env, pod.role))) {
          expect([pod.workload, key, error]).toEqual([pod.workload, key, expect.stringContaining(key)]);
        }
      }
    });

    it('the payments Secret holds exactly the contract’s keys, and never the booking side’s login', () => {
      const secret = paymentsSecret();
      expect(Object.keys(secret).sort()).toEqual([...PAYMENTS.secretKeys].sort());
      if (environment === 'prod') {
        // its own login, the provider's credentials from the stack's config secrets
        expect(new URL(secret.DATABASE_URL!).username).toBe(PAYMENTS.database.role);
        expect(secret.DATABASE_URL).not.toBe(runtimeSecret().DATABASE_URL);
        expect(secret.STRIPE_API_KEY).toMatch(/^sk_live_/);
        expect(secret.STRIPE_WEBHOOK_SECRET).toMatch(/^whsec_/);
      } else {
        // dev: the in-cluster database (one login there), and no provider: the local server stands in
        expect(secret.DATABASE_URL).toBe(runtimeSecret().DATABASE_URL);
        expect([secret.STRIPE_API_KEY, secret.STRIPE_WEBHOOK_SECRET]).toEqual(['', '']);
      }
    });

    it('the payments pods get only their keys: their own DATABASE_URL, the broker, and none of the booking side’s or the identity providers’ secrets', () => {
      const pod = payments();
      expect(pod.role).toBe('payments');
      expect([pod.workload, startupError(pod.env, pod.role)]).toEqual([pod.workload, undefined]);
      expect(unreadVariables(pod.env)).toEqual([]);
      const config = loadConfig(pod.env, pod.role);
      expect(config.database.url).toBe(paymentsSecret().DATABASE_URL);
      expect(config.amqpUrl).toBe(runtimeSecret().AMQP_URL);
      // no signing key and no Redis: the payments service uses neither (its production requirements do not name them)
      for (const key of ['JWT_SECRET', 'REDIS_URL', 'OAUTH_GOOGLE_CLIENT_SECRET', 'OAUTH_GITHUB_CLIENT_SECRET', ...DEPENDENCY_KEYS])
        expect([key, key in pod.env]).toEqual([key, false]);
      // and the booking side never sees the provider's key
      for (const other of booking()) expect([other.workload, 'STRIPE_API_KEY' in other.env]).toEqual([other.workload, false]);
      if (environment === 'prod') {
        expect([
          config.production,
          config.payments.stripe.apiKey,
          config.payments.stripe.webhookSecret,
          config.payments.stripe.apiBase,
        ]).toEqual([true, paymentsSecret().STRIPE_API_KEY, paymentsSecret().STRIPE_WEBHOOK_SECRET, undefined]);
      } else {
        // not production, no key: the service runs its local Stripe-compatible server in the process
        expect([config.production, config.payments.stripe.apiKey]).toEqual([false, undefined]);
      }
    });

    it('a payments pod missing a key of the runtime Secret it references does not start (the kubelet refuses it), naming the key', () => {
      for (const key of PAYMENTS.runtimeKeys) {
        const { [key]: _dropped, ...rest } = runtimeSecret();
        expect(() => podEnvironments(distObjects(environment), { [RUNTIME_SECRET]: rest, [PAYMENTS.secret]: paymentsSecret() })).toThrow(
          new RegExp(`reads key ${key} of ${RUNTIME_SECRET}`),
        );
      }
      expect(() => podEnvironments(distObjects(environment), { [RUNTIME_SECRET]: runtimeSecret() })).toThrow(
        `${PAYMENTS_WORKLOAD} reads Secret ${PAYMENTS.secret}, which nothing creates`,
      );
    });

    if (environment === 'prod') {
      it('the payments service refuses to start without each key of its own, one line naming it (the service’s own checks, as in its pod)', () => {
        const pod = payments();
        for (const key of ['DATABASE_URL', 'AMQP_URL', 'STRIPE_API_KEY', 'STRIPE_WEBHOOK_SECRET']) {
          expect([key, key in pod.env]).toEqual([key, true]);
          const { [key]: _dropped, ...rest } = pod.env;
          expect([key, startupError(rest, pod.role)]).toEqual([
            key,
            expect.stringMatching(new RegExp(`^invalid configuration: ${key} is required in production[^\n]*$`)),
          ]);
        }
        // what it gets would not start a booking-side role: the requirements are the payments role's own
        expect(startupError(pod.env, 'api')).toMatch(/JWT_SECRET is required in production/);
      });
    }
  });
}
