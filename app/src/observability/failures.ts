import { ServiceUnavailableError } from '../domain/errors';
import type { ErrorTracker } from './error-tracking';
import { IncidentLog, type IncidentLogOptions } from './incidents';
import type { Logger } from './logger';
import { failures, type FailureKind, type FailureSource } from './metrics';

export interface FailureContext {
  source: FailureSource;
  /** The request's id (X-Request-Id), when a request failed. */
  requestId?: string;
  method?: string;
  /** Route template, never the raw path. */
  route?: string;
  /** The worker or component that failed. */
  component?: string;
  /** A deadline passed (the request timeout): an incident, like an unavailable backend. */
  timeout?: boolean;
}

/**
 * Where every failure that reached the top of a request, a worker step or the process is
 * reported, so all of them are logged, counted and tracked by one rule:
 *  - a backend that could not answer (ServiceUnavailableError) or a passed deadline is an
 *    incident: one line when it starts, the count while it lasts and when it ends (IncidentLog),
 *    counted as `unavailable` / `timeout`;
 *  - anything else is a bug: one error line with its stack and request id, counted as `internal`.
 */
export interface FailureReporterOptions extends IncidentLogOptions {
  /** Error tracking (Sentry, when SENTRY_DSN is set): every bug, and one event per incident. */
  tracker?: ErrorTracker | null;
}

export class FailureReporter {
  readonly incidents: IncidentLog;
  private readonly tracker: ErrorTracker | null;

  constructor(
    private readonly logger: Logger,
    options: FailureReporterOptions = {},
  ) {
    this.tracker = options.tracker ?? null;
    const tracker = this.tracker;
    this.incidents = new IncidentLog(logger, {
      ...options,
      onOpen: (key, details) => {
        options.onOpen?.(key, details);
        tracker?.captureIncident(key, details);
      },
    });
  }

  /** The kind `report` files `error` under. */
  static kindOf(error: unknown, context: Pick<FailureContext, 'timeout'> = {}): FailureKind {
    if (error instanceof ServiceUnavailableError) return 'unavailable';
    return context.timeout ? 'timeout' : 'internal';
  }

  report(error: unknown, context: FailureContext): void {
    const kind = FailureReporter.kindOf(error, context);
    failures.inc({ kind, source: context.source });
    if (error instanceof ServiceUnavailableError) {
      this.incidents.record(`${error.dependency} unavailable`, {
        dependency: error.dependency,
        reason: error.reason,
        source: context.source,
      });
      return;
    }
    if (kind === 'timeout') {
      this.incidents.record('requests timing out', { source: context.source, route: context.route });
      return;
    }
    const { source, requestId, method, route, component } = context;
    this.tracker?.captureError(error, { source, requestId, method, route, component });
    this.logger.error(
      { err: error, source, request_id: requestId, method, route, component },
      source === 'http' ? 'request failed' : `${component ?? source} failed`,
    );
  }
}
