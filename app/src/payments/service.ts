/**
 * The payments service's use cases: charge on `payment.requested`, refund on `refund.requested`,
 * resolve what the provider says (answer, webhook or reconciliation: whichever comes first wins,
 * the others are no-ops), and reconcile payments stuck in processing or refunding.
 */
import { z } from 'zod';
import type { Logger } from '../observability/logger';
import { paymentOutcomes, reconciliationActions, refunds, webhookEvents } from '../observability/metrics';
import { PermanentMessageError, type DomainMessage } from '../ports';
import type { PaymentProvider, PaymentRecord, PaymentStore, ProviderEvent, ProviderIntent } from './ports';

const REQUESTED = z.object({
  bookingId: z.uuid(),
  userId: z.uuid(),
  amountCents: z.number().int().positive(),
  currency: z.string().regex(/^[A-Z]{3}$/),
  paymentMethod: z.string().regex(/^pm_[A-Za-z0-9_]{1,120}$/),
});
const REFUND_REQUESTED = z.object({ bookingId: z.uuid(), reason: z.string().max(100).default('cancelled') });

type Source = 'broker' | 'reconciliation' | 'webhook';

function parse<T>(schema: z.ZodType<T>, message: DomainMessage): T {
  const parsed = schema.safeParse(message.data);
  if (!parsed.success)
    throw new PermanentMessageError(`${message.type} data: ${parsed.error.issues[0]!.path.join('.')} ${parsed.error.issues[0]!.message}`);
  return parsed.data;
}

export interface PaymentServiceDeps {
  store: PaymentStore;
  provider: PaymentProvider;
  logger: Logger;
}

export type WebhookResult = 'applied' | 'ignored' | 'replayed';

export class PaymentService {
  private readonly log: Logger;

  constructor(private readonly deps: PaymentServiceDeps) {
    this.log = deps.logger.child({ component: 'payments' });
  }

  /** The broker's messages (queue bound to payment.requested and refund.requested). Throws to have it retried. */
  readonly handle = async (message: DomainMessage): Promise<void> => {
    if (message.type !== 'payment.requested' && message.type !== 'refund.requested') return;
    if (await this.deps.store.seen(message.id)) return;
    if (message.type === 'payment.requested') {
      const request = parse(REQUESTED, message);
      const payment = await this.deps.store.open(request);
      if (payment.status === 'processing') await this.charge(payment, 'broker');
    } else {
      const { bookingId, reason } = parse(REFUND_REQUESTED, message);
      await this.refund(bookingId, reason);
    }
    await this.deps.store.remember(message.id, 'broker', message.type);
  };

  /** Charges (create + confirm, Idempotency-Key = booking id) and resolves the answer. Provider errors propagate. */
  private async charge(payment: PaymentRecord, source: Source): Promise<void> {
    const intent = await this.deps.provider.charge({
      bookingId: payment.bookingId,
      amountCents: payment.amountCents,
      currency: payment.currency,
      paymentMethod: payment.paymentMethod,
    });
    await this.resolve(payment.bookingId, intent, source);
  }

  /** Applies what the provider says about the booking's intent; a payment already settled stays as it is. */
  async resolve(
    bookingId: string,
    intent: ProviderIntent,
    source: Source,
  ): Promise<'succeeded' | 'failed' | 'still_processing' | 'settled'> {
    const { store } = this.deps;
    switch (intent.status) {
      case 'succeeded':
        if (!(await store.succeed(bookingId, intent))) return 'settled';
        paymentOutcomes.inc({ outcome: 'succeeded', source });
        return 'succeeded';
      case 'failed':
        if (!(await store.fail(bookingId, intent.failureReason ?? 'declined', intent.id || null))) return 'settled';
        paymentOutcomes.inc({ outcome: 'failed', source });
        return 'failed';
      case 'processing':
        await store.recordIntent(bookingId, intent.id);
        return 'still_processing';
    }
  }

