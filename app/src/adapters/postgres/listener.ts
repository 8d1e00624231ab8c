import { ExponentialBackoff, handleAll, retry, type RetryPolicy } from 'cockatiel';
import type { Pool, PoolClient } from 'pg';
import type { Logger } from '../../observability/logger';

export interface PgListenerOptions {
  pool: Pool;
  /** A fixed identifier (it is written into LISTEN as is). */
  channel: string;
  logger: Logger;
  onNotification(payload: string): void;
  /**
   * Called when the LISTEN is (back) in place. `missedSince` is when the previous one was lost
   * (undefined the first time): notifications sent since then may never arrive.
   */
  onListening?(missedSince: number | undefined): void;
  /** Called once when a LISTEN in place is lost. */
  onLost?(): void;
  /** A connection that died silently is found by a query this often (default 5 s). */
  heartbeatMs?: number;
  /** Wait before the first new attempt after a failed one (default 1 s); it doubles, with jitter, up to `maxRetryMs`. */
  retryMs?: number;
  /** Longest wait between attempts (default 15 s). */
  maxRetryMs?: number;
}

/**
 * LISTEN on a dedicated pooled connection that is kept: an 'error' on it (a reset while it is
 * checked out) is handled here, the connection is discarded and the LISTEN re-established on a
 * new one; a heartbeat query finds one that died without a word (no query, no client-side
 * deadline otherwise). A failed LISTEN is retried with exponential backoff and jitter (a cockatiel
 * policy, like the RabbitMQ connection's). `listening` says whether notifications can arrive now.
 */
export class PgListener {
  private client: PoolClient | null = null;
  private reconnecting: Promise<void> | null = null;
  private readonly abort = new AbortController();
  private readonly retry: RetryPolicy;
  private heartbeat: NodeJS.Timeout | null = null;
  private lostAt: number | undefined;
  private everListened = false;
  private closed = false;

  constructor(private readonly options: PgListenerOptions) {
    if (!/^[a-z_][a-z0-9_]*$/.test(options.channel)) throw new Error(`not a channel name: ${options.channel}`);
    // Forever, until closed; the wait between attempts does not keep the process alive.
    this.retry = retry(handleAll, {
      maxAttempts: Number.POSITIVE_INFINITY,
      backoff: new ExponentialBackoff({ initialDelay: options.retryMs ?? 1_000, maxDelay: options.maxRetryMs ?? 15_000 }),
    }).dangerouslyUnref();
    this.retry.onRetry((reason) => this.failed('error' in reason ? reason.error : undefined));
  }

  get listening(): boolean {
    return this.client !== null;
  }

  /** First attempt; never rejects (a failure is retried in the background). */
  async start(): Promise<void> {
    await new Promise<void>((firstAttemptDone) => this.reconnect(firstAttemptDone));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.abort.abort();
    if (this.heartbeat) clearInterval(this.heartbeat);
    const client = this.client;
    this.client = null;
    if (client) {
      await client.query(`UNLISTEN ${this.options.channel}`).catch(() => undefined);
      client.release();
    }
  }

  /** One attempt: LISTEN on a new connection, or throw (the connection is discarded). */
  private async connect(): Promise<void> {
    if (this.closed) return;
    let client: PoolClient | null = null;
    try {
      client = await this.options.pool.connect();
      const mine = client;
      mine.on('notification', (message) => {
        if (message.channel === this.options.channel) this.options.onNotification(message.payload ?? '');
      });
      mine.on('error', (error: Error) => this.lose(mine, error));
      await mine.query(`LISTEN ${this.options.channel}`);
      if (this.closed) return void mine.release();
      this.client = mine;
      const missedSince = this.everListened ? (this.lostAt ?? Date.now()) : undefined;
      this.everListened = true;
      this.lostAt = undefined;
      this.startHeartbeat(mine);
      this.options.onListening?.(missedSince);
    } catch (error) {
      client?.release(true);
      throw error;
    }
  }

  private failed(error: unknown): void {
    this.lostAt ??= Date.now();
    this.options.logger.warn({ err: (error as Error | undefined)?.message, channel: this.options.channel }, 'cannot LISTEN; retrying');
  }

  /** Attempts now, and again in the background until one succeeds or the listener is closed. */
  private reconnect(firstAttemptDone?: () => void): void {
    if (this.closed || this.reconnecting) return void firstAttemptDone?.();
    this.reconnecting = this.retry
      .execute(async ({ signal }) => {
        if (signal.aborted) return;
        try {
          await this.connect();
        } finally {
          firstAttemptDone?.();
          firstAttemptDone = undefined;
        }
      }, this.abort.signal)
      .catch(() => undefined) // only when closed
      .finally(() => (this.reconnecting = null));
  }

  private startHeartbeat(client: PoolClient): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      // the pool's query deadline bounds it: a dead connection fails here within seconds
      client.query('SELECT 1').catch((error: Error) => this.lose(client, error));
    }, this.options.heartbeatMs ?? 5_000);
    this.heartbeat.unref();
  }

  private lose(client: PoolClient, error: Error): void {
    if (this.client !== client) return;
    this.client = null;
    this.lostAt = Date.now();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    client.release(true);
    this.options.logger.warn({ err: error.message, channel: this.options.channel }, 'LISTEN connection lost; re-establishing it');
    this.options.onLost?.();
    this.reconnect();
  }
}
