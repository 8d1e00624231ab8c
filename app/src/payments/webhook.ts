/**
 * POST /api/v1/payments/webhook on the payments role's port: the provider's events, verified
 * (Stripe-Signature over the raw body, 5-minute tolerance) before anything is parsed or changed.
 * Refused (400 problem+json): no or bad signature, an old timestamp, a body that is not an event.
 * Accepted (200): applied, or ignored (unknown type, unknown payment, replayed event id).
 */
import express, { type Router } from 'express';
import { PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE } from '../http/problem';
import type { Logger } from '../observability/logger';
import { webhookEvents } from '../observability/metrics';
import { WebhookSignatureError, type WebhookVerifier } from './ports';
import type { PaymentService } from './service';

export const WEBHOOK_PATH = '/api/v1/payments/webhook';

const refuse = (res: express.Response, status: number, title: string, detail: string) =>
  res
    .status(status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify({ type: `${PROBLEM_TYPE_BASE}webhook-refused`, title, status, detail }));

export function webhookRouter(options: { verifier: WebhookVerifier | null; payments: PaymentService; logger: Logger }): Router {
  const router = express.Router();
  const log = options.logger.child({ component: 'payments-webhook' });
  router.post(WEBHOOK_PATH, express.raw({ type: () => true, limit: '512kb' }), async (req, res) => {
    if (!options.verifier) {
      webhookEvents.inc({ result: 'bad_signature' });
      return void refuse(res, 400, 'Webhook refused', 'no webhook secret is configured (STRIPE_WEBHOOK_SECRET): every event is refused');
    }
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    let event;
    try {
      event = options.verifier.verify(body, req.get('stripe-signature'));
    } catch (error) {
      if (!(error instanceof WebhookSignatureError)) throw error;
      webhookEvents.inc({ result: /not an event|JSON/i.test(error.message) ? 'malformed' : 'bad_signature' });
      log.warn({ reason: error.message }, 'webhook refused');
      return void refuse(res, 400, 'Webhook refused', 'the Stripe-Signature header does not verify this body (or it is too old)');
    }
    try {
      const result = await options.payments.webhook(event);
      res.status(200).json({ received: true, result });
    } catch (error) {
      // The provider retries a non-2xx: the effect is idempotent, the event id is recorded only after it.
      log.warn({ eventId: event.id, err: (error as Error).message }, 'webhook could not be applied now; the provider will retry');
      refuse(res, 503, 'Try again', 'the event could not be applied now');
    }
  });
  return router;
}
