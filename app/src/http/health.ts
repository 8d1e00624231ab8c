import { Router, type NextFunction, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import type { HealthCheck, HealthStatus } from '../ports';

/** Each path is its own route label in the request metrics and access log (not `unmatched`). */
const labelled = (path: string) => (_req: Request, res: Response, next: NextFunction) => {
  res.locals.routeTemplate = path;
  next();
};

/**
 * Probes and metrics: outside /api/v1, no auth, no body parsing. Readiness: every critical check
 * answers. Liveness: no check reports its component wedged (HealthCheck.alive), whatever the
 * backends do.
 */
export function healthRouter(checks: HealthCheck[], isShuttingDown: () => boolean, metrics: Registry): Router {
  const router = Router();
  router.get('/healthz/live', labelled('/healthz/live'), (_req, res) => {
    const wedged = checks.filter((check) => check.alive?.() === false).map((check) => check.name);
    if (wedged.length > 0) return void res.status(503).json({ status: 'down', wedged });
    res.status(200).json({ status: 'up' });
  });
  router.get('/healthz/ready', labelled('/healthz/ready'), async (_req, res) => {
    if (isShuttingDown()) return void res.status(503).json({ status: 'down', reason: 'shutting down', checks: {} });
    const results = await Promise.all(checks.map(async (check) => [check, await check.check().catch((): HealthStatus => 'down')] as const));
    const ready = results.every(([check, status]) => status !== 'down' || !check.critical);
    const degraded = results.some(([, status]) => status !== 'up');
    res.status(ready ? 200 : 503).json({
      status: ready ? (degraded ? 'degraded' : 'up') : 'down',
      checks: Object.fromEntries(results.map(([check, status]) => [check.name, status])),
    });
  });
  router.get('/metrics', labelled('/metrics'), async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.metrics());
  });
  return router;
}
