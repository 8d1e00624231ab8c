import { Router } from 'express';
import type { Registry } from 'prom-client';
import type { HealthCheck, HealthStatus } from '../ports';

/** Probes and metrics: outside /api/v1, no auth, no body parsing. */
export function healthRouter(checks: HealthCheck[], isShuttingDown: () => boolean, metrics: Registry): Router {
  const router = Router();
  router.get('/healthz/live', (_req, res) => {
    res.status(200).json({ status: 'up' });
  });
  router.get('/healthz/ready', async (_req, res) => {
    if (isShuttingDown()) return void res.status(503).json({ status: 'down', reason: 'shutting down', checks: {} });
    const results = await Promise.all(checks.map(async (check) => [check, await check.check().catch((): HealthStatus => 'down')] as const));
    const ready = results.every(([check, status]) => status !== 'down' || !check.critical);
    const degraded = results.some(([, status]) => status !== 'up');
    res.status(ready ? 200 : 503).json({
      status: ready ? (degraded ? 'degraded' : 'up') : 'down',
      checks: Object.fromEntries(results.map(([check, status]) => [check.name, status])),
    });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.metrics());
  });
  return router;
}
