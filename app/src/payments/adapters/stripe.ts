/**
 * The payment provider: Stripe's PaymentIntents API through the official `stripe` SDK. The SDK's
 * host, port and protocol come from STRIPE_API_BASE (as stripe-mock users point it), so tests and
 * `make run` reach the local Stripe-compatible server (../local-stripe.ts) the same way production
 * reaches api.stripe.com. The SDK retries network errors, 409s and 5xx itself, with the same
 * Idempotency-Key (the booking id) on every attempt.
 */
import Stripe from 'stripe';
import { providerCalls } from '../../observability/metrics';
import {
  ProviderUnavailableError,
  WebhookSignatureError,
  type ChargeRequest,
  type PaymentProvider,
  type ProviderEvent,
  type ProviderIntent,
  type WebhookVerifier,
} from '../ports';

export interface StripeOptions {
  apiKey: string;
  /** e.g. http://127.0.0.1:12111; unset: api.stripe.com over https. */
  apiBase?: string;
  timeoutMs: number;
  maxNetworkRetries: number;
}

export function createStripeClient(options: StripeOptions): Stripe {
  const base = options.apiBase ? new URL(options.apiBase) : undefined;
  const protocol = base?.protocol === 'http:' ? 'http' : 'https';
  return new Stripe(options.apiKey, {
    ...(base ? { host: base.hostname, port: base.port || (protocol === 'http' ? 80 : 443), protocol } : {}),
    timeout: options.timeoutMs,
    maxNetworkRetries: options.maxNetworkRetries,
    telemetry: false,
    appInfo: { name: 'goticket-payments' },
  });
}

function toIntent(intent: Stripe.PaymentIntent): ProviderIntent {
  const status: ProviderIntent['status'] =
    intent.status === 'succeeded'
      ? 'succeeded'
      : intent.status === 'processing' || intent.status === 'requires_capture'
        ? 'processing'
        : 'failed';
  const error = intent.last_payment_error;
  return {
    id: intent.id,
    status,
    amountCents: intent.amount,
    bookingId: intent.metadata?.booking_id,
    failureReason: status === 'failed' ? (error?.decline_code ?? error?.code ?? intent.status) : undefined,
  };
}

/** A call that could not get an answer (network, timeout, 5xx, 429) after the SDK's retries. */
function isTransient(error: unknown): boolean {
  return (
    error instanceof Stripe.errors.StripeConnectionError ||
    error instanceof Stripe.errors.StripeAPIError ||
    error instanceof Stripe.errors.StripeRateLimitError ||
    error instanceof Stripe.errors.StripeIdempotencyError ||
    (error instanceof Stripe.errors.StripeError && (error.statusCode ?? 0) >= 500)
  );
}

export class StripePaymentProvider implements PaymentProvider {
  constructor(private readonly stripe: Stripe) {}

  async charge(request: ChargeRequest): Promise<ProviderIntent> {
    try {
      const intent = await this.stripe.paymentIntents.create(
        {
          amount: request.amountCents,
          currency: request.currency.toLowerCase(),
          payment_method: request.paymentMethod,
          confirm: true,
          metadata: { booking_id: request.bookingId },
          automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
        },
        { idempotencyKey: request.bookingId },
      );
      providerCalls.inc({ operation: 'create', result: 'ok' });
      return toIntent(intent);
    } catch (error) {
      if (error instanceof Stripe.errors.StripeCardError) {
        // Declined: Stripe answers 402 with the intent (requires_payment_method) in the error.
        providerCalls.inc({ operation: 'create', result: 'declined' });
        const intent = error.payment_intent;
        return {
          id: intent?.id ?? '',
          status: 'failed',
          amountCents: request.amountCents,
          bookingId: request.bookingId,
          failureReason: error.decline_code ?? error.code ?? 'card_declined',
        };
      }
      throw this.failure('create', error);
    }
  }

  async retrieve(intentId: string): Promise<ProviderIntent> {
    try {
      const intent = await this.stripe.paymentIntents.retrieve(intentId);
      providerCalls.inc({ operation: 'retrieve', result: 'ok' });
      return toIntent(intent);
    } catch (error) {
      throw this.failure('retrieve', error);
    }
  }

  async refund(input: { intentId: string; bookingId: string }): Promise<{ id: string }> {
    try {
      const refund = await this.stripe.refunds.create(
        { payment_intent: input.intentId, metadata: { booking_id: input.bookingId } },
        { idempotencyKey: `refund-${input.bookingId}` },
      );
      providerCalls.inc({ operation: 'refund', result: 'ok' });
      return { id: refund.id };
    } catch (error) {
      throw this.failure('refund', error);
    }
  }

  private failure(operation: string, error: unknown): Error {
    providerCalls.inc({ operation, result: 'error' });
    if (isTransient(error)) return new ProviderUnavailableError(`stripe ${operation}: ${(error as Error).message}`, { cause: error });
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** Stripe-Signature: `t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">`, verified by the SDK with a 5-minute tolerance. */
export class StripeWebhookVerifier implements WebhookVerifier {
  constructor(
    private readonly stripe: Stripe,
    private readonly secret: string,
    private readonly toleranceSeconds = 300,
  ) {}

  verify(rawBody: Buffer, signature: string | undefined): ProviderEvent {
    if (!signature) throw new WebhookSignatureError('no Stripe-Signature header');
    let event: Stripe.Event;
    try {
      event = this.stripe.webhooks.constructEvent(rawBody, signature, this.secret, this.toleranceSeconds);
    } catch (error) {
      throw new WebhookSignatureError((error as Error).message);
    }
    if (
      typeof event?.id !== 'string' ||
      typeof event.type !== 'string' ||
      typeof event.data?.object !== 'object' ||
      event.data.object === null
    ) {
      throw new WebhookSignatureError('signed, but not an event');
    }
    switch (event.type) {
      case 'payment_intent.succeeded':
      case 'payment_intent.payment_failed':
        return { id: event.id, type: event.type, intent: toIntent(event.data.object) };
      case 'charge.refunded': {
        const charge = event.data.object;
        const intentId = typeof charge.payment_intent === 'string' ? charge.payment_intent : charge.payment_intent?.id;
        const refundId = charge.refunds?.data?.[0]?.id ?? `${charge.id}:refund`;
        if (!intentId) return { id: event.id, type: 'other', providerType: event.type };
        return { id: event.id, type: 'charge.refunded', intentId, refundId };
      }
      default:
        return { id: event.id, type: 'other', providerType: event.type };
    }
  }
}
