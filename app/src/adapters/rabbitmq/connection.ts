import { connect, type ChannelModel } from 'amqplib';
import { ExponentialBackoff, handleAll, retry, type RetryPolicy } from 'cockatiel';
import type { Logger } from '../../observability/logger';
import { assertTopology, type TopologyNames } from './topology';

export class NotConnectedError extends Error {
  override readonly name = 'NotConnectedError';
  constructor() {
    super('not connected to RabbitMQ');
  }
}

export interface BackoffOptions {
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/** Exponential backoff with decorrelated jitter (cockatiel's default generator), retrying forever. */
export function foreverRetry(options: BackoffOptions = {}): RetryPolicy {
  return retry(handleAll, {
    maxAttempts: Number.POSITIVE_INFINITY,
    backoff: new ExponentialBackoff({ initialDelay: options.initialDelayMs ?? 200, maxDelay: options.maxDelayMs ?? 15_000 }),
  });
}

export interface AmqpConnectionOptions {
  url: string;
  names: TopologyNames;
  logger: Logger;
  reconnect?: BackoffOptions;
  /** TCP connect timeout. */
  connectTimeoutMs?: number;
  /** Detects a silent peer (a half-open TCP connection) within about twice this. */
  heartbeatSeconds?: number;
}

type ConnectListener = (model: ChannelModel) => void;

/**
 * One AMQP connection kept alive: connects in the background, declares the topology on every
 * (re)connect, and after a loss reconnects with exponential backoff and jitter (cockatiel).
 * Channels are the users' business: they re-open theirs from `onConnect`.
 */
export class AmqpConnection {
  private model: ChannelModel | null = null;
  private connecting: Promise<void> | null = null;
  private closed = false;
  private readonly abort = new AbortController();
  private readonly listeners = new Set<ConnectListener>();
  private readonly waiters = new Set<() => void>();
  private readonly retry: RetryPolicy;
  private readonly log: Logger;

  constructor(private readonly options: AmqpConnectionOptions) {
    this.log = options.logger.child({ component: 'amqp' });
    this.retry = foreverRetry(options.reconnect);
    this.retry.onRetry(({ delay, attempt, ...reason }) => {
      const error = 'error' in reason ? reason.error : undefined;
      this.log.warn({ attempt, delayMs: Math.round(delay), err: error?.message }, 'RabbitMQ unreachable; retrying');
    });
  }

  get names(): TopologyNames {
    return this.options.names;
  }

  get connected(): boolean {
    return this.model !== null;
  }

  /** Starts connecting in the background; never throws (readiness reports the state). */
  start(): void {
    if (this.closed || this.connecting || this.model) return;
    this.connecting = this.retry
      .execute(() => this.connectOnce(), this.abort.signal)
      .then(
        (model) => {
          this.connecting = null;
          this.adopt(model);
        },
        (error: Error) => {
          this.connecting = null;
          if (!this.closed) this.log.error({ err: error.message }, 'gave up connecting to RabbitMQ');
        },
      );
  }

  /** The live connection, or NotConnectedError. */
  current(): ChannelModel {
    if (!this.model) throw new NotConnectedError();
    return this.model;
  }

  /** Calls `listener` on every (re)connection, now too when connected; returns an unsubscribe. */
  onConnect(listener: ConnectListener): () => void {
    this.listeners.add(listener);
    if (this.model) listener(this.model);
    return () => this.listeners.delete(listener);
  }

  /** Resolves when connected; rejects after `timeoutMs`. */
  waitUntilConnected(timeoutMs: number): Promise<void> {
    if (this.model) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        reject(new NotConnectedError());
      }, timeoutMs);
      this.waiters.add(done);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    await this.connecting;
    const model = this.model;
    this.model = null;
    if (model) await model.close().catch(() => undefined);
  }

  private async connectOnce(): Promise<ChannelModel> {
    const url = new URL(this.options.url);
    if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', String(this.options.heartbeatSeconds ?? 10));
    const model = await connect(url.toString(), { timeout: this.options.connectTimeoutMs ?? 5_000 });
    // An 'error' without a listener would crash the process; 'close' follows it and drives recovery.
    model.on('error', (error: Error) => this.log.warn({ err: error.message }, 'RabbitMQ connection error'));
    try {
      const channel = await model.createChannel();
      await assertTopology(channel, this.options.names);
      await channel.close();
    } catch (error) {
      await model.close().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await model.close().catch(() => undefined);
      throw new Error('closed while connecting');
    }
    return model;
  }

  private adopt(model: ChannelModel): void {
    this.model = model;
    this.log.info({ exchange: this.options.names.events }, 'connected to RabbitMQ; topology declared');
    model.once('close', () => {
      if (this.model === model) this.model = null;
      if (this.closed) return;
      this.log.warn('RabbitMQ connection lost; reconnecting');
      this.start();
    });
    for (const waiter of [...this.waiters]) waiter();
    for (const listener of this.listeners) listener(model);
  }
}
