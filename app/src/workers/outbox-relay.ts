import { ExponentialBackoff } from 'cockatiel';
import type { FailureReporter } from '../observability/failures';
import type { Logger } from '../observability/logger';
import { outboxBacklog, outboxOldestAge, outboxPublished } from '../observability/metrics';
import type { DomainMessage, EventPublisher, HealthCheck, Outbox, PublishResult, WakeUps } from '../ports';
import { WorkerLoop, type TickResult } from './loop';

export interface OutboxRelayOptions {
  outbox: Outbox;
  /** Wakes the relay when rows are committed; without it, or while it is down, polling covers. */
  wakeUps?: WakeUps;
  publisher: EventPublisher;
  logger: Logger;
  /** Where failed steps are reported (the process's reporter: one incident per outage). */
  failures?: FailureReporter;
  pollIntervalMs: number;
  batchSize: number;
  retentionMs: number;
  /** How often the backlog gauges are refreshed and old rows pruned. */
  maintenanceIntervalMs?: number;
  /** Its loop's (and health check's) name; default `outbox-relay`. */
  name?: string;
  /** The backlog gauges are the booking outbox's: another outbox reports through this instead. */
  onBacklog?: (backlog: { count: number; oldestAgeSeconds: number }) => void;
  /**
   * The quick looks after a batch, before the relay waits `pollIntervalMs` (or a wake-up): default
   * RELAY_LINGER_MS, each capped at pollIntervalMs. See RELAY_LINGER_MS for the race they cover.
   */
  lingerMs?: readonly number[];
  /** Longest wait after consecutive failed batches (default 5 × pollIntervalMs); the waits start near pollIntervalMs. */
  maxFailureDelayMs?: number;
}

/**
 * The booking outbox's insert trigger (004_hold_lookup_and_quiet_notify.sql) notifies only when
 * the statement's rows are the whole visible backlog. A row inserted while the relay has a batch
 * claimed sees that batch as backlog and does not notify; if its transaction commits after the
 * relay's look-again that follows the batch, nothing announces it and it waited for the next poll
 * (OUTBOX_POLL_INTERVAL, 1 s). Under the checkout bench that happened once or twice per 500
 * checkouts and held 5-11 % of them for up to a second. So after a batch the relay looks again a
 * few times within a few hundred milliseconds (the inserter's commit follows its trigger within
 * milliseconds) before it sleeps until a wake-up or the poll.
 */
export const RELAY_LINGER_MS: readonly number[] = [10, 25, 50, 100, 250];

/**
 * Publishes outbox rows: claims a batch (FOR UPDATE SKIP LOCKED), publishes it with confirms,
 * marks the confirmed rows published. Woken on insert (`wakeUps`); polls as a fallback.
 */
export class OutboxRelay {
  private readonly outbox: Outbox;
  private readonly loop: WorkerLoop;
  private readonly log: Logger;
  private maintenance: NodeJS.Timeout | null = null;
  private maintaining: Promise<void> | null = null;
  private lastPrune = 0;
  private closed = false;

  constructor(private readonly options: OutboxRelayOptions) {
    this.outbox = options.outbox;
    this.log = options.logger.child({ component: 'outbox-relay' });
    this.loop = new WorkerLoop(() => this.step(), {
      name: options.name ?? 'outbox-relay',
      intervalMs: options.pollIntervalMs,
      lingerMs: (options.lingerMs ?? RELAY_LINGER_MS).map((ms) => Math.min(ms, options.pollIntervalMs)),
      failureDelayMs: options.pollIntervalMs,
      // A broker that keeps refusing is asked less and less often (cockatiel: exponential, with jitter).
      failureBackoff: new ExponentialBackoff({
        initialDelay: options.pollIntervalMs,
        maxDelay: options.maxFailureDelayMs ?? options.pollIntervalMs * 5,
      }),
      logger: this.log,
      failures: options.failures,
    });
  }

