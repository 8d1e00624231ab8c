import { z } from 'zod';
import { PermanentMessageError, type DomainMessage } from '../../ports';

const DOMAIN_MESSAGE = z.object({
  id: z.uuid(),
  type: z.string().regex(/^[a-z]+\.[a-z_]+$/, 'must look like booking.confirmed'),
  occurredAt: z.iso.datetime({ offset: true }),
  aggregateId: z.string().min(1),
  data: z.record(z.string(), z.unknown()),
});

export class UnparseableMessageError extends Error {
  override readonly name = 'UnparseableMessageError';
}

export function encodeMessage(message: DomainMessage): Buffer {
  const { id, type, occurredAt, aggregateId, data } = message;
  return Buffer.from(JSON.stringify({ id, type, occurredAt, aggregateId, data }));
}

/** Throws UnparseableMessageError naming what is wrong: such a message goes straight to the DLQ. */
export function decodeMessage(body: Buffer | string): DomainMessage {
  let json: unknown;
  try {
    json = JSON.parse(body.toString());
  } catch (error) {
    throw new UnparseableMessageError(`body is not JSON: ${(error as Error).message}`);
  }
  const parsed = DOMAIN_MESSAGE.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UnparseableMessageError(`body is not a domain message: ${issue.path.join('.') || 'body'} ${issue.message}`);
  }
  return parsed.data;
}

/** What a consumer does with a message its handler failed on, the same for every adapter. */
export function onHandlerFailure(error: unknown, attempt: number, maxAttempts: number): 'retry' | 'dead_letter' {
  if (error instanceof PermanentMessageError || error instanceof UnparseableMessageError) return 'dead_letter';
  return attempt >= maxAttempts ? 'dead_letter' : 'retry';
}

export function describeFailure(error: unknown, attempt: number): string {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return `attempt ${attempt}: ${message}`.slice(0, 1_000);
}
