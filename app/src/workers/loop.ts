import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ConstantBackoff, type IBackoff, type IBackoffFactory } from 'cockatiel';
import { FailureReporter } from '../observability/failures';
import type { Logger } from '../observability/logger';
import type { HealthCheck } from '../ports';

/** more: run again at once; idle: caught up, sleep; failed: back off (wake-ups ignored). */
export type TickResult = 'more' | 'idle' | 'failed';

export interface WorkerLoopOptions {
  name: string;
  intervalMs: number;
  failureDelayMs: number;
  /**
   * The waits after consecutive failed ticks (a cockatiel backoff; the count restarts after a tick
   * that did not fail). Default: `failureDelayMs` every time.
   */
  failureBackoff?: IBackoffFactory<unknown>;
  logger: Logger;
  /**
   * The first idle waits after a tick that did work, in order, before the waits go back to
   * `intervalMs` (wakeable like it). For a producer whose wake-up can be lost in a race (the
   * outbox relay: see OutboxRelay) a few quick looks right after work find what the wake-up
   * would have announced. Default: none.
   */
  lingerMs?: readonly number[];
  /** Where failed steps are reported (default: one of its own on `logger`): an unavailable database is one incident, not a line per step. */
  failures?: FailureReporter;
}

/**
 * Runs `tick` until stopped: again at once while it reports more work, after `intervalMs` when
 * idle (or sooner on `wake()`), after `failureBackoff`'s next wait when it failed. `stop()` lets the tick in
 * flight finish.
 */
export class WorkerLoop {
  private stopped = false;
  private running: Promise<void> | null = null;
  private pendingWake = false;
  private interrupt: (() => void) | null = null;
  private wakeable = false;
  /** When the tick in flight started (null between ticks). */
  private tickStartedAt: number | null = null;
  private readonly failures: FailureReporter;
  private readonly failureBackoff: IBackoffFactory<unknown>;
  /** The backoff of the current run of failed ticks (null after a tick that did not fail). */
  private backoff: IBackoff<unknown> | null = null;
  /** Idle ticks since the last one that did work (null: none did yet, or the linger is over). */
  private idleSinceWork: number | null = null;

  constructor(
    private readonly tick: () => Promise<TickResult>,
    private readonly options: WorkerLoopOptions,
  ) {
    this.failures = options.failures ?? new FailureReporter(options.logger);
    this.failureBackoff = options.failureBackoff ?? new ConstantBackoff(options.failureDelayMs);
  }

  /** How long the tick in flight has been running (0 between ticks). */
  busyForMs(): number {
    return this.tickStartedAt === null ? 0 : Date.now() - this.tickStartedAt;
  }

  /**
   * Critical check named after the loop: down while a tick has been running longer than
   * `stuckAfterMs` (every step it takes has a deadline, so a tick that long is stuck), not alive
   * once it has been running `wedgedAfterMs`.
   */
  healthCheck(stuckAfterMs: number, wedgedAfterMs: number): HealthCheck {
    return {
      name: this.options.name,
      critical: true,
      check: async () => (this.busyForMs() > stuckAfterMs ? 'down' : 'up'),
      alive: () => this.busyForMs() < wedgedAfterMs,
    };
  }

  start(): void {
    if (this.running || this.stopped) return;
    this.running = this.run();
  }

  /** Ends the current idle sleep now; remembered when it arrives during a tick. */
  wake(): void {
    if (this.interrupt && this.wakeable) this.interrupt();
    else this.pendingWake = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.interrupt?.();
    await this.running;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let result: TickResult;
      // A wake-up that arrived before this tick is served by it; one arriving during it is kept.
      this.pendingWake = false;
      this.tickStartedAt = Date.now();
      try {
        result = await this.tick();
      } catch (error) {
        this.failures.report(error, { source: 'worker', component: this.options.name });
        result = 'failed';
      } finally {
        this.tickStartedAt = null;
      }
      if (this.stopped) break;
      if (result === 'failed') {
        this.backoff = this.backoff ? this.backoff.next(undefined) : this.failureBackoff.next(undefined);
        await this.sleep(this.backoff.duration, false);
        continue;
      }
      this.backoff = null;
      if (result === 'more') {
        this.idleSinceWork = 0;
        await yieldToEventLoop();
        continue;
      }
      const linger = this.idleSinceWork === null ? undefined : this.options.lingerMs?.[this.idleSinceWork];
      this.idleSinceWork = linger === undefined ? null : this.idleSinceWork! + 1;
      await this.sleep(linger ?? this.options.intervalMs, true);
    }
  }

  private sleep(ms: number, wakeable: boolean): Promise<void> {
    if (wakeable && this.pendingWake) {
      this.pendingWake = false;
      return Promise.resolve();
    }
    this.wakeable = wakeable;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.interrupt = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.interrupt = done;
    });
  }
}