  /** Refunds a succeeded payment whole (Idempotency-Key refund-<booking>); a refund already done is a no-op. */
  private async refund(bookingId: string, reason: string): Promise<'refunded' | 'nothing'> {
    const { store, provider } = this.deps;
    let payment = await store.get(bookingId);
    // The booking side asks only after it saw payment.succeeded, which is committed here before it is sent.
    if (!payment) throw new Error(`refund.requested for booking ${bookingId}, which has no payment here`);
    if (payment.status === 'succeeded') payment = await store.startRefund(bookingId, reason);
    if (!payment || payment.status !== 'refunding') return 'nothing';
    if (!payment.intentId) throw new PermanentMessageError(`payment of booking ${bookingId} succeeded without an intent id`);
    try {
      const made = await provider.refund({ intentId: payment.intentId, bookingId });
      if (await store.refunded(bookingId, made.id)) refunds.inc({ result: 'succeeded', reason: payment.refundReason ?? reason });
      return 'refunded';
    } catch (error) {
      refunds.inc({ result: 'failed', reason: payment.refundReason ?? reason });
      throw error;
    }
  }

  /** Webhook events, verified by the edge: the same path as the polling reconciliation. */
  async webhook(event: ProviderEvent): Promise<WebhookResult> {
    const { store } = this.deps;
    if (await store.seen(`webhook:${event.id}`)) {
      webhookEvents.inc({ result: 'replayed' });
      return 'replayed';
    }
    let result: WebhookResult = 'ignored';
    if (event.type === 'payment_intent.succeeded' || event.type === 'payment_intent.payment_failed') {
      const bookingId = event.intent.bookingId ?? (await store.byIntent(event.intent.id))?.bookingId;
      if (bookingId && (await store.get(bookingId))) {
        const outcome = await this.resolve(bookingId, event.intent, 'webhook');
        result = outcome === 'succeeded' || outcome === 'failed' ? 'applied' : 'ignored';
      }
    } else if (event.type === 'charge.refunded') {
      const payment = await store.byIntent(event.intentId);
      if (payment?.status === 'refunding' && (await store.refunded(payment.bookingId, event.refundId))) {
        refunds.inc({ result: 'succeeded', reason: payment.refundReason ?? 'cancelled' });
        result = 'applied';
      }
    }
    await store.remember(`webhook:${event.id}`, 'webhook', event.type === 'other' ? event.providerType : event.type);
    webhookEvents.inc({ result });
    return result;
  }

  /**
   * Asks the provider about payments stuck in processing (an intent id known: retrieve it; none:
   * charge again with the same Idempotency-Key, which returns the original intent if there was
   * one) and finishes refunds stuck in refunding. Returns how many it looked at.
   */
  async reconcile(stuckAfterMs: number, limit = 100): Promise<number> {
    const stuck = await this.deps.store.unsettled(stuckAfterMs, limit);
    for (const payment of stuck) {
      try {
        await this.deps.store.touch(payment.bookingId);
        if (payment.status === 'refunding') {
          await this.refund(payment.bookingId, payment.refundReason ?? 'cancelled');
          reconciliationActions.inc({ action: 'refunded' });
          continue;
        }
        const intent = payment.intentId ? await this.deps.provider.retrieve(payment.intentId) : null;
        if (intent) reconciliationActions.inc({ action: await this.resolve(payment.bookingId, intent, 'reconciliation') });
        else {
          const before = await this.deps.store.get(payment.bookingId);
          await this.charge(payment, 'reconciliation');
          const after = await this.deps.store.get(payment.bookingId);
          reconciliationActions.inc({ action: after && before && after.status !== before.status ? after.status : 'still_processing' });
        }
      } catch (error) {
        reconciliationActions.inc({ action: 'error' });
        this.log.warn(
          { bookingId: payment.bookingId, err: (error as Error).message },
          'reconciliation: provider did not answer; will try again',
        );
      }
    }
    return stuck.length;
  }
}
