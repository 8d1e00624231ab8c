import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from '../observability/logger';

/** more: run again at once; idle: caught up, sleep; failed: back off (wake-ups ignored). */
export type TickResult = 'more' | 'idle' | 'failed';

export interface WorkerLoopOptions {
  name: string;
  intervalMs: number;
  failureDelayMs: number;
  logger: Logger;
}

/**
 * Runs `tick` until stopped: again at once while it reports more work, after `intervalMs` when
 * idle (or sooner on `wake()`), after `failureDelayMs` when it failed. `stop()` lets the tick in
 * flight finish.
 */
export class WorkerLoop {
  private stopped = false;
  private running: Promise<void> | null = null;
  private pendingWake = false;
  private interrupt: (() => void) | null = null;
  private wakeable = false;

  constructor(
    private readonly tick: () => Promise<TickResult>,
    private readonly options: WorkerLoopOptions,
  ) {}

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
      try {
        result = await this.tick();
      } catch (error) {
        this.options.logger.error({ worker: this.options.name, err: (error as Error).message }, 'worker step failed');
        result = 'failed';
      }
      if (this.stopped) break;
      if (result === 'more') {
        await yieldToEventLoop();
        continue;
      }
      await this.sleep(result === 'failed' ? this.options.failureDelayMs : this.options.intervalMs, result === 'idle');
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
