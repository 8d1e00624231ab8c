/**
 * The payments service's own ports. It shares nothing with the booking side but the broker's
 * message format (ports.ts DomainMessage): its store, its provider, its webhook verifier.
 */

/** What the provider says a payment intent is, in our terms. */
export interface ProviderIntent {
  id: string;
  status: 'succeeded' | 'processing' | 'failed';
  amountCents: number;
  /** metadata[booking_id] as stored at the provider. */
  bookingId?: string;
  /** Why it failed (decline code), when it did. */
  failureReason?: string;
}

export interface ChargeRequest {
  /** Also the provider's Idempotency-Key: every retry names the same charge. */
  bookingId: string;
  amountCents: number;
  currency: string;
  paymentMethod: string;
}

/** The provider cannot answer now (network, timeout, 5xx after the SDK's own retries): try again later, same key. */
export class ProviderUnavailableError extends Error {
  override readonly name = 'ProviderUnavailableError';
}

export interface PaymentProvider {
  /** Creates and confirms a PaymentIntent; a declined card is a `failed` intent, not an error. */
  charge(request: ChargeRequest): Promise<ProviderIntent>;
  retrieve(intentId: string): Promise<ProviderIntent>;
  /** Refunds the whole intent; Idempotency-Key `refund-<booking id>`. */
  refund(input: { intentId: string; bookingId: string }): Promise<{ id: string }>;
}

/** A verified provider event (webhook). */
export type ProviderEvent =
  | { id: string; type: 'payment_intent.succeeded' | 'payment_intent.payment_failed'; intent: ProviderIntent }
  | { id: string; type: 'charge.refunded'; intentId: string; refundId: string }
  | { id: string; type: 'other'; providerType: string };

/** The body or its signature cannot be trusted: refused (400), nothing changes. */
export class WebhookSignatureError extends Error {
  override readonly name = 'WebhookSignatureError';
}

export interface WebhookVerifier {
  /** Verifies the signature header over the raw body (and its age) and parses the event. */
  verify(rawBody: Buffer, signature: string | undefined): ProviderEvent;
}

export type PaymentStatus = 'processing' | 'succeeded' | 'failed' | 'refunding' | 'refunded';

export interface PaymentRecord {
  bookingId: string;
  userId: string;
  amountCents: number;
  currency: string;
  paymentMethod: string;
  status: PaymentStatus;
  intentId: string | null;
  refundId: string | null;
  refundReason: string | null;
  updatedAt: Date;
}

export interface PaymentStore {
  /** Whether this broker message id / webhook event id was processed already. */
  seen(messageId: string): Promise<boolean>;
  /** Records it as processed. */
  remember(messageId: string, source: 'broker' | 'webhook', type: string): Promise<void>;
  /** The payment of the booking, created `processing` if it has none (one per booking, whatever the redeliveries). */
  open(request: ChargeRequest & { userId: string }): Promise<PaymentRecord>;
  get(bookingId: string): Promise<PaymentRecord | null>;
  byIntent(intentId: string): Promise<PaymentRecord | null>;
  /** The intent id of a payment still processing (the provider said `processing`). */
  recordIntent(bookingId: string, intentId: string): Promise<void>;
  /** processing → succeeded with `payment.succeeded` in the outbox, once; false when it was not processing. */
  succeed(bookingId: string, intent: ProviderIntent): Promise<boolean>;
  /** processing → failed with `payment.failed` (reason) in the outbox, once. */
  fail(bookingId: string, reason: string, intentId: string | null): Promise<boolean>;
  /** succeeded → refunding (the reason kept); the record as it is after. */
  startRefund(bookingId: string, reason: string): Promise<PaymentRecord | null>;
  /** refunding → refunded with `refund.succeeded` in the outbox, once. */
  refunded(bookingId: string, refundId: string): Promise<boolean>;
  /** Payments in processing or refunding not touched for `olderThanMs` (the reconciliation job's list). */
  unsettled(olderThanMs: number, limit: number): Promise<PaymentRecord[]>;
  /** Marks the attempt (moves the record to the back of the reconciliation list). */
  touch(bookingId: string): Promise<void>;
}
