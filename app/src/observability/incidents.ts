import type { Logger } from './logger';

export interface IncidentLogOptions {
  /** An incident is over when nothing was recorded for it this long (default 10 s). */
  quietMs?: number;
  /** While it lasts, a line with the count so far this often (default 30 s). */
  reportEveryMs?: number;
  /** Called once when an incident opens (error tracking sends one event per incident, not per failure). */
  onOpen?(key: string, details: Record<string, unknown>): void;
  now?: () => number;
}

interface Incident {
  since: number;
  lastAt: number;
  count: number;
  reportedCount: number;
  details: Record<string, unknown>;
}

/**
 * One log line per incident, not one per failure: a database outage answered thousands of
 * requests 503 in seconds, each with a stack. `record` opens an incident on its first failure
 * (a warning with the reason), counts the rest, says how many so far every `reportEveryMs` while it
 * lasts, and closes it with the total once `quietMs` pass without a failure.
 */
export class IncidentLog {
  private readonly open = new Map<string, Incident>();
  private timer: NodeJS.Timeout | null = null;
  private readonly quietMs: number;
  private readonly reportEveryMs: number;
  private readonly now: () => number;
  private lastReport = 0;

  constructor(
    private readonly logger: Logger,
    private readonly options: IncidentLogOptions = {},
  ) {
    this.quietMs = options.quietMs ?? 10_000;
    this.reportEveryMs = options.reportEveryMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  /** One failure of incident `key` (e.g. `database unavailable`); `details` of the first one describe it. */
  record(key: string, details: Record<string, unknown> = {}): void {
    const now = this.now();
    const incident = this.open.get(key);
    if (incident) {
      incident.count++;
      incident.lastAt = now;
      return;
    }
    this.open.set(key, { since: now, lastAt: now, count: 1, reportedCount: 0, details });
    this.logger.warn({ incident: key, ...details }, `${key}: failing requests are counted, not logged one by one, until it is over`);
    this.options.onOpen?.(key, details);
    this.schedule();
  }

  /** Open incidents and their counts (tests, and a last line on shutdown). */
  get active(): ReadonlyMap<string, { count: number; since: number }> {
    return this.open;
  }

  /** Closes every open incident with its total (shutdown). */
  flush(): void {
    for (const key of [...this.open.keys()]) this.close(key, this.now());
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.timer) return;
    this.lastReport = this.now();
    this.timer = setInterval(() => this.tick(), Math.max(10, Math.min(this.quietMs, this.reportEveryMs) / 4));
    this.timer.unref();
  }

  private tick(): void {
    const now = this.now();
    const report = now - this.lastReport >= this.reportEveryMs;
    if (report) this.lastReport = now;
    for (const [key, incident] of this.open) {
      if (now - incident.lastAt >= this.quietMs) this.close(key, now);
      else if (report && incident.count > incident.reportedCount) {
        incident.reportedCount = incident.count;
        this.logger.warn(
          { incident: key, failures: incident.count, seconds: Math.round((now - incident.since) / 1000) },
          `${key}: still failing`,
        );
      }
    }
    if (this.open.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private close(key: string, now: number): void {
    const incident = this.open.get(key);
    if (!incident) return;
    this.open.delete(key);
    const lastedSeconds = Math.round((incident.lastAt - incident.since) / 100) / 10;
    this.logger.info(
      { incident: key, failures: incident.count, seconds: lastedSeconds, quietForMs: now - incident.lastAt },
      `${key}: over (${incident.count} failure(s) in ${lastedSeconds} s)`,
    );
  }
}