  /**
   * `outbox-relay` (critical): down while a relay step has run past 30 s (every query and connect in
   * it has a deadline, so it is stuck), not alive past 2 min: the worker is restarted rather than
   * reporting ready while nothing is published.
   */
  healthCheck(stuckAfterMs = 30_000, wedgedAfterMs = 120_000): HealthCheck {
    return this.loop.healthCheck(stuckAfterMs, wedgedAfterMs);
  }

  async start(): Promise<void> {
    // If it drops, polling covers until it is back.
    await this.options.wakeUps?.start(() => this.loop.wake());
    this.loop.start();
    const every = this.options.maintenanceIntervalMs ?? 5_000;
    this.maintenance = setInterval(() => {
      this.maintaining ??= this.maintain().finally(() => (this.maintaining = null));
    }, every);
    this.maintenance.unref();
  }

  /** Stops polling and listening; the batch in flight finishes (and is marked) first. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.maintenance) clearInterval(this.maintenance);
    await this.loop.stop();
    await this.maintaining;
    await this.options.wakeUps?.close();
  }

  private async step(): Promise<TickResult> {
    const publisher = this.options.publisher;
    const batch = await this.outbox.relayBatch(this.options.batchSize, (messages) =>
      publishInAggregateOrder(messages, (wave) => publisher.publish(wave)),
    );
    if (batch.published > 0) outboxPublished.inc({ outcome: 'confirmed' }, batch.published);
    if (batch.failed > 0) {
      outboxPublished.inc({ outcome: 'failed' }, batch.failed);
      this.log.warn({ failed: batch.failed, published: batch.published }, 'broker did not confirm every event; will retry');
      return 'failed';
    }
    // Rows committed while this batch was in flight did not notify (see 002_messaging.sql): look again.
    return batch.claimed > 0 ? 'more' : 'idle';
  }

  private async maintain(): Promise<void> {
    try {
      const backlog = await this.outbox.backlog();
      if (this.options.onBacklog) this.options.onBacklog(backlog);
      else {
        outboxBacklog.set(backlog.count);
        outboxOldestAge.set(backlog.oldestAgeSeconds);
      }
      if (Date.now() - this.lastPrune >= 60_000) {
        this.lastPrune = Date.now();
        const limit = 1_000;
        let pruned = 0;
        let deleted: number;
        do {
          deleted = await this.outbox.prune(this.options.retentionMs, limit);
          pruned += deleted;
        } while (deleted === limit && !this.closed);
        if (pruned > 0) this.log.info({ pruned }, 'pruned published outbox rows');
      }
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'outbox maintenance failed');
    }
  }
}

/**
 * Publishes a claimed batch in waves: the n-th event of every aggregate goes out in wave n, and
 * wave n+1 only after the broker answered wave n. An aggregate whose event was not confirmed sends
 * nothing more in this batch: its later events stay unpublished (no result, no attempt counted) and
 * follow it on the next try, so a retried event can never arrive after a newer one of its aggregate.
 * A batch of distinct aggregates (the usual case) is a single wave.
 */
export async function publishInAggregateOrder<M extends DomainMessage>(
  messages: readonly M[],
  publish: (wave: readonly M[]) => Promise<PublishResult[]>,
): Promise<PublishResult[]> {
  const waves: M[][] = [];
  const seen = new Map<string, number>();
  for (const message of messages) {
    const position = seen.get(message.aggregateId) ?? 0;
    seen.set(message.aggregateId, position + 1);
    (waves[position] ??= []).push(message);
  }
  const results: PublishResult[] = [];
  const held = new Set<string>();
  for (const wave of waves) {
    const sendable = wave.filter((message) => !held.has(message.aggregateId));
    if (sendable.length === 0) break;
    const answers = new Map((await publish(sendable)).map((answer) => [answer.id, answer]));
    for (const message of sendable) {
      const answer = answers.get(message.id) ?? {
        id: message.id,
        ok: false as const,
        error: new Error('the publisher gave no answer for this message'),
      };
      results.push(answer);
      if (!answer.ok) held.add(message.aggregateId);
    }
  }
  return results;
}
