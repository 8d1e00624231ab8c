import { z } from 'zod';
import type { Logger } from '../observability/logger';
import { sagaEffects } from '../observability/metrics';
import {
  PermanentMessageError,
  type BookingRecorder,
  type DomainMessage,
  type EventConsumer,
  type PaymentOutcomeStore,
  type SagaEffect,
  type Subscription,
} from '../ports';

const SUCCEEDED = z.object({ bookingId: z.uuid(), paymentId: z.string().min(1).max(255) });
const FAILED = z.object({ bookingId: z.uuid(), reason: z.string().max(2_000).default('declined') });
const REFUNDED = z.object({ bookingId: z.uuid(), paymentId: z.string().min(1).max(255).optional() });

function parse<T>(schema: z.ZodType<T>, message: DomainMessage): T {
  const parsed = schema.safeParse(message.data);
  if (!parsed.success)
    throw new PermanentMessageError(`${message.type} data: ${parsed.error.issues[0]!.path.join('.')} ${parsed.error.issues[0]!.message}`);
  return parsed.data;
}

/**
 * The booking side of the payments saga: consumes the payments service's answers (its own queue,
 * bound to payment.succeeded, payment.failed, refund.succeeded) and applies each once.
 */
export class PaymentSaga {
  private subscription: Subscription | null = null;
  private readonly log: Logger;

  constructor(
    private readonly options: { consumer: EventConsumer; outcomes: PaymentOutcomeStore; logger: Logger; recorder?: BookingRecorder },
  ) {
    this.log = options.logger.child({ component: 'payment-saga' });
  }

  async start(): Promise<void> {
    this.subscription = await this.options.consumer.consume(async (message) => {
      await this.handle(message);
    });
  }

  async close(): Promise<void> {
    await this.subscription?.cancel();
    this.subscription = null;
  }

  readonly handle = async (message: DomainMessage): Promise<SagaEffect> => {
    const { outcomes } = this.options;
    let effect: SagaEffect;
    switch (message.type) {
      case 'payment.succeeded': {
        const succeeded = await outcomes.succeeded(message.id, parse(SUCCEEDED, message));
        effect = succeeded.effect;
        // Counted once: a redelivered message is a duplicate, and the booking's own row says what was sold.
        if (succeeded.sold) {
          this.options.recorder?.entered('confirmed');
          this.options.recorder?.sold(succeeded.sold.quantity, succeeded.sold.amountCents);
        }
        break;
      }
      case 'payment.failed':
        effect = await outcomes.failed(message.id, parse(FAILED, message));
        break;
      case 'refund.succeeded':
        effect = await outcomes.refunded(message.id, parse(REFUNDED, message));
        break;
      default:
        return 'ignored';
    }
    sagaEffects.inc({ type: message.type, effect });
    if (effect === 'refund_requested')
      this.log.warn({ bookingId: message.aggregateId }, 'payment succeeded for a booking that no longer holds seats: refund requested');
    return effect;
  };
}
