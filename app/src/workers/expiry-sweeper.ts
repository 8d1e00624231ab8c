import type { FailureReporter } from '../observability/failures';
import type { Logger } from '../observability/logger';
import { bookingExpiries } from '../observability/metrics';
import type { HoldExpiry } from '../ports';
import { WorkerLoop, type TickResult } from './loop';

export interface ExpirySweeperOptions {
  expiry: HoldExpiry;
  logger: Logger;
  /** Where failed steps are reported (the process's reporter: one incident per outage). */
  failures?: FailureReporter;
  intervalMs: number;
  batchSize: number;
}

/** Expires lapsed holds every interval; several replicas share the work (SKIP LOCKED). */
export class HoldExpirySweeper {
  private readonly loop: WorkerLoop;
  private readonly log: Logger;

  constructor(private readonly options: ExpirySweeperOptions) {
    this.log = options.logger.child({ component: 'expiry-sweeper' });
    this.loop = new WorkerLoop(() => this.step(), {
      name: 'expiry-sweeper',
      intervalMs: options.intervalMs,
      failureDelayMs: options.intervalMs,
      logger: this.log,
      failures: options.failures,
    });
  }

  start(): void {
    this.loop.start();
  }

  async close(): Promise<void> {
    await this.loop.stop();
  }

  private async step(): Promise<TickResult> {
    const expired = await this.options.expiry.expireDue(this.options.batchSize);
    if (expired > 0) {
      bookingExpiries.inc(expired);
      this.log.info({ expired }, 'expired lapsed holds');
    }
    return expired === this.options.batchSize ? 'more' : 'idle';
  }
}
